import Glibc

/// A TCP peer that completes handshakes (the kernel does, up to the
/// backlog) and never reads or answers: the worst kind of dead dependency.
public final class Blackhole {
    private let fd: Int32
    public let port: Int

    public init() throws {
        (fd, port) = try bindLoopback(listening: true)
    }

    deinit { close(fd) }

    /// A loopback port nothing listens on (bound, then closed again).
    public static func closedPort() throws -> Int {
        let (fd, port) = try bindLoopback(listening: false)
        close(fd)
        return port
    }
}

public struct SocketFailure: Error {}

/// A TCP socket bound to 127.0.0.1 on a free port.
private func bindLoopback(listening: Bool) throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0,
                              sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && (!listening || listen(fd, 16) == 0) && getsockname(fd, $0, &length) == 0
        }
    }
    guard ok else { close(fd); throw SocketFailure() }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}
