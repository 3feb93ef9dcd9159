/// Durations as Prometheus writes them: `500ms`, `15s`, `1m30s`, `1h`, `1d`.
public enum DurationParser {
    private static let units: [(suffix: String, seconds: Double)] = [
        ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800),
    ]

    /// Returns nil for anything that is not one or more `<integer><unit>` groups.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let value = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.suffix) }) else { return nil }
            rest = rest.dropFirst(unit.suffix.count)
            total += value * unit.seconds
        }
        // Past Int64 milliseconds (~292 million years) the conversion traps: such a value is invalid, not a crash.
        guard total * 1000 < 9e18 else { return nil }
        return .milliseconds(Int64((total * 1000).rounded()))
    }

    /// The shortest exact spelling, for docs and `vigil config check`.
    public static func format(_ duration: Duration) -> String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        for (suffix, seconds) in units.reversed() {
            let unitMs = Int64(seconds * 1000)
            if ms != 0 && ms % unitMs == 0 { return "\(ms / unitMs)\(suffix)" }
        }
        return "0s"
    }
}
