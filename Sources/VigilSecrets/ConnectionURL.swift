import FoundationEssentials

/// Parses connection URLs (`postgres://user:pass@host:5432/db`,
/// `redis://:pass@host:6379/0`, `rediss://` for TLS) into typed credentials.
/// Errors name the source and the problem, never the URL, which holds a password.
public enum ConnectionURL {
    public static func database(_ text: String, source: String) throws(CredentialsError) -> DatabaseCredentials {
        let parts = try components(text, source: source, schemes: ["postgres", "postgresql"])
        guard let user = parts.user, !user.isEmpty else { throw .malformed(source: source, reason: "no user name") }
        let database = String(parts.path.drop { $0 == "/" })
        return DatabaseCredentials(host: parts.host ?? "localhost", port: parts.port ?? 5432, username: user,
                                   password: SecretString(parts.password ?? ""),
                                   database: database.isEmpty ? user : database)
    }

    public static func redis(_ text: String, source: String) throws(CredentialsError) -> RedisCredentials {
        let parts = try components(text, source: source, schemes: ["redis", "rediss"])
        let path = parts.path.drop { $0 == "/" }
        guard let database = path.isEmpty ? 0 : Int(path), database >= 0 else {
            throw .malformed(source: source, reason: "database must be a number")
        }
        let user = parts.user.flatMap { $0.isEmpty ? nil : $0 }
        return RedisCredentials(host: parts.host ?? "localhost", port: parts.port ?? 6379, username: user,
                                password: parts.password.map(SecretString.init), database: database,
                                tls: parts.scheme == "rediss")
    }

    /// The URL's query parameters (`?sslmode=require`), in order; the migration keeps them as keys.
    static func parameters(_ text: String) -> [(name: String, value: String)] {
        (URLComponents(string: text)?.queryItems ?? []).map { ($0.name, $0.value ?? "") }
    }

    private static func components(_ text: String, source: String, schemes: Set<String>) throws(CredentialsError) -> URLComponents {
        guard let parts = URLComponents(string: text), let scheme = parts.scheme else {
            throw .malformed(source: source, reason: "not a URL")
        }
        guard schemes.contains(scheme) else {
            throw .malformed(source: source, reason: "scheme must be \(schemes.sorted().joined(separator: " or "))")
        }
        return parts
    }
}
