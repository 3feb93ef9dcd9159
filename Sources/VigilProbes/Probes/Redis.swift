import VigilSecrets

/// Redis probe: connect and authenticate (kept between runs), then `PING`.
public final class RedisProbe: Probe {
    public let name = "redis"
    private let credentials: @Sendable () throws(CredentialsError) -> RedisCredentials
    private let connection = ConnectionKeeper<RedisConnection>()

    public init(credentials: @escaping @Sendable () throws(CredentialsError) -> RedisCredentials) {
        self.credentials = credentials
    }

    public func run(timeout: Duration) -> ProbeResult {
        let deadline = Deadline(after: timeout)
        return measure { () throws(ProbeFailure) in
            try connection.use { () throws(ProbeFailure) in
                let target = try fetch(credentials)
                if target.tls { throw ProbeFailure(reason: .tls, detail: "TLS (rediss://) is not supported yet") }
                return try RedisConnection(target, deadline: deadline)
            } _: { (connection) throws(ProbeFailure) in
                try connection.ping(deadline: deadline)
            }
        }
    }
}
