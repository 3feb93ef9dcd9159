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
        vigil.caFile = pki.path("server-ca.pem")
        let host = String(vigil.base.dropFirst("https://".count))
        #expect(pki.servedSerial(host) == "1001")
        let notAfter = #"vigil_tls_not_after_timestamp_seconds{listener="web",certificate="leaf",issuer="server-ca"}"#
        let first = try #require(pki.endDate(pki.path("server.pem")))
        #expect(vigil.value(notAfter) == first)

        // The renewal's key lands first: a pair that does not match is
        // refused, and the old certificate keeps being served on the same port.
        try pki.leaf("renewed", signedBy: "server-ca", serial: 0x2002, days: 5)
        try pki.replace("server", with: "renewed", files: ["key"])
        #expect(VigilProcess.waitUntil(timeout: 10) { vigil.process.log.contains("web configuration not reloaded") },
                "\(vigil.process.log.suffix(1500))")
        #expect(pki.servedSerial(host) == "1001")
        #expect(pki.status(vigil.base + "/health/live", ["--cacert", pki.path("server-ca.pem")]) == "200")
        try pki.replace("server", with: "renewed", files: ["pem"])
        #expect(VigilProcess.waitUntil(timeout: 10) { pki.servedSerial(host) == "2002" }, "\(vigil.process.log.suffix(1500))")
        #expect(pki.status(vigil.base + "/health/live", ["--cacert", pki.path("server-ca.pem")]) == "200")
        #expect(vigil.process.log.contains("web configuration reloaded"))
        // The certificate served now is the one exported, three days later than the first.
        let renewed = try #require(pki.endDate(pki.path("renewed.pem")))
        #expect(renewed > first + 2 * 86_400)
        #expect(VigilProcess.waitUntil(timeout: 5) { vigil.value(notAfter) == renewed }, "\(vigil.metrics)")
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
