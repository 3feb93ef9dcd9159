import FoundationEssentials
import VigilPlatform

/// The Prometheus exporters' web configuration file (`--web.config.file`):
/// TLS and basic auth for every endpoint.
///
///     tls_server_config:
///       cert_file: server.crt
///       key_file: server.key
///     basic_auth_users:
///       prometheus: $2y$10$...   # bcrypt
///
/// Other exporter-toolkit keys (client CAs, cipher lists) are refused by
/// name rather than ignored.
public struct WebConfigFile: Sendable {
    public var tls: (key: String, certificate: String)?
    /// User name -> bcrypt hash.
    public var users: [String: String]

    public static func load(path: String) throws(ConfigError) -> WebConfigFile {
        func problem(_ key: String, _ origin: String?, _ message: String) -> ConfigProblem {
            ConfigProblem(key: key, origin: origin ?? path, message: message)
        }
        var raw = RawConfig()
        raw.addYAML(try RawConfig.readText(path, describing: "web configuration file"), file: path)
        var problems = raw.problems
        var users: [String: String] = [:]
        var files: [String: String] = [:]
        for (key, entry) in raw.entries.sorted(by: { $0.key < $1.key }) {
            if key.hasPrefix("basic_auth_users.") {
                let user = String(key.dropFirst("basic_auth_users.".count))
                if entry.value.hasPrefix("$2") { users[user] = entry.value } else {
                    problems.append(problem(key, entry.origin, "expected a bcrypt hash ($2y$...), not a clear-text password"))
                }
            } else if key == "tls_server_config.cert_file" || key == "tls_server_config.key_file" {
                let resolved = entry.value.hasPrefix("/") ? entry.value
                    : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(entry.value).path
                do throws(FileReadError) {
                    files[key] = try readTextFile(resolved, limit: 1 << 20)
                } catch {
                    problems.append(problem(key, entry.origin, "cannot read \(resolved): \(error)"))
                }
            } else {
                problems.append(problem(key, entry.origin, "unknown or unsupported key"))
            }
        }
        let key = files["tls_server_config.key_file"], certificate = files["tls_server_config.cert_file"]
        if (raw.entries["tls_server_config.key_file"] == nil) != (raw.entries["tls_server_config.cert_file"] == nil) {
            problems.append(problem("tls_server_config", nil, "needs both cert_file and key_file"))
        }
        if !problems.isEmpty { throw ConfigError(problems: problems) }
        return WebConfigFile(tls: key.flatMap { key in certificate.map { (key: key, certificate: $0) } }, users: users)
    }
}
