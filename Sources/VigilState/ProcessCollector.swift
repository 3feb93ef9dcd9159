import Glibc
import Prometheus
import Synchronization
import VigilPlatform

/// The standard `process_*` metrics, read from /proc at scrape time, as the
/// Prometheus client libraries of other languages export them.
final class ProcessCollector: MetricsCollector {
    private let cpu: Counter
    private let resident, virtual, openFDs, maxFDs, startTime: Gauge
    /// CPU seconds already added to the counter (the counter only goes up).
    private let reportedCPU = Mutex<Double>(0)
    private let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    private let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))

    init(registry: PrometheusCollectorRegistry) {
        cpu = registry.makeCounter(descriptor: .named("process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds."))
        resident = registry.makeGauge(descriptor: .named("process_resident_memory_bytes", help: "Resident memory size in bytes."))
        virtual = registry.makeGauge(descriptor: .named("process_virtual_memory_bytes", help: "Virtual memory size in bytes."))
        openFDs = registry.makeGauge(descriptor: .named("process_open_fds", help: "Number of open file descriptors."))
        maxFDs = registry.makeGauge(descriptor: .named("process_max_fds", help: "Maximum number of open file descriptors."))
        startTime = registry.makeGauge(descriptor: .named("process_start_time_seconds", help: "Start time of the process since unix epoch in seconds."))
        recordStartTime()
        collect()
    }

    func collect() {
        if let stat = Self.statFields() {
            let cpuSeconds = (stat.userTicks + stat.systemTicks) / ticksPerSecond
            let delta = reportedCPU.withLock { reported -> Double in
                let delta = max(0, cpuSeconds - reported)
                reported += delta
                return delta
            }
            if delta > 0 { cpu.increment(by: delta) }
            virtual.set(stat.virtualBytes)
            resident.set(stat.residentPages * pageSize)
        }
        openFDs.set(Double(Self.countOpenFDs()))
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.set(Double(limit.rlim_cur)) }
    }

    /// The start time never changes: computed once, from boot time and the
    /// start tick in /proc/self/stat.
    private func recordStartTime() {
        guard let stat = Self.statFields(),
              let boot = (try? readTextFile("/proc/stat", limit: 1 << 20))?.split(separator: "\n").first(where: { $0.hasPrefix("btime ") })
                .flatMap({ Double($0.dropFirst(6)) }) else { return }
        startTime.set(boot + stat.startTicks / ticksPerSecond)
    }

    private struct Stat {
        var userTicks, systemTicks, startTicks, virtualBytes, residentPages: Double
    }

    /// Parses /proc/self/stat by bytes (it is read on every scrape). Fields
    /// are counted after the `)` closing the command name, state being the
    /// first: proc(5)'s field N is index N-3.
    private static func statFields() -> Stat? {
        guard let text = try? readTextFile("/proc/self/stat", limit: 4096) else { return nil }
        let bytes = text.utf8
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = bytes[bytes.index(close, offsetBy: 2)...].split(separator: UInt8(ascii: " "), maxSplits: 23)
        guard fields.count > 21 else { return nil }
        func number(_ index: Int) -> Double {
            fields[index].reduce(0.0) { $0 * 10 + Double($1 &- UInt8(ascii: "0")) }
        }
        return Stat(userTicks: number(11), systemTicks: number(12), startTicks: number(19),
                    virtualBytes: number(20), residentPages: number(21))
    }

    private static func countOpenFDs() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        var count = -1  // the descriptor opendir itself holds
        while let entry = readdir(dir) {
            if entry.pointee.d_name.0 != UInt8(ascii: ".") { count += 1 }
        }
        return max(count, 0)
    }
}
