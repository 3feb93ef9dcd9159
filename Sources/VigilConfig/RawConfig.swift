import Yams

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

    public init() {}

    /// Adds the scalars of a YAML document. Mappings nest key paths; a
    /// list or a YAML syntax error is a problem, not a crash.
    public mutating func addYAML(_ text: String, file: String) {
        do {
            guard let root = try Yams.compose(yaml: text) else { return }
            flatten(root, path: "", file: file)
        } catch let error as YamlError {
            problems.append(ConfigProblem(key: "(document)", origin: file, message: "YAML syntax error: \(error)"))
        } catch {
            problems.append(ConfigProblem(key: "(document)", origin: file, message: "cannot parse YAML"))
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

    public mutating func set(_ key: String, _ value: String, origin: String) {
        entries[key] = Entry(value: value, origin: origin)
    }

    public static func environmentName(for key: String) -> String {
        "VIGIL_" + key.uppercased().map { $0 == "." || $0 == "-" ? "_" : $0 }.map(String.init).joined()
    }

    private mutating func flatten(_ node: Node, path: String, file: String) {
        let origin = "\(file):\(node.mark?.line ?? 0)"
        switch node {
        case .mapping(let mapping):
            for (keyNode, value) in mapping {
                guard let key = keyNode.scalar?.string else {
                    problems.append(ConfigProblem(key: path, origin: origin, message: "keys must be plain strings"))
                    continue
                }
                flatten(value, path: path.isEmpty ? key : "\(path).\(key)", file: file)
            }
        case .scalar(let scalar):
            guard !path.isEmpty else {
                problems.append(ConfigProblem(key: "(document)", origin: origin, message: "expected a mapping of sections"))
                return
            }
            if scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return }  // `key:` alone = default
            entries[path] = Entry(value: scalar.string, origin: origin)
        case .sequence(let sequence):
            // A list of plain values (secrets.items.*.keys) becomes "a,b,c".
            let scalars = sequence.compactMap { $0.scalar?.string }
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
