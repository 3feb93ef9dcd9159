#if canImport(Glibc)
import Glibc
#endif

/// systemd's notification protocol (sd_notify(3)) without libsystemd: one
/// datagram per message to the AF_UNIX socket named in `NOTIFY_SOCKET`
/// (a leading `@` means the abstract namespace). Without the variable
/// (not started by systemd with `Type=notify`) every call is a no-op.
package struct SystemdNotifier: Sendable {
    private let path: [UInt8]?
    /// Half of `WATCHDOG_USEC`, the pace systemd asks keep-alives at; nil without a watchdog.
    package let watchdogInterval: Duration?

    package init(environment: [String: String]) {
        path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty || $0.utf8.count > 107 ? nil : Array($0.utf8) }
        watchdogInterval = environment["WATCHDOG_USEC"].flatMap(Int64.init).flatMap { $0 > 0 ? .microseconds($0 / 2) : nil }
    }

    /// Sends `READY=1`, `WATCHDOG=1`, `STOPPING=1`, `STATUS=...`; false if it could not.
    @discardableResult
    package func notify(_ message: String) -> Bool {
        guard let path else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let name = path.first == UInt8(ascii: "@") ? [0] + path.dropFirst() : path
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: name) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + name.count)
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                sendto(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL), target, length)
            }
        }
        return sent == bytes.count
    }
}
