#if canImport(Glibc)
import Glibc
#endif
import VigilPlatform

/// A `host:port` listen address as node_exporter's `--web.listen-address`
/// takes it: `:9187` (all IPv4 interfaces), `127.0.0.1:9187`, `[::1]:9187`,
/// `localhost:0` (port 0 picks a free port).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public init(parsing text: String) throws(HTTPServerError) {
        guard text.contains(":") else { throw .invalidAddress(text, "expected host:port, e.g. :9187 or 127.0.0.1:9187") }
        guard let address = HostPort(text), let port = UInt16(exactly: address.port) else {
            throw .invalidAddress(text, "port must be a number from 0 to 65535")
        }
        self.init(host: address.host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Resolves the host into a socket address (numeric or by name) and
    /// calls `body` with it.
    func withSocketAddress<T>(_ body: (UnsafePointer<sockaddr>) throws(HTTPServerError) -> T) throws(HTTPServerError) -> T {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_ADDRCONFIG
        var result: UnsafeMutablePointer<addrinfo>?
        let node: String? = host.isEmpty ? nil : host
        let status = getaddrinfo(node, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw .invalidAddress(description, "cannot resolve host")
        }
        defer { freeaddrinfo(result) }
        // Prefer IPv4 for the unspecified host, as node_exporter's ":port" does.
        var chosen = first
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if entry.pointee.ai_family == AF_INET { chosen = entry; break }
            cursor = entry.pointee.ai_next
        }
        return try body(chosen.pointee.ai_addr)
    }
}

public enum HTTPServerError: Error, Equatable, CustomStringConvertible {
    case invalidAddress(String, String)
    case cannotListen(String)

    public var description: String {
        switch self {
        case .invalidAddress(let address, let why): "invalid listen address \"\(address)\": \(why)"
        case .cannotListen(let address): "cannot listen on \(address) (address in use or not permitted)"
        }
    }
}
