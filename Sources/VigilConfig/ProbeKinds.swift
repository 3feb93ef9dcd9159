import VigilPlatform

/// A probe kind as the configuration sees it: the settings a target of
/// this kind takes beyond the common ones, how each is checked, its default
/// `critical`, and what it checks (for the docs). `VigilProbes.ProbeCatalog`
/// holds the factory of each kind; a test keeps both tables in step.
public struct ProbeKind: Sendable {
    public var name: String
    public var defaultCritical: Bool
    public var summary: String
    public var kindSettings: [KindSetting]
    /// Whether a target reads credentials from a `secrets.items` entry.
    public var credentials: Credentials = .none
    /// `services` in `/health` says `connected`/`disconnected` (a peer), else the status word.
    public var reportsConnection = true
    /// Run at once when a secret fails or recovers (the secrets probe).
    public var followsSecrets = false

    public enum Credentials: Sendable {
        /// From `secret`, or the item named like the target: one must exist.
        case required
        /// Only through `${secret:...}` references in headers: `${secret:<key>}` reads `secret`, else the item named like the target.
        case optional
        case none
    }

    /// One setting, `probes.<target>.<name>`.
    public struct KindSetting: Sendable {
        public var name: String
        public var defaultValue: String
        public var help: String
        var check: ValueCheck
        var required = false
        /// A top-level key whose value is the default (`database.sslmode`
        /// for every postgres target): configurations from before named
        /// targets keep working.
        var legacyKey: String?
    }

    /// The keys for `Schema.settings`.
    var settings: [Setting] {
        kindSettings.map { Setting(key: "probes.*.\($0.name)", defaultValue: $0.defaultValue, applies: .live, help: $0.help) }
    }

    public static let all: [ProbeKind] = [postgres, redis, http, tcp, secrets]

    public static func named(_ name: String) -> ProbeKind? { all.first { $0.name == name } }

    static let caHelp = "CA file to verify the server's certificate (libpq `sslrootcert` for postgres); empty = the system's."

    static let postgres = ProbeKind(name: "postgres", defaultCritical: true,
                                    summary: "PostgreSQL: connects (the connection is kept) and runs `SELECT 1`.", kindSettings: [
        KindSetting(name: "sslmode", defaultValue: "prefer",
                    help: "libpq `sslmode` (postgres): disable, allow, prefer, require, verify-ca, verify-full; default `database.sslmode`.",
                    check: .choice(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]), legacyKey: "database.sslmode"),
        KindSetting(name: "ca_file", defaultValue: "", help: caHelp, check: .any, legacyKey: "database.ca_file"),
    ], credentials: .required)

    static let redis = ProbeKind(name: "redis", defaultCritical: true,
                                 summary: "Redis: connects and authenticates (kept), `PING`, and `INFO` for gauges.", kindSettings: [
        KindSetting(name: "ca_file", defaultValue: "", help: caHelp, check: .any, legacyKey: "redis.ca_file"),
        KindSetting(name: "server_name", defaultValue: "",
                    help: "Name to check in Redis's certificate; empty = the host from the credentials (default `redis.server_name`).",
                    check: .any, legacyKey: "redis.server_name"),
        KindSetting(name: "info", defaultValue: "true", help: "Read Redis `INFO` each run for gauges (default `redis.info`).",
                    check: .bool, legacyKey: "redis.info"),
    ], credentials: .required)

    static let http = ProbeKind(name: "http", defaultCritical: true,
                                summary: "An HTTP(S) endpoint: answers with the expected status and accepts the credential sent.",
                                kindSettings: [
        KindSetting(name: "url", defaultValue: "", help: "http: the URL to request (`http://` or `https://`).", check: .url, required: true),
        KindSetting(name: "method", defaultValue: "GET", help: "http: `GET` or `HEAD`.", check: .choice(["GET", "HEAD"])),
        KindSetting(name: "expect_status", defaultValue: "200-299",
                    help: "http: the statuses that count as up: `200`, `200-299` or a comma list of both.", check: .statuses),
        KindSetting(name: "headers.*", defaultValue: "",
                    help: "http: request headers; `${secret:<item>.<key>}` in a value is replaced by that secret's key, "
                        + "`${secret:<key>}` by a key of the target's own `secret`.", check: .any),
        KindSetting(name: "ca_file", defaultValue: "", help: caHelp, check: .any),
        KindSetting(name: "unix_socket", defaultValue: "",
                    help: "http: connect through this Unix socket (an absolute path) instead of to the URL's host.", check: .absolutePath),
    ], credentials: .optional)

    static let tcp = ProbeKind(name: "tcp", defaultCritical: true,
                               summary: "A TCP port: connects within the timeout, nothing else.", kindSettings: [
        KindSetting(name: "address", defaultValue: "", help: "tcp: `HOST:PORT` to connect to.", check: .hostPort, required: true),
    ])

    static let secrets = ProbeKind(name: "secrets", defaultCritical: false,
                                   summary: "The secrets client: every required secret available, and from AWS within its TTL.",
                                   kindSettings: [], reportsConnection: false, followsSecrets: true)
}

/// How a setting's text is checked.
enum ValueCheck: Sendable {
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
