import Foundation
import Testing
import VigilTestSupport

/// How Vigil listens, as deployments have it: dual-stack `:PORT`, a
/// certificate renewed in place (cert-manager), client certificates.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct ListenerTests {
    let env = ServicesEnvironment()

    @Test func portAloneListensOnIPv4AndIPv6() throws {
        let port = try Blackhole.freePort()
        let vigil = try VigilProcess(["serve", "--web.listen-address", ":\(port)"])
        #expect(vigil.waitForListenAddress() != nil, "\(vigil.log)")
        for url in ["http://127.0.0.1:\(port)/health/live", "http://[::1]:\(port)/health/live"] {
            let reply = try ChildProcess.run(["curl", "-gs", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", url])
            #expect(reply.output == "200", "\(url): \(reply.output)")
        }
        #expect(vigil.stop() == 0)
    }

    @Test func aCertificateReplacedOnDiskIsServedAtTheNextHandshakeWithoutASignal() throws {
        let pki = try TestPKI()
        try pki.authority("server-ca")
        try pki.leaf("server", signedBy: "server-ca", serial: 0x1001)
        let web = try pki.write("web.yml", "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n")
        let vigil = try VigilUnderTest(config: "probes:\n  interval: 1s\n", arguments: ["--web.config.file", web], scheme: "https")
        let host = String(vigil.base.dropFirst("https://".count))
        #expect(pki.servedSerial(host) == "1001")

        // The renewal's key lands first: a pair that does not match is
        // refused, and the old certificate keeps being served on the same port.
        try pki.leaf("renewed", signedBy: "server-ca", serial: 0x2002)
        try pki.replace("server", with: "renewed", files: ["key"])
        #expect(VigilProcess.waitUntil(timeout: 10) { vigil.process.log.contains("web configuration not reloaded") },
                "\(vigil.process.log.suffix(1500))")
        #expect(pki.servedSerial(host) == "1001")
        #expect(pki.status(vigil.base + "/health/live", ["--cacert", pki.path("server-ca.pem")]) == "200")
        try pki.replace("server", with: "renewed", files: ["pem"])
        #expect(VigilProcess.waitUntil(timeout: 10) { pki.servedSerial(host) == "2002" }, "\(vigil.process.log.suffix(1500))")
        #expect(pki.status(vigil.base + "/health/live", ["--cacert", pki.path("server-ca.pem")]) == "200")
        #expect(vigil.process.log.contains("web configuration reloaded"))
        #expect(vigil.process.stop() == 0)
    }

    @Test func clientCertificatesFromTheConfiguredCAOnlyAndTLS13Only() throws {
        let pki = try TestPKI()
        for authority in ["server-ca", "clients", "elsewhere"] { try pki.authority(authority) }
        try pki.leaf("server", signedBy: "server-ca", serial: 1)
        try pki.leaf("prometheus", signedBy: "clients", serial: 2)
        try pki.leaf("stranger", signedBy: "elsewhere", serial: 3)
        try pki.leaf("impostor", signedBy: "clients", serial: 4, usage: "serverAuth")
        let web = try pki.write("web.yml", """
            tls_server_config:
              cert_file: server.pem
              key_file: server.key
              client_ca_file: clients.pem
              client_auth_type: RequireAndVerifyClientCert
              min_version: TLS13
            """)
        let vigil = try VigilUnderTest(config: "probes:\n  interval: 1s\n", arguments: ["--web.config.file", web], scheme: "https")
        let url = vigil.base + "/metrics", ca = ["--cacert", pki.path("server-ca.pem")]
        func as_(_ client: String) -> [String] { ["--cert", pki.path("\(client).pem"), "--key", pki.path("\(client).key")] }
        #expect(pki.status(url, ca) != "200", "no certificate")
        #expect(pki.status(url, ca + as_("stranger")) != "200", "a certificate from another CA")
        #expect(pki.status(url, ca + as_("impostor")) != "200", "a server certificate of the clients' CA")
        #expect(pki.status(url, ca + as_("prometheus")) == "200")
        #expect(pki.status(url, ca + as_("prometheus") + ["--tls-max", "1.2"]) == "000", "TLS 1.2 accepted with min_version TLS13")
        #expect(vigil.process.stop() == 0)
    }
}

private struct PKIError: Error { var output: String }

/// A throwaway PKI made with the openssl CLI (P-256 keys: fast to make).
private struct TestPKI {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-pki-\(UUID().uuidString.prefix(8))")

    init() throws { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    private func openssl(_ script: String) throws {
        let run = try ChildProcess.run(["bash", "-c", "cd '\(folder.path)' && \(script)"])
        guard run.status == 0 else { throw PKIError(output: run.output) }
    }

    private let newKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

    func authority(_ name: String) throws {
        try openssl("openssl req -x509 \(newKey) -days 2 -subj /CN=\(name) -keyout \(name).key -out \(name).pem 2>&1")
    }

    /// A certificate for 127.0.0.1 signed by `authority`, for `usage`.
    func leaf(_ name: String, signedBy authority: String, serial: Int, usage: String = "serverAuth,clientAuth") throws {
        try openssl("""
            openssl req -new \(newKey) -subj /CN=\(name) -keyout \(name).key -out \(name).csr 2>&1 && \
            printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=\(usage)\\n' > \(name).ext && \
            openssl x509 -req -in \(name).csr -CA \(authority).pem -CAkey \(authority).key -set_serial \(serial) \
              -days 2 -extfile \(name).ext -out \(name).pem 2>&1
            """)
    }

    /// Moves `source`'s files (`key`, `pem`) over `target`'s, by atomic renames.
    func replace(_ target: String, with source: String, files: [String]) throws {
        try openssl(files.map { "cp \(source).\($0) \(target).\($0).new && mv \(target).\($0).new \(target).\($0)" }
            .joined(separator: " && "))
    }

    /// The serial number of the certificate `host` presents, in hex.
    func servedSerial(_ host: String) -> String? {
        let run = try? ChildProcess.run(["bash", "-c",
            "openssl s_client -connect \(host) </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null"])
        return run?.output.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// The HTTP status curl got ("000" when the handshake failed).
    func status(_ url: String, _ options: [String]) -> String {
        let run = try? ChildProcess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5"] + options + [url])
        return run?.output ?? "?"
    }
}
