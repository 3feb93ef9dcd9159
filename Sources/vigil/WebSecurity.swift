import VigilConfig
import VigilHTTP

/// `web.config_file` as the HTTP server takes it: TLS settings with GnuTLS
/// priorities, basic auth users, response headers. Loading it checks
/// everything the server will be given, so `vigil config check`, start-up
/// and a reload refuse the same files.
struct WebSecurity: Sendable {
    var tls: TLSSettings?
    var users: BasicAuthUsers?
    var headers: [(name: String, value: String)] = []
    /// The file itself and its certificate, key and client CA files: their
    /// change is picked up without a signal.
    var watchedFiles: [String] = []

    /// Loads the web configuration or exits 78 after printing its problems.
    static func loadOrExit(_ path: String?) throws -> WebSecurity {
        do {
            return try load(path)
        } catch {
            throw reportFailure(error, exitCode: exitConfigError)
        }
    }

    static func load(_ path: String?) throws(ConfigError) -> WebSecurity {
        guard let path else { return WebSecurity() }
        let file = try WebConfigFile.load(path: path)
        var security = WebSecurity(users: file.users.isEmpty ? nil : BasicAuthUsers(hashes: file.users),
                                   headers: file.headers, watchedFiles: [path] + file.watchedFiles)
        guard let tls = file.tls else { return security }
        do throws(TLSSettingsError) {
            let priorities = try TLSSettings.priorities(minVersion: tls.minVersion, maxVersion: tls.maxVersion,
                                                        cipherSuites: tls.cipherSuites)
            security.tls = TLSSettings(key: tls.key, certificate: tls.certificate, clientCA: tls.clientCA,
                                       clientAuth: TLSSettings.ClientAuth(rawValue: tls.clientAuthType) ?? .noClientCert,
                                       priorities: priorities)
        } catch {
            let key = "tls_server_config.\(error.key)"
            throw ConfigError(problems: [ConfigProblem(key: key, origin: file.origins[key] ?? path, message: error.message)])
        }
        return security
    }
}
