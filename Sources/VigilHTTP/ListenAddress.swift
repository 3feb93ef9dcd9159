#if canImport(Glibc)
import Glibc
#endif
import VigilPlatform

/// A `host:port` listen address as node_exporter's `--web.listen-address`
/// takes it: `:9187` (every interface, IPv4 and IPv6), `127.0.0.1:9187`, `[::1]:9187`,
/// `localhost:0` (port 0 picks a free port); or `unix:/absolute/path`, a Unix
/// socket whose file mode (0660) and directory decide who may connect.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    /// A Unix socket's path instead of a host and port.
    public var unixPath: String?

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public init(unixPath: String) {
        self.init(host: "", port: 0)
        self.unixPath = unixPath
    }

    public init(parsing text: String) throws(HTTPServerError) {
        do throws(ListenAddressRule.Problem) {
            switch try ListenAddressRule.parse(text, forms: "HOST:PORT, :PORT or unix:/PATH", unixSocket: true) {
            case .unixSocket(let path): self.init(unixPath: path)
            case .host(let address): self.init(host: address.host, port: UInt16(address.port))
            }
        } catch {
            throw .invalidAddress(text, error.why)
        }
    }

    public var description: String {
        if let unixPath { return "unix:" + unixPath }
        return HostPort(host: host, port: Int(port)).text
    }

    /// Resolves the host into a socket address (numeric or by name) and
    /// calls `body` with it. `dualStack` with the unspecified host gives
    /// `[::]`, which a dual-stack socket serves IPv4 on too (as Go's `:port`
    /// does); without it, IPv4's `0.0.0.0`, for hosts without IPv6.
    func withSocketAddress<T>(dualStack: Bool = false,
                              _ body: (UnsafePointer<sockaddr>) throws(HTTPServerError) -> T) throws(HTTPServerError) -> T {
        if host.isEmpty && dualStack {
            var any = sockaddr_in6()
            any.sin6_family = sa_family_t(AF_INET6)
            any.sin6_port = port.bigEndian
            any.sin6_addr = in6addr_any
            return try withUnsafePointer(to: &any) { pointer throws(HTTPServerError) in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(HTTPServerError) in try body(address) }
            }
        }
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
        // IPv4 for the unspecified host (the dual-stack attempt came first).
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
    case cannotStart(String)
    case needsRestart(String)
    /// GnuTLS refused part of the TLS settings: which, and its error name.
    case badTLSMaterial(String)

    public var description: String {
        switch self {
        case .invalidAddress(let address, let why): "invalid listen address \"\(address)\": \(why)"
        case .cannotListen(let address): "cannot listen on \(address) (address in use or not permitted)"
        case .cannotStart(let address):
            // TLS material is checked before any daemon starts (`badTLSMaterial`).
            "cannot serve on \(address): libmicrohttpd could not start (threads, descriptors or memory refused)"
        case .needsRestart(let what): "\(what) needs a restart"
        case .badTLSMaterial(let why): "TLS settings refused by GnuTLS: \(why)"
        }
    }
}
