import VigilConfig
import VigilPlatform
import VigilResults
import VigilSecrets

/// Redis probe: connect and authenticate (kept between runs), then `PING`.
public final class RedisProbe: KindProbe {
    public static let name = "redis"
    public static let summary = "Redis: connects and authenticates (kept), `PING`, and `INFO` for gauges."
    public static let defaultCritical = true
    /// `password` too where the server wants one: the item's `keys` say so (the standard `redis` item's do).
    public static let credentials = KindCredentials.required(keys: ["host", "port"])
    public static let settings = [
        KindSetting("ca_file", .any, legacyKey: "redis.ca_file", help: caFileHelp),
        KindSetting("server_name", .any, legacyKey: "redis.server_name",
                    help: "Name to check in Redis's certificate; empty = the host from the credentials (default `redis.server_name`)."),
        KindSetting("info", default: "true", .bool, legacyKey: "redis.info", help: "Read Redis `INFO` each run for gauges (default `redis.info`)."),
    ]

    public struct Settings: Sendable {
        public var tls: RedisTLS
        public var info: Bool
    }

    public static func read(_ values: KindValues) -> Settings? {
        values.bool("info").map { Settings(tls: RedisTLS(caFile: values.nonEmpty("ca_file"), serverName: values.nonEmpty("server_name")), info: $0) }
    }

    public let name: String
    public let failureReasons = ProbeReason.connectionFailures
    private let credentials: CredentialsSource<RedisCredentials>
    private let tls: RedisTLS
    private let reportInfo: Bool
    private let connection = ConnectionKeeper<RedisConnection>()

    /// `reportInfo`: also read `INFO` (role, clients, memory) for gauges.
    public init(name: String = "redis", tls: RedisTLS = RedisTLS(), reportInfo: Bool = true,
                credentials: CredentialsSource<RedisCredentials>) {
        self.name = name
        self.tls = tls
        self.reportInfo = reportInfo
        self.credentials = credentials
    }

    public convenience init(target: ProbeTarget<Settings>, context: ProbeContext) {
        self.init(name: target.name, tls: target.settings.tls, reportInfo: target.settings.info,
                  credentials: .secret(target.secret ?? target.name, in: context.secrets, TypedCredentials.redis))
    }

    public var keptSocket: Int32? { connection.socket(\.descriptor) }

    public func run(timeout: Duration) -> ProbeResult {
        var measurements: [ProbeMeasurement] = []
        var infoFailure: ProbeFailure?, certificate: CertificateExpiry?
        var result = connection.run(self, timeout: timeout, credentials: credentials, isUsable: \.isUsable,
                                    target: { HostPort(host: $0.host, port: $0.port) }) {
            (credentials, deadline) throws(ProbeFailure) in try RedisConnection(credentials, tls: tls, deadline: deadline)
        } check: { (connection, deadline, timer) throws(ProbeFailure) in
            certificate = connection.certificate
            try timer.time("ping") { () throws(ProbeFailure) in try connection.ping(deadline: deadline) }
            guard reportInfo else { return }
            // Redis answered PING: a failed INFO degrades the run, and the
            // connection (its reply may still arrive) is not kept.
            do throws(ProbeFailure) { measurements = try connection.info(deadline: deadline) } catch { infoFailure = error }
        }
        result.measurements = measurements
        result.certificate = certificate
        if let infoFailure, result.succeeded {
            result.degraded = true
            result.reason = infoFailure.reason
            result.detail = "INFO failed: " + infoFailure.detail
        }
        return result
    }
}

/// TLS for `rediss://`: peer verification against the system's CAs or a CA
/// file, with the host name checked (`serverName` overrides it).
public struct RedisTLS: Sendable {
    public var caFile: String?
    public var serverName: String?

    public init(caFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.serverName = serverName
    }
}
