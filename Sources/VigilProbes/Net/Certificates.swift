internal import COpenSSL
import Glibc
import VigilPlatform
import VigilResults

/// Reads expiry and issuer from X.509 certificates with OpenSSL, wherever
/// Vigil meets them: a handshake of its own or libpq's (an `SSL *`), the
/// PEM chain libcurl reports, and the file a listener serves. The only
/// file besides `TLSStream.swift` that sees OpenSSL's types.
public enum Certificates {
    /// What the peer of an established OpenSSL connection presented: the
    /// verified chain when verification ran (leaf first), else the chain
    /// the peer sent (libpq's `sslmode=require` verifies nothing).
    static func met(by ssl: OpaquePointer) -> CertificateExpiry? {
        var certificates = certificates(in: SSL_get0_verified_chain(ssl))
        if certificates.isEmpty { certificates = issuerPath(Self.certificates(in: SSL_get_peer_cert_chain(ssl))) }
        return expiry(of: certificates)
    }

    /// The certificates of PEM texts (libcurl's `CURLINFO_CERTINFO`, the
    /// `cert_file` a listener serves), in order: the first is the leaf.
    public static func parse(pem texts: [String]) -> CertificateExpiry? { read(pem: texts, verifying: nil) }

    /// The chain a client verifying against `caFile` (nil: the system's
    /// CAs) builds from the certificates a server sent, leaf first: one the
    /// server sends that no such chain uses (an old cross-signed root)
    /// does not count; when none verifies, the chain as sent.
    static func verified(pem texts: [String], caFile: String?) -> CertificateExpiry? { read(pem: texts, verifying: .some(caFile)) }

    private static func read(pem texts: [String], verifying caFile: String??) -> CertificateExpiry? {
        var certificates: [OpaquePointer] = []
        defer { certificates.forEach { X509_free($0) } }
        for text in texts {
            // A memory BIO reads the caller's bytes in place: they must outlive it.
            Array(text.utf8).withUnsafeBytes { bytes in
                guard let bio = BIO_new_mem_buf(bytes.baseAddress, Int32(bytes.count)) else { return }
                defer { BIO_free(bio) }
                while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) { certificates.append(certificate) }
            }
            ERR_clear_error()  // the end of the text reads as "no start line"
        }
        if case .some(let caFile) = caFile, let leaf = certificates.first,
           let verified = verified(leaf, untrusted: Array(certificates.dropFirst()), caFile: caFile) {
            return verified
        }
        return expiry(of: issuerPath(certificates))
    }

    /// The certificates as sent, from the leaf up each one's issuer among
    /// them, to a self-signed one or the last found: one sent beside the
    /// chain (a stray or an old cross-signed root) is no link of it.
    private static func issuerPath(_ certificates: [OpaquePointer]) -> [OpaquePointer] {
        guard var current = certificates.first else { return [] }
        var path = [current]
        while X509_check_issued(current, current) != X509_V_OK,
              let issuer = certificates.first(where: { !path.contains($0) && X509_check_issued($0, current) == X509_V_OK }) {
            path.append(issuer)
            current = issuer
        }
        return path
    }

    /// The expiry of the chain OpenSSL verifies `leaf` by, or nil.
    private static func verified(_ leaf: OpaquePointer, untrusted: [OpaquePointer], caFile: String?) -> CertificateExpiry? {
        guard let store = X509_STORE_new() else { return nil }
        defer { X509_STORE_free(store) }
        let loaded = (caFile ?? SystemCABundle.path).map { X509_STORE_load_file(store, $0) } ?? X509_STORE_set_default_paths(store)
        guard loaded == 1, let context = X509_STORE_CTX_new(), let sent = OPENSSL_sk_new_null() else { ERR_clear_error(); return nil }
        defer {
            X509_STORE_CTX_free(context)
            OPENSSL_sk_free(sent)
        }
        for certificate in untrusted { OPENSSL_sk_push(sent, UnsafeRawPointer(certificate)) }
        defer { ERR_clear_error() }
        guard X509_STORE_CTX_init(context, store, leaf, sent) == 1, X509_verify_cert(context) == 1 else { return nil }
        return expiry(of: certificates(in: X509_STORE_CTX_get0_chain(context)))  // the context's: read before it is freed
    }

    private static func certificates(in chain: OpaquePointer?) -> [OpaquePointer] {
        guard let chain else { return [] }
        return (0..<max(0, OPENSSL_sk_num(chain))).compactMap { OPENSSL_sk_value(chain, $0).map(OpaquePointer.init) }
    }

    private static func expiry(of certificates: [OpaquePointer]) -> CertificateExpiry? {
        let notAfter = certificates.compactMap(Self.notAfter)
        guard let leaf = certificates.first, let leafNotAfter = notAfter.first, notAfter.count == certificates.count else { return nil }
        return CertificateExpiry(leaf: leafNotAfter, earliest: notAfter.min() ?? leafNotAfter, issuer: issuer(of: leaf))
    }

    private static func notAfter(_ certificate: OpaquePointer) -> Double? {
        var parts = tm()
        guard let time = X509_get0_notAfter(certificate), ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Double(timegm(&parts))
    }

    /// The issuer's common name, else its organisation, else "unknown":
    /// printable ASCII only, at most 64 characters (it becomes a label).
    private static func issuer(of certificate: OpaquePointer) -> String {
        guard let name = X509_get_issuer_name(certificate) else { return "unknown" }
        for nid in [NID_commonName, NID_organizationName] {
            let index = X509_NAME_get_index_by_NID(name, nid, -1)
            guard index >= 0, let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry),
                  let bytes = ASN1_STRING_get0_data(data) else { continue }
            let text = UnsafeBufferPointer(start: bytes, count: Int(ASN1_STRING_length(data)))
                .filter { (0x20..<0x7f).contains($0) }.prefix(64)
            if !text.isEmpty { return String(decoding: text, as: UTF8.self) }
        }
        return "unknown"
    }
}
