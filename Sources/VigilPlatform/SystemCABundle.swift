#if canImport(Glibc)
import Glibc
#endif

/// The system's CA certificates as one PEM file, wherever this Linux keeps
/// it. The release links libcurl, OpenSSL and libpq statically, with
/// Debian's paths compiled in (`/etc/ssl/certs/ca-certificates.crt`,
/// `/usr/lib/ssl`): on Amazon Linux or RHEL nothing is there, and every TLS
/// connection would fail to verify. Go's crypto/x509 looks the same way.
public enum SystemCABundle {
    /// Debian and Ubuntu; Amazon Linux, Fedora and RHEL; openSUSE; RHEL's
    /// extracted trust; Alpine and the BSD layout.
    public static let candidates = [
        "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem",
    ]

    /// `SSL_CERT_FILE` when set (OpenSSL's own override), else the first candidate that exists; nil when none does.
    public static let path: String? = find(environment: getenv("SSL_CERT_FILE").map { String(cString: $0) }, candidates: candidates)

    static func find(environment: String?, candidates: [String]) -> String? {
        if let environment, !environment.isEmpty { return environment }
        return candidates.first { access($0, R_OK) == 0 }
    }
}
