internal import COpenSSL
import Glibc
import VigilPlatform
import VigilResults

/// TLS over a connected TCP socket with OpenSSL: peer certificate verified
/// (system CAs or a CA file) and its name checked, handshake and I/O
/// non-blocking under the probe's deadline. Only this file and
/// `Certificates.swift` see OpenSSL.
final class TLSStream: ByteStream {
    private let tcp: TCPConnection
    var descriptor: Int32 { tcp.fd }
    private let context: OpaquePointer
    private let ssl: OpaquePointer
    private(set) var certificate: CertificateExpiry?

    init(_ tcp: TCPConnection, host: String, caFile: String?, serverName: String?, deadline: Deadline) throws(ProbeFailure) {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw Self.failure("cannot create a TLS context") }
        self.context = context
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        let loaded = (caFile ?? SystemCABundle.path).map { SSL_CTX_load_verify_locations(context, $0, nil) }
            ?? SSL_CTX_set_default_verify_paths(context)
        guard loaded == 1, let ssl = SSL_new(context) else {
            SSL_CTX_free(context)
            throw Self.failure("cannot load the CA certificates")
        }
        self.ssl = ssl
        self.tcp = tcp
        SSL_set_fd(ssl, tcp.fd)
        let name = serverName ?? host
        if Self.isIPAddress(name) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
        } else {
            SSL_set1_host(ssl, name)
            vigil_ssl_set_sni(ssl, name)
        }
        try drive(deadline) { SSL_connect(ssl) }
        certificate = Certificates.met(by: ssl)
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    func write(_ bytes: [UInt8], deadline: Deadline) throws(ProbeFailure) {
        var offset = 0
        while offset < bytes.count {
            let remaining = Array(bytes[offset...])
            let written = try drive(deadline) { remaining.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) } }
            offset += Int(written)
        }
    }

    func read(into buffer: inout [UInt8], deadline: Deadline) throws(ProbeFailure) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let got = try drive(deadline) { chunk.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) } }
        buffer.append(contentsOf: chunk[..<Int(got)])
    }

    /// Repeats an OpenSSL call until it succeeds, waiting on the socket for
    /// what OpenSSL wants (read or write) within the deadline.
    @discardableResult
    private func drive(_ deadline: Deadline, _ call: () -> Int32) throws(ProbeFailure) -> Int32 {
        while true {
            ERR_clear_error()
            let result = call()
            if result > 0 { return result }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ:
                guard deadline.wait(fd: tcp.fd, for: Int16(POLLIN)) else { throw ProbeFailure(reason: .timeout, detail: "TLS: no answer in time") }
            case SSL_ERROR_WANT_WRITE:
                guard deadline.wait(fd: tcp.fd, for: Int16(POLLOUT)) else { throw ProbeFailure(reason: .timeout, detail: "TLS: send did not complete in time") }
            case SSL_ERROR_ZERO_RETURN:
                throw ProbeFailure(reason: .protocol, detail: "server closed the TLS connection")
            default:
                let verify = SSL_get_verify_result(ssl)
                if verify != X509_V_OK { throw Self.failure("certificate: " + String(cString: X509_verify_cert_error_string(verify))) }
                let code = ERR_get_error()
                throw Self.failure(code == 0 ? "handshake failed" : String(cString: ERR_reason_error_string(code) ?? ERR_lib_error_string(code)))
            }
        }
    }

    private static func failure(_ detail: String) -> ProbeFailure { ProbeFailure(reason: .tls, detail: "TLS: " + detail) }

    private static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
