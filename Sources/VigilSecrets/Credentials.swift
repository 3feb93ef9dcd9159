/// Where to reach PostgreSQL and as whom.
public struct DatabaseCredentials: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String
    public var password: SecretString
    public var database: String

    public init(host: String, port: Int = 5432, username: String, password: SecretString, database: String) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }
}

/// Where to reach Redis and how to authenticate (ACL user optional).
public struct RedisCredentials: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: SecretString?
    public var database: Int
    public var tls: Bool

    public init(host: String, port: Int = 6379, username: String? = nil, password: SecretString? = nil,
                database: Int = 0, tls: Bool = false) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }
}

/// Why credentials could not be produced. Never carries the value.
public enum CredentialsError: Error, Sendable, Equatable, CustomStringConvertible {
    case missing(source: String)
    case malformed(source: String, reason: String)
    /// The secrets client could not serve it (its error's text: names, codes, no values).
    case unavailable(String)

    public var description: String {
        switch self {
        case .missing(let source): "\(source) is not set"
        case .malformed(let source, let reason): "\(source) is malformed: \(reason)"
        case .unavailable(let why): why
        }
    }
}
