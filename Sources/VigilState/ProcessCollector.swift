import Glibc
import Prometheus
import VigilPlatform

/// The standard `process_*` metrics, read at scrape time, as the Prometheus
/// client libraries of other languages export them.
///
/// Every uncached scrape pays for this, so each figure comes from its
/// cheapest source (perf, 2026-11): CPU from getrusage, memory from
/// /proc/self/statm kept open and re-read with pread, descriptors from the
/// size of /proc/self/fd, kept open too (fstat, no path walk). Reading /proc/self/stat (the kernel walks the
/// task for 52 fields) and listing /proc/self/fd had cost ~25 us a scrape.
final class ProcessCollector: MetricsCollector {
    private let cpu: Counter
    private let resident, virtual, openFDs, maxFDs, startTime: Gauge
    /// CPU seconds already added to the counter (the counter only goes up).
    private let reportedCPU = Locked<Double>(0)
    private let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
    private let statmFD = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
    private let fdDirectory = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC)

    init(registry: PrometheusCollectorRegistry) {
        cpu = registry.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.")
        resident = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
        virtual = registry.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.")
        openFDs = registry.gauge("process_open_fds", "Number of open file descriptors.")
        maxFDs = registry.gauge("process_max_fds", "Maximum number of open file descriptors.")
        startTime = registry.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
        if let start = Self.startTime() { startTime.set(start) }
        collect()
    }

    deinit {
        for fd in [statmFD, fdDirectory] where fd >= 0 { close(fd) }
    }

    func collect() {
        var usage = rusage()
        if getrusage(Int32(RUSAGE_SELF.rawValue), &usage) == 0 {
            let cpuSeconds = usage.ru_utime.seconds + usage.ru_stime.seconds
            let delta = reportedCPU.withLock { reported -> Double in
                let delta = max(0, cpuSeconds - reported)
                reported += delta
                return delta
            }
            if delta > 0 { cpu.increment(by: delta) }
        }
        if let pages = statmPages() {
            virtual.set(pages.size * pageSize)
            resident.set(pages.resident * pageSize)
        }
        openFDs.set(Double(countOpenFDs()))
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.set(Double(limit.rlim_cur)) }
    }

    /// The first two fields of /proc/self/statm: total and resident pages.
    private func statmPages() -> (size: Double, resident: Double)? {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { buffer in
            let count = pread(statmFD, buffer.baseAddress, buffer.count, 0)
            guard count > 0 else { return nil }
            let fields = buffer[..<count].split(separator: UInt8(ascii: " "), maxSplits: 2)
            guard fields.count > 2 else { return nil }
            func number(_ digits: Slice<UnsafeMutableBufferPointer<UInt8>>) -> Double {
                digits.reduce(0.0) { $0 * 10 + Double($1 &- UInt8(ascii: "0")) }
            }
            return (number(fields[0]), number(fields[1]))
        }
    }

    /// Computed once, from boot time and the start tick in /proc/self/stat
    /// (proc(5) field 22, counted after the `)` closing the command name).
    private static func startTime() -> Double? {
        guard let stat = try? readTextFile("/proc/self/stat", limit: 4096),
              let close = stat.lastIndex(of: ")"),
              let boot = (try? readTextFile("/proc/stat", limit: 1 << 20))?.split(separator: "\n")
                .first(where: { $0.hasPrefix("btime ") }).flatMap({ Double($0.dropFirst(6)) }) else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]) else { return nil }
        return boot + ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Linux 6.2 and later report the number of open descriptors as the
    /// size of /proc/self/fd: one stat instead of listing the directory
    /// (~12 us a scrape). Older kernels say 0 there.
    private func countOpenFDs() -> Int {
        var info = stat()
        if fstat(fdDirectory, &info) == 0, info.st_size > 0 { return Int(info.st_size) }
        guard let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        var count = -1  // opendir's own, which is gone again; fdDirectory is open for good, and counted as above
        while let entry = readdir(dir) {
            if entry.pointee.d_name.0 != UInt8(ascii: ".") { count += 1 }
        }
        return max(count, 0)
    }
}

extension timeval {
    fileprivate var seconds: Double { Double(tv_sec) + Double(tv_usec) / 1e6 }
}
