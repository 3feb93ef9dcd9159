import VigilSecrets

/// Redis probe: connect and authenticate (kept between runs), then `PING`.
public final class RedisProbe: Probe {
    public let name = "redis"
    private let credentials: CredentialsSource<RedisCredentials>
    private let connection = ConnectionKeeper<RedisConnection>()

    public init(credentials: CredentialsSource<RedisCredentials>) {
        self.credentials = credentials
    }

    public func run(timeout: Duration) -> ProbeResult {
        let deadline = Deadline(after: timeout)
        return measureRefreshingCredentials(credentials.refresh) { () throws(ProbeFailure) in
            try connection.use { () throws(ProbeFailure) in
                let target = try credentials.get()
                if target.tls { throw ProbeFailure(reason: .tls, detail: "TLS (rediss://) is not supported yet") }
                return try RedisConnection(target, deadline: deadline)
            } _: { (connection) throws(ProbeFailure) in
                try connection.ping(deadline: deadline)
            }
        }
    }
}
