internal import CLinux
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's open-file limit, and how many HTTP connections fit in it.
/// With the usual soft limit of 1024, a thousand idle clients used to take
/// every descriptor, and then the probes' own `socket()` failed with EMFILE:
/// healthy backends were reported down.
package enum OpenFileLimit {
    /// Descriptors kept for everything but HTTP connections: probe sockets,
    /// libpq, libcurl, DNS lookups, logs, the listening socket.
    package static let reserve = 128

    /// Raises the soft limit to the hard one (as Go programs do at start) and
    /// returns the soft limit now in force.
    @discardableResult
    package static func raise() -> Int {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(RLIMIT_NOFILE_VALUE, &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// HTTP connections that fit beside the reserve under the current limit.
    package static var connectionBudget: Int {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return 1024 - reserve }
        return max(16, Int(clamping: limit.rlim_cur) - reserve)
    }
}

#if canImport(Glibc)
private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#else
private let RLIMIT_NOFILE_VALUE = RLIMIT_NOFILE
#endif

/// Core dumps of a process holding secrets would write them to disk: off.
package enum CoreDumps {
    /// Disables core files and marks the process non-dumpable; false if the kernel refused.
    @discardableResult
    package static func disable() -> Bool { vigil_disable_core_dumps() == 0 }
}
