import Foundation
import Synchronization

/// A TCP peer that completes handshakes (the kernel does, up to the
/// backlog) and never reads or answers: the worst kind of dead dependency.
public final class Blackhole {
    private let fd: Int32
    public let port: Int

    public init() throws {
        (fd, port) = try bindLoopback(listening: true)
    }

    deinit { close(fd) }

    /// A loopback port nothing listens on, which neither the kernel nor
    /// another test hands out: for a server a test starts, and may stop and
    /// start again, itself, or as a port that refuses. It lies below the
    /// kernel's ephemeral range, since a port inside it can become the local
    /// port of any outgoing connection or `bind(0)` listener meanwhile (CI saw
    /// a private PostgreSQL fail to come back that way); a process-wide
    /// counter keeps two tests apart.
    public static func freePort() throws -> Int {
        let low = ephemeralLow
        let span = max(1, min(10_000, low - 1_024))
        for _ in 0..<64 {
            let offset = (Int(getpid()) &* 7_919 &+ nextPort.wrappingAdd(1, ordering: .relaxed).oldValue) % span
            if let bound = try? bindLoopback(listening: false, port: low - 1 - offset) {
                close(bound.fd)
                return bound.port
            }
        }
        throw SocketFailure()
    }

    private static let nextPort = Atomic<Int>(0)

    private static let ephemeralLow: Int = {
        let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return range.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
    }()
}

public struct SocketFailure: Error {}

/// A TCP socket bound to 127.0.0.1 on `port`, or on a free one for 0.
private func bindLoopback(listening: Bool, port: Int = 0) throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: UInt16(port).bigEndian,
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
