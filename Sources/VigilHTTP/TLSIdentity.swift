internal import CMicroHTTPD

/// One `TLSSettings` as GnuTLS takes it (credentials and priorities), built
/// once and handed to every connection that starts while it is current: a
/// reload replaces the identity, never a daemon. GnuTLS keeps a pointer to
/// the credentials rather than a copy, so each connection retains its
/// identity until it closes (`onConnection`), and the last release frees it.
/// Immutable after `init`, and only read by GnuTLS from many threads, as it
/// reads a daemon's own credentials.
final class TLSIdentity: @unchecked Sendable {
    let settings: TLSSettings
    /// What decides which client certificates pass.
    let clientPolicy: ClientPolicy
    private let material: UnsafeMutablePointer<vigil_tls_identity>

    /// Throws, naming which, when GnuTLS refuses the key and certificate as
    /// a pair, the client CAs (asked for only when client certificates are),
    /// or the priorities.
    init(_ settings: TLSSettings) throws(HTTPServerError) {
        let trust = settings.clientAuth == .noClientCert ? nil : settings.clientCA
        var error: Int32 = 0, part: Int32 = 0
        guard let material = vigil_tls_identity_new(settings.key, settings.certificate, trust, settings.priorities,
                                                    &error, &part) else {
            let name = gnutls_strerror_name(error).map { String(cString: $0) } ?? "\(error)"
            let why = switch part {
            case 1: "the key and certificate (\(name)): is the key the certificate's?"
            case 2: "the client CAs (\(name))"
            case 3: "the priorities \"\(settings.priorities ?? "NORMAL")\" from min_version, max_version and cipher_suites (\(name))"
            default: "\(name)"
            }
            throw .badTLSMaterial(why)
        }
        self.settings = settings
        self.material = material
        clientPolicy = ClientPolicy(clientCA: trust, clientAuth: settings.clientAuth)
    }

    /// The client CAs a certificate is asked for and verified with (none
    /// without client authentication), and what `client_auth_type` makes of it.
    struct ClientPolicy: Equatable {
        let clientCA: String?
        let clientAuth: TLSSettings.ClientAuth
    }

    deinit { vigil_tls_identity_free(material) }

    /// Gives a connection that has not shaken hands yet these credentials
    /// and priorities; false when GnuTLS refuses (the handshake then fails).
    func adopt(_ connection: OpaquePointer) -> Bool { vigil_tls_identity_use(connection, material) == 0 }
}
