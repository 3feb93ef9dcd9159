import Foundation
import Testing
import VigilTestSupport

/// Every TLS certificate Vigil meets or serves, as `openssl x509 -enddate`
/// reads it: PostgreSQL's (its SSLRequest, under libpq's default `prefer`),
/// Redis's, an SMTP server's after STARTTLS, an https target's, and Vigil's
/// own listener's, whose file holds its chain (the CA expiring first) and a
/// stray certificate beside it, which expires sooner and does not count.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct CertificateTests {
    let env = ServicesEnvironment()
    let suffix = String(UUID().uuidString.prefix(6)).lowercased()

    private func notAfter(_ holder: String, _ certificate: String, issuer: String) -> String {
        #"vigil_tls_not_after_timestamp_seconds{\#(holder),certificate="\#(certificate)",issuer="\#(issuer)"}"#
    }

    @Test func theNotAfterOfEveryPeerAndListenerIsExportedAsOpenSSLReadsIt() throws {
        let pki = try TestPKI()
        try pki.authority("vigil-ca")
        try pki.leaf("server", signedBy: "vigil-ca", serial: 0x30, days: 30)
        // A stray certificate sent beside the chain, expiring first: no link of it, so it does not count.
        try pki.authority("stray", days: 1)
        let chain = try pki.write("chain.pem", try ["server", "vigil-ca", "stray"].map {
            try String(contentsOfFile: pki.path("\($0).pem"), encoding: .utf8)
        }.joined())
        let web = try pki.write("web.yml", "tls_server_config:\n  cert_file: \(chain)\n  key_file: server.key\n")
        let redisID = "vigil/certificates-\(suffix)/redis"
        #expect(env.putSecret(redisID, #"{"host":"127.0.0.1","port":\#(env.redisTLSPort),"password":"\#(env.redisPassword)","tls":true}"#))
        let config = { (extra: String) in """
            probes:
              interval: 1s
              timeout: 1s
              redis_tls: {kind: redis, ca_file: "\(env.tlsCA)"}
              mail: {kind: smtp, ca_file: "\(env.tlsCA)"}
            \(extra)
            \(env.devSecrets([("redis_tls", redisID)]))
            """ }
        let vigil = try VigilUnderTest(config: config(""), arguments: ["--web.config.file", web], scheme: "https")
        vigil.caFile = pki.path("vigil-ca.pem")
        // An https target: Vigil's own listener, whose port is known now.
        try vigil.reload(config: config("  own: {kind: http, url: \"\(vigil.base)/health/live\", ca_file: \"\(pki.path("vigil-ca.pem"))\"}"))

        let services = try #require(pki.endDate(env.tlsCA)), leaf = try #require(pki.endDate(pki.path("server.pem")))
        let authority = try #require(pki.endDate(pki.path("vigil-ca.pem")))
        let expected = [
            (notAfter(#"probe="database""#, "leaf", issuer: "vigil-test"), services),
            (notAfter(#"probe="redis_tls""#, "earliest", issuer: "vigil-test"), services),
            (notAfter(#"probe="mail""#, "leaf", issuer: "vigil-test"), services),
            (notAfter(#"probe="own""#, "leaf", issuer: "vigil-ca"), leaf),
            (notAfter(#"probe="own""#, "earliest", issuer: "vigil-ca"), authority),
            (notAfter(#"listener="web""#, "leaf", issuer: "vigil-ca"), leaf),
            (notAfter(#"listener="web""#, "earliest", issuer: "vigil-ca"), authority),
        ]
        let seen = VigilProcess.waitUntil(timeout: 15) {
            let metrics = vigil.metrics
            return expected.allSatisfy { VigilUnderTest.value($0.0, in: metrics) == $0.1 }
        }
        #expect(seen, "\(vigil.metrics.split(separator: "\n").filter { $0.contains("vigil_tls") })")
        #expect(leaf - authority > 20 * 86_400, "the chain's CA expires first: earliest is not the leaf")
        #expect((pki.endDate(pki.path("stray.pem")) ?? .infinity) < authority, "the stray expires before the chain's CA")
        // libpq's `prefer` took TLS, and says so.
        #expect(vigil.verboseCheck("database").facts["database"]?["tls"] == "true")
        #expect(vigil.health()?.checks["own"]?.status == "healthy")
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [vigil.process.log])
    }
}
