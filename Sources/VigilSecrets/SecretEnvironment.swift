import VigilAWS
import VigilPlatform

/// The variables an application's `.env` held for a secret, rebuilt from
/// the secret: what `vigil exec` puts in the application's environment, the
/// reverse of `SecretsMigration` (a variable a migration turned into keys
/// comes back as the same variable).
public enum SecretEnvironment {
    /// How one secret becomes variables.
    public enum Form: Sendable, Equatable {
        /// One variable holding a `postgres://` URL built from the credentials (JSON or a URL).
        case databaseURL(String)
        /// One variable holding a `redis://` (`rediss://` with TLS) URL.
        case redisURL(String)
        /// One variable holding the value as it is (JSON: the fallbacks read it so).
        case text(String)
        /// One variable per key of a JSON object, `<PREFIX>_<KEY>` upper-cased (a key
        /// that already starts with the prefix kept as it is, as `migrate --all` wrote
        /// it); a value that is not an object, `<PREFIX>` alone.
        case keys(prefix: String)
    }

    /// The variables of `secret` in `form`; an error names the secret and what is wrong, never a value.
    public static func variables(_ secret: SecretValue, form: Form) throws(CredentialsError) -> [(name: String, value: SecretString)] {
        // A secret that holds a URL of the scheme already (an environment fallback's form) is given as it is,
        // query and all; anything else must parse (a bad value is refused here, naming no value, not passed
        // on for a driver to print in its error).
        let text = secret.value.revealed(), json = JSONMembers(text)
        switch form {
        case .databaseURL(let name):
            if ["postgres://", "postgresql://"].contains(where: text.hasPrefix) { return [(name, secret.value)] }
            let credentials = try TypedCredentials.database(secret, requiredKeys: ["username"])
            return [(name, SecretString(url(credentials) + query((json?.members ?? []).filter { connectionParameters.contains($0.key) })))]
        case .redisURL(let name):
            if ["redis://", "rediss://"].contains(where: text.hasPrefix) { return [(name, secret.value)] }
            return [(name, SecretString(url(try TypedCredentials.redis(secret, requiredKeys: []))))]
        case .text(let name): return [(name, secret.value)]
        case .keys(let prefix):
            let prefix = variableName(prefix)
            guard let members = json else { return [(prefix, secret.value)] }
            return members.members.map { member in
                let key = variableName(member.key)
                return (key.hasPrefix(prefix + "_") ? key : "\(prefix)_\(key)", SecretString(JSONMembers.decodedString(member.raw) ?? member.raw))
            }
        }
    }

    /// libpq's connection keywords besides the credentials' own: the keys a
    /// migrated URL's query became (`sslmode=verify-full` must survive the
    /// round trip), and no others (libpq refuses an unknown one, and RDS
    /// secrets carry `engine` and `dbInstanceIdentifier`).
    static let connectionParameters: Set = [
        "application_name", "channel_binding", "client_encoding", "connect_timeout", "fallback_application_name", "gssencmode",
        "hostaddr", "keepalives", "keepalives_count", "keepalives_idle", "keepalives_interval", "krbsrvname", "load_balance_hosts",
        "options", "passfile", "require_auth", "requirepeer", "service", "sslcert", "sslcertmode", "sslcompression", "sslcrl",
        "sslcrldir", "sslkey", "sslmode", "sslnegotiation", "sslpassword", "sslrootcert", "sslsni", "ssl_max_protocol_version",
        "ssl_min_protocol_version", "target_session_attrs", "tcp_user_timeout",
    ]

    /// `?key=value&...` of the members, percent-encoded; empty for none.
    static func query(_ members: [(key: String, raw: String)]) -> String {
        let pairs = members.map { "\(URIEncoding.encode($0.key))=\(URIEncoding.encode(JSONMembers.decodedString($0.raw) ?? $0.raw))" }
        return pairs.isEmpty ? "" : "?" + pairs.joined(separator: "&")
    }

    /// `postgres://user:password@host:port/dbname`, user and password percent-encoded.
    static func url(_ credentials: DatabaseCredentials) -> String {
        "postgres://\(URIEncoding.encode(credentials.username)):\(URIEncoding.encode(credentials.password.revealed()))@\(host(credentials.host))"
            + ":\(credentials.port)/\(URIEncoding.encode(credentials.database))"
    }

    /// `redis://[user]:password@host:port/db`, `rediss://` with TLS.
    static func url(_ credentials: RedisCredentials) -> String {
        let login = credentials.password.map { "\(URIEncoding.encode(credentials.username ?? "")):\(URIEncoding.encode($0.revealed()))@" } ?? ""
        return "\(credentials.tls ? "rediss" : "redis")://\(login)\(host(credentials.host)):\(credentials.port)/\(credentials.database)"
    }

    /// A name as a variable: upper-cased, anything but letters, digits and `_` made `_`.
    static func variableName(_ text: String) -> String {
        String(text.uppercased().unicodeScalars.map { $0.isASCII && (isAlphanumeric(UInt8($0.value)) || $0 == "_") ? Character($0) : "_" })
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }

    private static func host(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }
}
