import FoundationEssentials
import VigilPlatform

/// Turns a secret's text into typed credentials. The text is either JSON
/// (Vigil's keys or the RDS rotation format: `engine`, `host`, `port`,
/// `username`, `password`, `dbname`) or a connection URL, as environment
/// fallbacks usually are. Errors name missing keys, never values.
public enum TypedCredentials {
    public static func database(_ secret: SecretValue, requiredKeys: [String] = ["username", "password"]) throws(CredentialsError) -> DatabaseCredentials {
        let text = secret.value.revealed()
        guard text.first == "{" else { return try ConnectionURL.database(text, source: secret.name) }
        let json = try object(text, secret: secret.name, requiredKeys: requiredKeys)
        let user = string(json, "username", "user") ?? ""
        return DatabaseCredentials(host: string(json, "host", "hostname") ?? "localhost",
                                   port: int(json, "port") ?? 5432, username: user,
                                   password: SecretString(string(json, "password") ?? ""),
                                   database: string(json, "dbname", "database", "db") ?? user)
    }

    public static func redis(_ secret: SecretValue, requiredKeys: [String] = ["password"]) throws(CredentialsError) -> RedisCredentials {
        let text = secret.value.revealed()
        guard text.first == "{" else { return try ConnectionURL.redis(text, source: secret.name) }
        let json = try object(text, secret: secret.name, requiredKeys: requiredKeys)
        return RedisCredentials(host: string(json, "host", "hostname") ?? "localhost", port: int(json, "port") ?? 6379,
                                username: string(json, "username", "user"),
                                password: string(json, "password").map(SecretString.init),
                                database: int(json, "db", "database") ?? 0,
                                tls: json["tls"]?.bool ?? (string(json, "scheme") == "rediss"))
    }

    /// One key of a JSON secret (an API token for an HTTP probe's header).
    public static func field(_ secret: SecretValue, key: String) throws(CredentialsError) -> SecretString {
        let json = try object(secret.value.revealed(), secret: secret.name, requiredKeys: [key])
        guard let text = json[key]?.text else { throw .malformed(source: "secret \(secret.name)", reason: "key \(key) is not a string") }
        return SecretString(text)
    }

    /// The JSON `database(_:)` reads, for credentials (a migrated URL).
    static func json(_ credentials: DatabaseCredentials) -> String {
        JSONWriter.object([("dbname", JSONWriter.quote(credentials.database)), ("host", JSONWriter.quote(credentials.host)),
                           ("password", JSONWriter.quote(credentials.password.revealed())),
                           ("port", String(credentials.port)), ("username", JSONWriter.quote(credentials.username))])
    }

    /// The JSON `redis(_:)` reads, for credentials (a migrated URL).
    static func json(_ credentials: RedisCredentials) -> String {
        let fields: [(String, String)?] = [
            ("db", String(credentials.database)), ("host", JSONWriter.quote(credentials.host)),
            credentials.password.map { ("password", JSONWriter.quote($0.revealed())) }, ("port", String(credentials.port)),
            ("tls", credentials.tls ? "true" : "false"), credentials.username.map { ("username", JSONWriter.quote($0)) },
        ]
        return JSONWriter.object(fields.compactMap { $0 })
    }

    /// The members of a JSON object; nil when the text is not one.
    static func members(_ text: String) -> [String: JSONScalar]? {
        try? JSONDecoder().decode([String: JSONScalar].self, from: Data(text.utf8))
    }

    private static func object(_ text: String, secret: String, requiredKeys: [String]) throws(CredentialsError) -> [String: JSONScalar] {
        guard let json = members(text) else {
            throw .malformed(source: "secret \(secret)", reason: "not a JSON object")
        }
        let missing = requiredKeys.filter { json[$0] == nil && !(($0 == "username") && json["user"] != nil) }
        if !missing.isEmpty {
            throw .malformed(source: "secret \(secret)", reason: "missing key\(missing.count > 1 ? "s" : "") \(missing.joined(separator: ", "))")
        }
        return json
    }

    private static func string(_ json: [String: JSONScalar], _ keys: String...) -> String? {
        keys.lazy.compactMap { json[$0]?.text }.first
    }

    private static func int(_ json: [String: JSONScalar], _ keys: String...) -> Int? {
        keys.lazy.compactMap { json[$0]?.integer }.first
    }
}

/// A member of a credentials object: a string, a number or a boolean; nested
/// values are kept as `.other` so that their presence still counts.
enum JSONScalar: Decodable {
    case string(String), integer(Int), number(Double), bool(Bool), other

    init(from decoder: any Decoder) throws {
        let value = try decoder.singleValueContainer()
        if let text = try? value.decode(String.self) { self = .string(text) }
        else if let integer = try? value.decode(Int.self) { self = .integer(integer) }
        else if let number = try? value.decode(Double.self) { self = .number(number) }
        else if let flag = try? value.decode(Bool.self) { self = .bool(flag) }
        else { self = .other }
    }

    /// Strings as they are, numbers as written (`5432`), booleans not at all.
    var text: String? {
        switch self {
        case .string(let text): text
        case .integer(let integer): String(integer)
        case .number(let number): String(number)
        case .bool, .other: nil
        }
    }

    var integer: Int? {
        switch self {
        case .integer(let integer): integer
        case .string(let text): Int(text)
        default: nil
        }
    }

    var bool: Bool? {
        if case .bool(let flag) = self { flag } else { nil }
    }
}
