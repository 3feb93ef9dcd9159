import VigilConfig
import VigilPlatform
import VigilResults
import VigilSecrets

/// PostgreSQL probe: connect (kept between runs) and `SELECT 1`, bounded
/// server-side too by a `SET LOCAL statement_timeout` in the same query
/// string. One simple-protocol message with two statements is one implicit
/// transaction, so the setting ends with it: behind PgBouncer in
/// transaction pooling it never reaches another client's server
/// connection, and a query stuck in the server is cancelled there, not
/// only abandoned here.
public final class PostgresProbe: KindProbe {
    public static let name = "postgres"
    public static let summary = "PostgreSQL: connects (the connection is kept) and runs `SELECT 1`."
    public static let defaultCritical = true
    /// RDS's format, which Secrets Manager's database secrets use (`engine` aside); a URL holds them all.
    public static let credentials = KindCredentials.required(keys: ["host", "port", "username", "password", "dbname"])
    public static let settings = [
        KindSetting("sslmode", default: "prefer", .choice(PostgresTLS.modes), legacyKey: "database.sslmode",
                    help: "libpq `sslmode` (postgres): \(PostgresTLS.modes.joined(separator: ", ")); default `database.sslmode`."),
        KindSetting("ca_file", .any, legacyKey: "database.ca_file", help: caFileHelp),
    ]

    public static func read(_ values: KindValues) -> PostgresTLS? {
        values.text("sslmode").map { PostgresTLS(mode: $0, rootCertificate: values.nonEmpty("ca_file")) }
    }

    public let name: String
    public let failureReasons = ProbeReason.connectionFailures
    private let credentials: CredentialsSource<DatabaseCredentials>
    private let tls: PostgresTLS
    private let connection = ConnectionKeeper<PostgresConnection>()

    public init(name: String = "database", tls: PostgresTLS, credentials: CredentialsSource<DatabaseCredentials>) {
        self.name = name
        self.tls = tls
        self.credentials = credentials
    }

    public convenience init(target: ProbeTarget<PostgresTLS>, context: ProbeContext) {
        self.init(name: target.name, tls: target.settings,
                  credentials: .secret(target.secret ?? target.name, in: context.secrets, TypedCredentials.database))
    }

    public var keptSocket: Int32? { connection.socket(\.descriptor) }

    public func run(timeout: Duration) -> ProbeResult {
        var session: (tls: Bool, certificate: CertificateExpiry?)?
        var result = connection.run(self, timeout: timeout, credentials: credentials, isUsable: \.isHealthy,
                                    target: { HostPort(host: $0.host, port: $0.port) }) { (credentials, deadline) throws(ProbeFailure) in
            try PostgresConnection(credentials, tls: tls, deadline: deadline, connectTimeout: timeout)
        } check: { (connection, deadline, timer) throws(ProbeFailure) in
            session = (connection.usesTLS, connection.certificate)
            try timer.time("query") { () throws(ProbeFailure) in try connection.query(Self.query(timeout: timeout), deadline: deadline) }
        }
        result.certificate = session?.certificate
        // Whether the session is encrypted, where `sslmode` leaves it to the server.
        if let session, tls.isOptional { result.addFacts(about: name, [("tls", session.tls ? "true" : "false")]) }
        return result
    }

    /// Everything the probe sends once connected (docs/configuration.md quotes it).
    static func query(timeout: Duration) -> String {
        "SET LOCAL statement_timeout = \(max(1, Int(timeout.milliseconds))); SELECT 1"
    }
}

/// libpq's TLS settings: `sslmode` and, for verification, `sslrootcert`.
public struct PostgresTLS: Sendable {
    static let modes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
    public var mode: String
    public var rootCertificate: String?

    public init(mode: String = "prefer", rootCertificate: String? = nil) {
        self.mode = mode
        self.rootCertificate = rootCertificate
    }

    /// `allow` and `prefer` take TLS only where the server offers it.
    var isOptional: Bool { mode == "allow" || mode == "prefer" }
}
