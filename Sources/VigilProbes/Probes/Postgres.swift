import VigilSecrets

/// PostgreSQL probe: connect (kept between runs) and `SELECT 1`.
public final class PostgresProbe: Probe {
    public let name = "database"
    private let credentials: @Sendable () throws(CredentialsError) -> DatabaseCredentials
    private let sslMode: String
    private let connection = ConnectionKeeper<PostgresConnection>()

    public init(sslMode: String, credentials: @escaping @Sendable () throws(CredentialsError) -> DatabaseCredentials) {
        self.sslMode = sslMode
        self.credentials = credentials
    }

    public func run(timeout: Duration) -> ProbeResult {
        let deadline = Deadline(after: timeout)
        return measure { () throws(ProbeFailure) in
            try connection.use(isUsable: \.isHealthy) { () throws(ProbeFailure) in
                try PostgresConnection(fetch(credentials), sslMode: sslMode, deadline: deadline)
            } _: { (connection) throws(ProbeFailure) in
                try connection.query("SELECT 1", deadline: deadline)
            }
        }
    }
}
