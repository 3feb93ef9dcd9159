import VigilPlatform
import VigilSecrets

/// Redis probe: connect and authenticate (kept between runs), then `PING`.
public final class RedisProbe: Probe {
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

    convenience init(target: ProbeTarget, context: ProbeContext) {
        self.init(name: target.name,
                  tls: RedisTLS(caFile: target.settings["ca_file"].nonEmpty, serverName: target.settings["server_name"].nonEmpty),
                  reportInfo: target.settings["info"]?.lowercased() != "false",
                  credentials: .secret(target.secret ?? target.name, in: context.secrets, TypedCredentials.redis))
    }

    public var keptSocket: Int32? { connection.socket(\.descriptor) }

    public func run(timeout: Duration) -> ProbeResult {
        var measurements: [ProbeMeasurement] = []
        var infoFailure: ProbeFailure?
        var result = connection.run(self, timeout: timeout, credentials: credentials, isUsable: \.isUsable,
                                    target: { HostPort(host: $0.host, port: $0.port) }) {
            (credentials, deadline) throws(ProbeFailure) in try RedisConnection(credentials, tls: tls, deadline: deadline)
        } check: { (connection, deadline, timer) throws(ProbeFailure) in
            try timer.time("ping") { () throws(ProbeFailure) in try connection.ping(deadline: deadline) }
            guard reportInfo else { return }
            // Redis answered PING: a failed INFO degrades the run, and the
            // connection (its reply may still arrive) is not kept.
            do throws(ProbeFailure) { measurements = try connection.info(deadline: deadline) } catch { infoFailure = error }
        }
        result.measurements = measurements
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
