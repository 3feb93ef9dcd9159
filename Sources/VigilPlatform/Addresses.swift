// Address forms that the configuration (to check them), the probes, the
// HTTP server and the AWS metrics (to use them) read alike.

/// `HOST:PORT`, split at the last colon, an IPv6 host in brackets
/// (`[::1]:9187`) given without them; the port as written (callers check
/// its range). nil without a colon or with a port that is not a number.
public struct HostPort: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        self.init(host: String(host), port: port)
    }

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, an IPv6 host in brackets.
    public var text: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// `unix:/PATH`, a Unix socket listen address: the configuration checks it,
/// the HTTP server binds it, by the same rule.
public enum UnixSocketAddress {
    public static let prefix = "unix:"
    /// `sockaddr_un`'s room for a path, less its terminating NUL.
    public static let maxPathBytes = 107
    public static let expected = "expected unix: and an absolute path of at most \(maxPathBytes) bytes"

    /// The absolute path of `unix:/PATH`, or nil when `text` is not one that fits.
    public static func path(_ text: String) -> String? {
        guard text.hasPrefix(prefix) else { return nil }
        let path = String(text.dropFirst(prefix.count))
        return path.hasPrefix("/") && path.utf8.count <= maxPathBytes ? path : nil
    }
}

/// A URL cut where its authority starts and ends, without the user info
/// (`user:password@`, where a credential can be): what labels and logs may
/// show of an endpoint or a target.
public struct URLParts: Sendable {
    public var scheme: Substring
    /// Host and port.
    public var authority: Substring
    /// Path, query and fragment.
    public var rest: Substring

    /// nil without `scheme://`.
    public init?(_ url: String) {
        guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else { return nil }
        scheme = url[..<colon]
        let tail = url[url.index(colon, offsetBy: 3)...]
        let end = tail.firstIndex { "/?#".contains($0) } ?? tail.endIndex
        authority = tail[..<end]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        rest = tail[end...]
    }

    public var withoutUserInfo: String { "\(scheme)://\(authority)\(rest)" }
}
