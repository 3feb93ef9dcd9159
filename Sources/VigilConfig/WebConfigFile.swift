import FoundationEssentials
import VigilPlatform

/// The Prometheus exporters' web configuration file (`--web.config.file`,
/// exporter-toolkit's format): TLS, client certificates, basic auth and
/// response headers.
///
///     tls_server_config:
///       cert_file: server.crt
///       key_file: server.key
///       client_auth_type: RequireAndVerifyClientCert   # with client_ca_file
///       client_ca_file: clients-ca.crt
///       min_version: TLS12
///       max_version: TLS13
///       cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
///     http_server_config:
///       headers:
///         Strict-Transport-Security: max-age=31536000
///     basic_auth_users:
///       prometheus: $2y$10$...   # bcrypt
///
/// Other keys are refused by name rather than ignored. The names of
/// versions and cipher suites are checked where they become GnuTLS
/// priorities (VigilHTTP), with `origin` to name the line.
public struct WebConfigFile: Sendable {
    public struct TLS: Sendable, Equatable {
        public var key: String
        public var certificate: String
        /// PEM text of `client_ca_file`.
        public var clientCA: String?
        public var clientAuthType: String
        public var minVersion: String?
        public var maxVersion: String?
        public var cipherSuites: [String]
    }

    public var tls: TLS?
    /// User name -> bcrypt hash.
    public var users: [String: String]
    /// `http_server_config.headers`, sorted by name.
    public var headers: [(name: String, value: String)]
    /// The files whose change means new TLS material (certificate, key, client CAs).
    public var watchedFiles: [String]
    /// Where each key was written (`web.yml:4`).
    public var origins: [String: String]
    public let path: String

    /// Go's `client_auth_type` names; the default is NoClientCert, or
    /// RequireAndVerifyClientCert when `client_ca_file` is set (exporter-toolkit's rule).
    public static let clientAuthTypes = ["NoClientCert", "RequestClientCert", "RequireAnyClientCert",
                                         "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"]

    /// The response headers exporter-toolkit lets `http_server_config.headers` set.
    public static let allowedHeaders = ["Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options",
                                        "X-XSS-Protection", "Content-Security-Policy"]

    private static let fileKeys = ["tls_server_config.cert_file", "tls_server_config.key_file", "tls_server_config.client_ca_file"]
    private static let scalarKeys = ["tls_server_config.client_auth_type", "tls_server_config.min_version",
                                     "tls_server_config.max_version", "tls_server_config.cipher_suites"]

    public static func load(path: String) throws(ConfigError) -> WebConfigFile {
        var raw = RawConfig()
        raw.addYAML(try RawConfig.readText(path, describing: "web configuration file"), file: path)
        var problems = raw.problems
        func problem(_ key: String, _ message: String) {
            problems.append(ConfigProblem(key: key, origin: raw.entries[key]?.origin ?? path, message: message))
        }
        var users: [String: String] = [:], files: [String: String] = [:], headers: [(name: String, value: String)] = []
        var watched: [String] = []
        for (key, entry) in raw.entries.sorted(by: { $0.key < $1.key }) {
            if key.hasPrefix("basic_auth_users.") {
                let user = String(key.dropFirst("basic_auth_users.".count))
                if entry.value.hasPrefix("$2") { users[user] = entry.value } else {
                    problem(key, "expected a bcrypt hash ($2y$...), not a clear-text password")
                }
            } else if key.hasPrefix("http_server_config.headers.") {
                let name = String(key.dropFirst("http_server_config.headers.".count))
                if allowedHeaders.contains(where: { $0.lowercased() == name.lowercased() }) { headers.append((name, entry.value)) } else {
                    problem(key, "not a header the web configuration may set (\(allowedHeaders.joined(separator: ", ")))")
                }
            } else if fileKeys.contains(key) {
                let resolved = entry.value.hasPrefix("/") ? entry.value
                    : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(entry.value).path
                watched.append(resolved)
                do throws(FileReadError) {
                    files[key] = try readTextFile(resolved, limit: 1 << 20)
                } catch {
                    problem(key, "cannot read \(resolved): \(error)")
                }
            } else if !scalarKeys.contains(key) {
                problem(key, "unknown or unsupported key")
            }
        }
        let tls = tlsSection(raw, files: files, problem: problem)
        if !problems.isEmpty { throw ConfigError(problems: problems) }
        return WebConfigFile(tls: tls, users: users, headers: headers, watchedFiles: watched,
                             origins: raw.entries.mapValues(\.origin), path: path)
    }

    private static func tlsSection(_ raw: RawConfig, files: [String: String], problem: (String, String) -> Void) -> TLS? {
        func text(_ name: String) -> String? { raw.entries["tls_server_config.\(name)"]?.value }
        let clientCA = files["tls_server_config.client_ca_file"]
        let authType = text("client_auth_type") ?? (text("client_ca_file") != nil ? "RequireAndVerifyClientCert" : "NoClientCert")
        if !clientAuthTypes.contains(authType) {
            problem("tls_server_config.client_auth_type", "unknown value \"\(authType)\": expected one of \(clientAuthTypes.joined(separator: ", "))")
        } else if authType != "NoClientCert" && text("client_ca_file") == nil {
            // libmicrohttpd asks clients for a certificate only when it has CAs to name.
            problem("tls_server_config.client_auth_type", "\(authType) needs client_ca_file")
        }
        let hasCertificate = text("cert_file") != nil, hasKey = text("key_file") != nil
        if hasCertificate != hasKey { problem("tls_server_config", "needs both cert_file and key_file") }
        let tlsKeys = raw.entries.keys.filter { $0.hasPrefix("tls_server_config.") }
        if !hasCertificate && !hasKey && !tlsKeys.isEmpty { problem(tlsKeys.sorted()[0], "needs cert_file and key_file") }
        guard let key = files["tls_server_config.key_file"], let certificate = files["tls_server_config.cert_file"] else { return nil }
        let suites = text("cipher_suites").map { $0.split(separator: ",").map { String($0.filter { !$0.isWhitespace }) } } ?? []
        return TLS(key: key, certificate: certificate, clientCA: clientCA, clientAuthType: authType,
                   minVersion: text("min_version"), maxVersion: text("max_version"), cipherSuites: suites.filter { !$0.isEmpty })
    }
}
