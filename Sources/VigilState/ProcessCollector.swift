import Glibc
import Prometheus
import Synchronization

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
        collect()
    }

    func collect() {
        if let stat = Self.statFields() {
            // Fields after the command name: state is index 0, so field N (1-based in proc(5)) is N-3.
            let cpuSeconds = (Double(stat[11]) ?? 0) / ticksPerSecond + (Double(stat[12]) ?? 0) / ticksPerSecond
            let delta = reportedCPU.withLock { reported -> Double in
                let delta = max(0, cpuSeconds - reported)
                reported += delta
                return delta
            }
            if delta > 0 { cpu.increment(by: delta) }
            virtual.set(Double(stat[20]) ?? 0)
            resident.set((Double(stat[21]) ?? 0) * pageSize)
            if let boot = Self.bootTime() { startTime.set(boot + (Double(stat[19]) ?? 0) / ticksPerSecond) }
        }
        openFDs.set(Double(Self.countOpenFDs()))
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.set(Double(limit.rlim_cur)) }
    }

    private static func statFields() -> [Substring]? {
        guard let text = readSmallFile("/proc/self/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(close, offsetBy: 2)...].split(separator: " ")
        return fields.count > 21 ? fields : nil
    }

    private static func bootTime() -> Double? {
        readSmallFile("/proc/stat")?.split(separator: "\n").first { $0.hasPrefix("btime ") }
            .flatMap { Double($0.dropFirst(6)) }
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

/// Reads a /proc file (size 0 in stat(2), so read until EOF) of up to 16 KB.
func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 16 * 1024)
    var length = 0
    while length < buffer.count {
        let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + length, $0.count - length) }
        if got <= 0 { break }
        length += got
    }
    return String(decoding: buffer[..<length], as: UTF8.self)
}
