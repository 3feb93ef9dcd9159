// Text forms of probe settings that both the configuration (to check them)
// and the probes (to use them) read.

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

/// HTTP statuses that count as up: `200`, `200-299`, `200,301-302`.
public struct StatusRanges: Sendable, Equatable {
    public var ranges: [ClosedRange<Int>]

    public init?(_ text: String) {
        var ranges: [ClosedRange<Int>] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.filter { $0 != " " }.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            guard (1...2).contains(bounds.count), let low = bounds.first ?? nil, let high = bounds.last ?? nil,
                  100 <= low, low <= high, high <= 599 else { return nil }
            ranges.append(low...high)
        }
        self.ranges = ranges
    }

    public func contains(_ status: Int) -> Bool { ranges.contains { $0.contains(status) } }
}

/// `${secret:<item>.<key>}` references in a header value, and
/// `${secret:<key>}`, a key of the target's own secret (its `secret`).
public enum SecretReference {
    /// The parts of `text`: literal text, or a reference (item, key).
    public enum Part: Equatable, Sendable {
        case text(String)
        case reference(item: String, key: String)
    }

    /// `ownItem` is the target's own secret; without one, `${secret:<key>}`
    /// becomes a reference to the item "" (which the configuration refuses).
    public static func parts(_ text: String, ownItem: String? = nil) -> [Part] {
        var parts: [Part] = []
        var rest = Substring(text)
        while let start = rest.firstRange(of: "${secret:"), let end = rest[start.upperBound...].firstIndex(of: "}") {
            if !rest[..<start.lowerBound].isEmpty { parts.append(.text(String(rest[..<start.lowerBound]))) }
            parts.append(reference(rest[start.upperBound..<end], ownItem: ownItem) ?? .text(String(rest[start.lowerBound...end])))
            rest = rest[rest.index(after: end)...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        return parts
    }

    /// `item.key` or `key`; nil for an empty item or key.
    private static func reference(_ body: Substring, ownItem: String?) -> Part? {
        guard let dot = body.firstIndex(of: ".") else { return body.isEmpty ? nil : .reference(item: ownItem ?? "", key: String(body)) }
        let item = body[..<dot], key = body[body.index(after: dot)...]
        return item.isEmpty || key.isEmpty ? nil : .reference(item: String(item), key: String(key))
    }

    public static func items(in text: String, ownItem: String? = nil) -> [String] {
        parts(text, ownItem: ownItem).compactMap { if case .reference(let item, _) = $0 { item } else { nil } }
    }
}
