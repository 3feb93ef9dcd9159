// Text forms of probe settings that the configuration checks and the
// probe kinds use: parsed by one rule on both sides.

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
