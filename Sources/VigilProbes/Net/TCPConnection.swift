import Glibc
import VigilResults

/// A TCP client socket whose every operation is bounded by a deadline.
final class TCPConnection: ByteStream {
    let fd: Int32
    var descriptor: Int32 { fd }
    var certificate: CertificateExpiry? { nil }

    /// Resolves (within the deadline) and connects. The descriptor becomes
    /// this object's only once connected: a failed attempt closes its own
    /// socket, and `deinit` (which runs only for a fully built object) never
    /// closes a number another thread may have been given since.
    /// Each address is tried in turn (an IPv6-first name before an IPv4-only
    /// server, a first address that is down) until one connects or time is up.
    init(host: String, port: Int, deadline: Deadline) throws(ProbeFailure) {
        var failure = ProbeFailure(reason: .dns, detail: "cannot resolve \(host)")
        for var address in try Resolver.resolve(host, port: port, deadline: deadline) where !deadline.hasPassed {
            let socketFD = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard socketFD >= 0 else { throw ProbeFailure(reason: .protocol, detail: "socket: errno \(errno)") }
            do throws(ProbeFailure) {
                try Self.connect(socketFD, to: &address, deadline: deadline)
                fd = socketFD
                return
            } catch {
                close(socketFD)
                failure = error
            }
        }
        throw failure
    }

    private static func connect(_ fd: Int32, to address: inout Resolver.Address, deadline: Deadline) throws(ProbeFailure) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let length = address.length
        let started = withUnsafePointer(to: &address.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        guard started != 0 else { return }
        guard errno == EINPROGRESS else { throw connectFailure(errno) }
        guard deadline.wait(fd: fd, for: Int16(POLLOUT)) else {
            throw ProbeFailure(reason: .timeout, detail: "connect did not complete in time")
        }
        var error: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size)
        if error != 0 { throw connectFailure(error) }
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8], deadline: Deadline) throws(ProbeFailure) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent > 0 { offset += sent; continue }
            guard sent < 0, errno == EAGAIN || errno == EINTR else {
                throw ProbeFailure(reason: .protocol, detail: "connection lost while sending")
            }
            guard deadline.wait(fd: fd, for: Int16(POLLOUT)) else {
                throw ProbeFailure(reason: .timeout, detail: "send did not complete in time")
            }
        }
    }

    /// Reads whatever is available (at least one byte) before the deadline.
    func read(into buffer: inout [UInt8], deadline: Deadline) throws(ProbeFailure) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got > 0 { buffer.append(contentsOf: chunk[..<got]); return }
            if got == 0 { throw ProbeFailure(reason: .protocol, detail: "server closed the connection") }
            guard errno == EAGAIN || errno == EINTR else {
                throw ProbeFailure(reason: .protocol, detail: "connection lost while reading")
            }
            guard deadline.wait(fd: fd, for: Int16(POLLIN)) else {
                throw ProbeFailure(reason: .timeout, detail: "no answer in time")
            }
        }
    }

    private static func connectFailure(_ code: Int32) -> ProbeFailure {
        switch code {
        case ECONNREFUSED: ProbeFailure(reason: .refused, detail: "connection refused")
        case ETIMEDOUT: ProbeFailure(reason: .timeout, detail: "connect timed out")
        default: ProbeFailure(reason: .refused, detail: "connect failed: errno \(code)")
        }
    }
}
