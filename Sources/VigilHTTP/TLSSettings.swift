/// HTTPS as the exporters' web configuration file describes it
/// (exporter-toolkit's `tls_server_config`), in libmicrohttpd's terms: PEM
/// texts and a GnuTLS priority string.
public struct TLSSettings: Sendable, Equatable {
    /// exporter-toolkit's `client_auth_type` values, Go's `tls.ClientAuthType`.
    public enum ClientAuth: String, Sendable, CaseIterable {
        case noClientCert = "NoClientCert"
        case requestClientCert = "RequestClientCert"
        case requireAnyClientCert = "RequireAnyClientCert"
        case verifyClientCertIfGiven = "VerifyClientCertIfGiven"
        case requireAndVerifyClientCert = "RequireAndVerifyClientCert"

        /// A connection without a certificate is refused.
        var requiresCertificate: Bool { self == .requireAnyClientCert || self == .requireAndVerifyClientCert }
        /// A presented certificate must chain to the client CAs.
        var verifies: Bool { self == .verifyClientCertIfGiven || self == .requireAndVerifyClientCert }
    }

    public var key: String
    public var certificate: String
    /// PEM CAs client certificates must chain to; libmicrohttpd asks
    /// clients for a certificate only when it has some.
    public var clientCA: String?
    public var clientAuth: ClientAuth
    /// GnuTLS priorities from the versions and cipher suites; nil: GnuTLS's default.
    public var priorities: String?

    public init(key: String, certificate: String, clientCA: String? = nil, clientAuth: ClientAuth = .noClientCert,
                priorities: String? = nil) {
        self.key = key
        self.certificate = certificate
        self.clientCA = clientCA
        self.clientAuth = clientAuth
        self.priorities = priorities
    }

    /// Go's version names, oldest first.
    public static let versions = ["TLS10", "TLS11", "TLS12", "TLS13"]

    /// The GnuTLS priority string for exporter-toolkit's `min_version`
    /// (default TLS12, as exporter-toolkit's), `max_version` (default TLS13)
    /// and `cipher_suites` (Go names). Go applies cipher suites to TLS 1.2
    /// and below only; GnuTLS has one cipher list for every version, so with
    /// TLS 1.3 allowed its three AEAD ciphers stay enabled as well.
    public static func priorities(minVersion: String?, maxVersion: String?,
                                  cipherSuites: [String]) throws(TLSSettingsError) -> String {
        let low = try versionIndex(minVersion ?? "TLS12", key: "min_version")
        let high = try versionIndex(maxVersion ?? "TLS13", key: "max_version")
        guard low <= high else { throw TLSSettingsError(key: "max_version", message: "is older than min_version") }
        var parts = ["NORMAL", "-VERS-ALL"] + (low...high).map { "+VERS-TLS1.\($0)" }
        guard !cipherSuites.isEmpty else { return parts.joined(separator: ":") }
        var tokens: [String] = []
        for name in cipherSuites {
            guard let suite = cipherSuiteTokens[name] else {
                throw TLSSettingsError(key: "cipher_suites", message: "unknown cipher suite \"\(name)\" (Go's names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)")
            }
            for token in suite where !tokens.contains(token) { tokens.append(token) }
        }
        if high == 3 {
            for token in ["+AES-128-GCM", "+AES-256-GCM", "+CHACHA20-POLY1305", "+AEAD"] where !tokens.contains(token) { tokens.append(token) }
        }
        parts += ["-KX-ALL", "-CIPHER-ALL", "-MAC-ALL"] + tokens
        return parts.joined(separator: ":")
    }

    private static func versionIndex(_ name: String, key: String) throws(TLSSettingsError) -> Int {
        guard let index = versions.firstIndex(of: name) else {
            throw TLSSettingsError(key: key, message: "unknown version \"\(name)\": expected one of \(versions.joined(separator: ", "))")
        }
        return index
    }

    /// Go's cipher suite names and their GnuTLS key exchange, cipher and MAC.
    /// TLS 1.3's suites take no configuration in Go either: accepted, no tokens.
    static let cipherSuiteTokens: [String: [String]] = {
        var table: [String: [String]] = ["TLS_AES_128_GCM_SHA256": [], "TLS_AES_256_GCM_SHA384": [], "TLS_CHACHA20_POLY1305_SHA256": []]
        let ciphers = [("AES_128_GCM_SHA256", "AES-128-GCM", "AEAD"), ("AES_256_GCM_SHA384", "AES-256-GCM", "AEAD"),
                       ("AES_128_CBC_SHA", "AES-128-CBC", "SHA1"), ("AES_256_CBC_SHA", "AES-256-CBC", "SHA1"),
                       ("AES_128_CBC_SHA256", "AES-128-CBC", "SHA256")]
        for (exchange, token) in [("ECDHE_ECDSA", "ECDHE-ECDSA"), ("ECDHE_RSA", "ECDHE-RSA"), ("RSA", "RSA")] {
            for (suffix, cipher, mac) in ciphers {
                table["TLS_\(exchange)_WITH_\(suffix)"] = ["+\(token)", "+\(cipher)", "+\(mac)"]
            }
            guard exchange != "RSA" else { continue }
            let chacha = ["+\(token)", "+CHACHA20-POLY1305", "+AEAD"]
            table["TLS_\(exchange)_WITH_CHACHA20_POLY1305_SHA256"] = chacha
            table["TLS_\(exchange)_WITH_CHACHA20_POLY1305"] = chacha
        }
        return table
    }()
}

/// A web configuration value libmicrohttpd cannot honour, by its key under `tls_server_config`.
public struct TLSSettingsError: Error, Equatable {
    public var key: String
    public var message: String
}
