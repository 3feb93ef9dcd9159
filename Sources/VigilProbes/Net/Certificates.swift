internal import COpenSSL
import Glibc
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
        if certificates.isEmpty { certificates = Self.certificates(in: SSL_get_peer_cert_chain(ssl)) }
        return expiry(of: certificates)
    }

    /// The certificates of PEM texts (libcurl's `CURLINFO_CERTINFO`, the
    /// `cert_file` a listener serves), in order: the first is the leaf.
    public static func parse(pem texts: [String]) -> CertificateExpiry? {
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
        return expiry(of: certificates)
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
