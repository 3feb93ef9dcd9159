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

/// `${secret:<item>.<key>}` references in a header value.
public enum SecretReference {
    /// The parts of `text`: literal text, or a reference (item, key).
    public enum Part: Equatable, Sendable {
        case text(String)
        case reference(item: String, key: String)
    }

    public static func parts(_ text: String) -> [Part] {
        var parts: [Part] = []
        var rest = Substring(text)
        while let start = rest.firstRange(of: "${secret:"), let end = rest[start.upperBound...].firstIndex(of: "}") {
            let body = rest[start.upperBound..<end]
            if !rest[..<start.lowerBound].isEmpty { parts.append(.text(String(rest[..<start.lowerBound]))) }
            if let dot = body.firstIndex(of: "."), dot != body.startIndex, body.index(after: dot) != body.endIndex {
                parts.append(.reference(item: String(body[..<dot]), key: String(body[body.index(after: dot)...])))
            } else {
                parts.append(.text(String(rest[start.lowerBound...end])))
            }
            rest = rest[rest.index(after: end)...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        return parts
    }

    public static func items(in text: String) -> [String] {
        parts(text).compactMap { if case .reference(let item, _) = $0 { item } else { nil } }
    }
}
