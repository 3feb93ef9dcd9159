import Foundation

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
                                tls: (json["tls"] as? Bool) ?? (string(json, "scheme") == "rediss"))
    }

    private static func object(_ text: String, secret: String, requiredKeys: [String]) throws(CredentialsError) -> [String: Any] {
        guard let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw .malformed(source: "secret \(secret)", reason: "not a JSON object")
        }
        let missing = requiredKeys.filter { json[$0] == nil && !(($0 == "username") && json["user"] != nil) }
        if !missing.isEmpty {
            throw .malformed(source: "secret \(secret)", reason: "missing key\(missing.count > 1 ? "s" : "") \(missing.joined(separator: ", "))")
        }
        return json
    }

    private static func string(_ json: [String: Any], _ keys: String...) -> String? {
        for key in keys {
            if let text = json[key] as? String { return text }
            if let number = json[key] as? NSNumber { return number.stringValue }
        }
        return nil
    }

    private static func int(_ json: [String: Any], _ keys: String...) -> Int? {
        for key in keys {
            if let number = json[key] as? Int { return number }
            if let text = json[key] as? String, let number = Int(text) { return number }
        }
        return nil
    }
}
