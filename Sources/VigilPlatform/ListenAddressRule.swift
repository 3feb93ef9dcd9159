#if canImport(Glibc)
import Glibc
#endif

/// Whether a listen address can be listened on: one rule for the
/// configuration's check (`vigil config check`, `serve` at start, exit 78)
/// and the HTTP server's parse, so the check accepts exactly what serves.
public enum ListenAddressRule {
    /// What a listen address names.
    public enum Target: Sendable, Equatable {
        case unixSocket(path: String)
        case host(HostPort)
    }

    /// Why an address cannot be listened on.
    public struct Problem: Error, Sendable {
        public var why: String
    }

    /// `text` parsed and its host resolved. `forms` names what is expected
    /// (`HOST:PORT or :PORT`); `unixSocket` also allows `unix:/PATH`.
    public static func parse(_ text: String, forms: String, unixSocket: Bool) throws(Problem) -> Target {
        if unixSocket && text.hasPrefix(UnixSocketAddress.prefix) {
            guard let path = UnixSocketAddress.path(text) else { throw Problem(why: UnixSocketAddress.expected) }
            return .unixSocket(path: path)
        }
        if text.contains("://") {
            throw Problem(why: "a listen address has no scheme (TLS comes from web.config_file): expected \(forms), e.g. 127.0.0.1:9731")
        }
        guard text.contains(":"), let address = HostPort(text), (0...65_535).contains(address.port) else {
            throw Problem(why: "expected \(forms) with a port from 0 to 65535")
        }
        guard resolves(address.host) else {
            throw Problem(why: "cannot resolve host \"\(address.host)\": use an address of this machine, a name it resolves, or none (:PORT)")
        }
        return .host(address)
    }

    /// As the server will look it up: passive, only families this host has.
    private static func resolves(_ host: String) -> Bool {
        guard !host.isEmpty else { return true }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_ADDRCONFIG
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, "0", &hints, &result)
        if status == 0 { freeaddrinfo(result) }
        return status == 0
    }
}
