import VigilPlatform

/// The configuration as layered key/value pairs before typing: the YAML file,
/// then `VIGIL_<SECTION>_<KEY>` environment variables, then flags, each
/// layer overriding the one before. Keys are dotted paths (`web.listen_address`).
public struct RawConfig: Sendable {
    public struct Entry: Sendable, Equatable {
        public var value: String
        /// `file.yml:12`, `env VIGIL_WEB_LISTEN_ADDRESS` or `flag --web.listen-address`.
        public var origin: String
        /// Written as a YAML list (the value is then comma-joined).
        public var isList = false
    }

    public private(set) var entries: [String: Entry] = [:]
    /// Structural problems found while reading (bad YAML, lists, ...).
    public private(set) var problems: [ConfigProblem] = []
    /// Keys the file wrote with nothing under them (`stripe: {}`, `stripe:`):
    /// an item or target that takes every default still exists.
    private var emptyKeys: Set<String> = []

    public init() {}

    /// Reads a YAML file as UTF-8 text (at most 1 MB); the problem says why not.
    public static func readText(_ path: String, describing what: String) throws(ConfigError) -> String {
        do throws(FileReadError) {
            return try readTextFile(path, limit: 1 << 20)
        } catch {
            throw ConfigError(problems: [ConfigProblem(key: "(file)", origin: path, message: "cannot read the \(what): \(error)")])
        }
    }

    /// Adds the scalars of a YAML document. Mappings nest key paths; a
    /// list or a YAML syntax error is a problem, not a crash.
    public mutating func addYAML(_ text: String, file: String) {
        do throws(YAMLNode.SyntaxError) {
            guard let root = try YAMLNode.parse(text), !root.isNull else { return }  // empty file or `---` alone
            flatten(root, path: "", file: file)
        } catch {
            problems.append(ConfigProblem(key: "(document)", origin: "\(file):\(error.line)",
                                          message: "YAML syntax error: \(error)"))
        }
    }

    /// Adds `VIGIL_<PATH>` variables for the known keys (dots and hyphens
    /// become underscores, upper-cased).
    public mutating func addEnvironment(_ environment: [String: String], knownKeys: [String]) {
        for key in knownKeys {
            let name = Self.environmentName(for: key)
            if let value = environment[name] { entries[key] = Entry(value: value, origin: "env \(name)") }
        }
    }

    /// Adds `VIGIL_PROBES_<TARGET>_<SETTING>` for any target name
    /// (`VIGIL_PROBES_REPLICA_TIMEOUT`, `VIGIL_PROBES_READ_REPLICA_CA_FILE`):
    /// the setting is matched at the end, longest name first.
    public mutating func addProbeEnvironment(_ environment: [String: String], settings: [String]) {
        let suffixes = settings.map { (setting: $0, suffix: "_" + Self.environmentName(for: $0).dropFirst("VIGIL_".count)) }
            .sorted { $0.suffix.count > $1.suffix.count }
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("VIGIL_PROBES_") {
            let rest = name.dropFirst("VIGIL_PROBES_".count)
            guard let match = suffixes.first(where: { rest.hasSuffix($0.suffix) && rest.count > $0.suffix.count }) else { continue }
            let target = rest.dropLast(match.suffix.count).lowercased()
            entries["probes.\(target).\(match.setting)"] = Entry(value: value, origin: "env \(name)")
        }
    }

    public mutating func set(_ key: String, _ value: String, origin: String) {
        entries[key] = Entry(value: value, origin: origin)
    }

    /// The names N of the `<prefix>.N.<setting>` keys and of `<prefix>.N`
    /// written empty: `secrets.items` -> the configured items.
    func names(under prefix: String) -> Set<String> {
        let depth = prefix.split(separator: ".").count
        let settings: [[Substring]] = entries.keys.map { $0.split(separator: ".") }.filter { $0.count > depth + 1 }
        let empty: [[Substring]] = emptyKeys.map { $0.split(separator: ".") }.filter { $0.count == depth + 1 }
        let under = (settings + empty).filter { $0.prefix(depth).joined(separator: ".") == prefix }
        return Set(under.map { String($0[depth]) })
    }

    public static func environmentName(for key: String) -> String {
        "VIGIL_" + key.uppercased().map { $0 == "." || $0 == "-" ? "_" : $0 }.map(String.init).joined()
    }

    private mutating func flatten(_ node: YAMLNode, path: String, file: String) {
        let origin = "\(file):\(node.line)"
        switch node {
        case .mapping(let mapping, _):
            if mapping.isEmpty { emptyKeys.insert(path) }
            var seen: Set<String> = []
            for (keyNode, value) in mapping {
                guard let key = keyNode.scalarText else {
                    problems.append(ConfigProblem(key: path, origin: origin, message: "keys must be plain strings"))
                    continue
                }
                let keyPath = path.isEmpty ? key : "\(path).\(key)"
                if !seen.insert(key).inserted {
                    problems.append(ConfigProblem(key: keyPath, origin: "\(file):\(keyNode.line)", message: "duplicate key"))
                }
                flatten(value, path: keyPath, file: file)
            }
        case _ where path.isEmpty:
            problems.append(ConfigProblem(key: "(document)", origin: origin, message: "expected a mapping of sections"))
        case .scalar(let text, _, _):
            if node.isNull { emptyKeys.insert(path); return }  // `key:` alone = default
            entries[path] = Entry(value: text, origin: origin)
        case .sequence(let sequence, _):
            // A list of plain values (secrets.items.*.keys) becomes "a,b,c".
            let scalars = sequence.compactMap(\.scalarText)
            guard scalars.count == sequence.count, !scalars.contains(where: { $0.contains(",") }) else {
                problems.append(ConfigProblem(key: path, origin: origin, message: "expected a value or a list of plain values"))
                return
            }
            entries[path] = Entry(value: scalars.joined(separator: ","), origin: origin, isList: true)
        case .alias:
            problems.append(ConfigProblem(key: path, origin: origin, message: "YAML aliases are not supported"))
        }
    }
}
