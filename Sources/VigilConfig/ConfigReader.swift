import VigilPlatform

/// Reads typed values out of a `RawConfig`, collecting every problem
/// instead of stopping at the first.
struct ConfigReader {
    let raw: RawConfig
    let schema: Schema
    private(set) var problems: [ConfigProblem]

    init(raw: RawConfig, schema: Schema) {
        (self.raw, self.schema) = (raw, schema)
        problems = raw.problems
        for (key, entry) in raw.entries.sorted(by: { $0.key < $1.key }) {
            if !schema.isKnown(key) {
                problems.append(ConfigProblem(key: key, origin: entry.origin, message: "unknown key" + NearestName.hint(key, among: schema.candidates(for: key))))
            } else if entry.isList && !schema.setting(key).isList {
                problems.append(ConfigProblem(key: key, origin: entry.origin, message: "expected a single value, not a list"))
            }
        }
    }

    /// The effective text of a key: the highest layer that set it, else the default.
    func text(_ key: String) -> String { raw.entries[key]?.value ?? schema.setting(key).defaultValue }

    func isSet(_ key: String) -> Bool { raw.entries[key] != nil }

    mutating func string(_ key: String) -> String { text(key) }

    /// A list key's entries (comma-separated in a variable), trimmed, empty ones dropped.
    func list(_ key: String) -> [String] {
        text(key).split(separator: ",").map(\.trimmed).filter { !$0.isEmpty }
    }

    /// A map key's entries (`KEY.NAME: VALUE` for a `KEY.*` setting), by name.
    func map(_ key: String) -> [(name: String, value: String)] {
        raw.entries.keys.filter { $0.hasPrefix(key + ".") }.sorted().map { (name: String($0.dropFirst(key.count + 1)), value: text($0)) }
    }

    /// nil when empty.
    mutating func optional(_ key: String) -> String? { text(key).isEmpty ? nil : text(key) }

    mutating func int(_ key: String, in range: ClosedRange<Int>) -> Int {
        read(key, expected: "an integer from \(range.lowerBound) to \(range.upperBound)") { text in
            Int(text).flatMap { range.contains($0) ? $0 : nil }
        } ?? range.lowerBound
    }

    mutating func ratio(_ key: String) -> Double {
        read(key, expected: "a number from 0 to 1") { Double($0).flatMap { (0...1).contains($0) ? $0 : nil } } ?? 0
    }

    mutating func bool(_ key: String) -> Bool {
        read(key, expected: "true or false") { ["true": true, "false": false][$0.lowercased()] } ?? false
    }

    /// Durations past `atMost` (by default a year) are refused: larger
    /// ones would overflow the integer seconds C libraries take.
    mutating func duration(_ key: String, atLeast minimum: Duration = .zero, atMost maximum: Duration = .seconds(366 * 86_400)) -> Duration {
        read(key, expected: "a duration from \(DurationParser.format(minimum)) to \(DurationParser.format(maximum)), such as 15s, 1m or 1h") { text in
            DurationParser.parse(text).flatMap { $0 >= minimum && $0 <= maximum ? $0 : nil }
        } ?? .seconds(1)
    }

    /// A duration that falls back to another key when left empty.
    mutating func duration(_ key: String, inheriting parent: Duration) -> Duration {
        text(key).isEmpty ? parent : duration(key, atLeast: .milliseconds(1))
    }

    mutating func choice<T>(_ key: String, _ choices: [String: T]) -> T {
        let names = choices.keys.sorted().joined(separator: ", ")
        return read(key, expected: "one of \(names)") { choices[$0] } ?? choices.values.first!
    }

    /// The text of `key` checked (empty passes: required settings are checked apart).
    @discardableResult
    mutating func checked(_ key: String, _ check: ValueCheck) -> String {
        let value = text(key)
        guard !value.isEmpty else { return value }
        return read(key, expected: check.expected) { check.accepts($0) ? $0 : nil } ?? value
    }

    /// A listen address as `serve` will bind it: `forms` names what the key accepts.
    mutating func checkListenAddress(_ key: String, _ address: String, forms: String, unixSocket: Bool = false) {
        do throws(ListenAddressRule.Problem) {
            _ = try ListenAddressRule.parse(address, forms: forms, unixSocket: unixSocket)
        } catch {
            problems.append(ConfigProblem(key: key, origin: raw.entries[key]?.origin, message: "invalid address \"\(address)\": \(error.why)"))
        }
    }

    mutating func check(_ key: String, _ condition: Bool, _ message: String) {
        if !condition { problems.append(ConfigProblem(key: key, origin: raw.entries[key]?.origin, message: message)) }
    }

    private mutating func read<T>(_ key: String, expected: String, _ parse: (String) -> T?) -> T? {
        let value = text(key)
        if let parsed = parse(value) { return parsed }
        problems.append(ConfigProblem(key: key, origin: raw.entries[key]?.origin,
                                      message: "invalid value \"\(value)\": expected \(expected)"))
        return nil
    }
}
