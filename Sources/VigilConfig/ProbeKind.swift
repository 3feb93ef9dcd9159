import VigilPlatform

/// A probe kind as the configuration reads it. Each kind declares this once,
/// in its own file under `VigilProbes/Probes/` beside its run, and
/// `VigilProbes.ProbeCatalog.kinds` lists them: the configuration's checks,
/// the schema (so the environment names and docs/configuration.md) and the
/// catalog all read that one list, which `VigilConfig.load` is given.
public protocol ProbeKind: Sendable {
    /// The kind's settings, typed: what a probe of this kind is built from.
    associatedtype Settings: Sendable
    static var name: String { get }
    /// What it checks (docs/configuration.md's kind table).
    static var summary: String { get }
    static var defaultCritical: Bool { get }
    /// Settings beyond the common ones: `probes.<target>.<name>`.
    static var settings: [KindSetting] { get }
    /// Whether a target reads credentials from a `secrets.items` entry, and which keys that secret must hold.
    static var credentials: KindCredentials { get }
    /// `services` in `/health` says `connected`/`disconnected` (a peer), else the status word.
    static var reportsConnection: Bool { get }
    /// Run at once when a secret fails or recovers (the secrets probe).
    static var followsSecrets: Bool { get }
    /// The typed settings from the values the declarations checked; nil
    /// only when one failed its check (the load then fails with that problem).
    static func read(_ values: KindValues) -> Settings?
}

extension ProbeKind {
    public static var credentials: KindCredentials { .none }
    public static var reportsConnection: Bool { true }
    public static var followsSecrets: Bool { false }
}

/// A kind without settings of its own.
public struct NoSettings: Sendable {
    public init() {}
}

public enum KindCredentials: Sendable, Equatable {
    /// From `secret`, or the item named like the target: one must exist.
    /// `keys`: what the secret's JSON must hold (a connection URL holds them all).
    case required(keys: [String])
    /// Only through `${secret:...}` references in headers: `${secret:<key>}` reads `secret`, else the item named like the target.
    case optional
    case none
}

/// One setting of a kind, `probes.<target>.<name>`.
public struct KindSetting: Sendable {
    public var name: String
    public var defaultValue: String
    public var help: String
    var check: ValueCheck
    var required: Bool
    /// A top-level key whose value is the default (`database.sslmode` for
    /// every postgres target): configurations from before named targets keep working.
    var legacyKey: String?

    public init(_ name: String, default defaultValue: String = "", _ check: ValueCheck, required: Bool = false,
                legacyKey: String? = nil, help: String) {
        (self.name, self.defaultValue, self.help, self.check, self.required, self.legacyKey)
            = (name, defaultValue, help, check, required, legacyKey)
    }

    /// The key for `Schema`'s settings.
    var schemaSetting: Setting { Setting(key: "probes.*.\(name)", defaultValue: defaultValue, applies: .live, help: help) }
}

/// A target's settings of its kind, each checked by its declaration: what
/// `ProbeKind.read(_:)` builds its typed settings from. A value that
/// failed its check is absent (its reader answers nil).
public struct KindValues: Sendable {
    /// The effective text of each declared setting that passed its check.
    let texts: [String: String]
    /// `headers.*`, sorted by name; values may hold `${secret:<item>.<key>}` and `${secret:<key>}`.
    public let headers: [(name: String, value: String)]

    public func text(_ name: String) -> String? { texts[name] }
    /// nil for an empty setting (`ca_file: ""` means the system's) as for one that failed its check.
    public func nonEmpty(_ name: String) -> String? { texts[name].flatMap { $0.isEmpty ? nil : $0 } }
    public func bool(_ name: String) -> Bool? { texts[name].flatMap { ["true": true, "false": false][$0.lowercased()] } }
    public func hostPort(_ name: String) -> HostPort? { texts[name].flatMap(HostPort.init) }
    public func statuses(_ name: String) -> StatusRanges? { texts[name].flatMap(StatusRanges.init) }
}

/// How a setting's text is checked.
public enum ValueCheck: Sendable {
    case any, bool, url, hostPort, statuses
    /// Empty, or an absolute path.
    case absolutePath
    case choice([String])

    /// What the text should be, for the problem when it is not.
    var expected: String {
        switch self {
        case .any: "any text"
        case .bool: "true or false"
        case .choice(let choices): "one of \(choices.joined(separator: ", "))"
        case .url: "an http:// or https:// URL"
        case .hostPort: "HOST:PORT"
        case .absolutePath: "an absolute path"
        case .statuses: "a status such as 200, a range such as 200-299, or a comma list of both"
        }
    }

    func accepts(_ text: String) -> Bool {
        switch self {
        case .any: return true
        case .bool: return ["true", "false"].contains(text.lowercased())
        case .choice(let choices): return choices.contains(text)
        case .url:
            let rest = text.hasPrefix("https://") ? text.dropFirst(8) : text.hasPrefix("http://") ? text.dropFirst(7) : nil
            return rest.map { !$0.isEmpty && !$0.hasPrefix("/") && !$0.contains(" ") } == true
        case .hostPort:
            guard let address = HostPort(text) else { return false }
            return !address.host.isEmpty && (1...65_535).contains(address.port)
        case .statuses: return StatusRanges(text) != nil
        case .absolutePath: return text.isEmpty || text.hasPrefix("/")
        }
    }
}
