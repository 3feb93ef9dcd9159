import Foundation
import Testing
import VigilTestSupport

/// The smtp kind against a real SMTP server (aiosmtpd with STARTTLS and
/// AUTH, started by scripts/services), credentials from Secrets Manager (moto):
/// a login that works, a wrong password, a server without STARTTLS when it
/// is required, implicit TLS, and a server that stops.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct SMTPProbeTests {
    let env = ServicesEnvironment()
    let suffix = String(UUID().uuidString.prefix(6)).lowercased()
    var prefix: String { "vigil/smtp-\(suffix)" }

    private func login(port: Int, password: String) -> String {
        #"{"host":"127.0.0.1","port":\#(port),"username":"\#(env.smtpUser)","password":"\#(password)"}"#
    }

    @Test func loginsTLSAndAnOutageEachSayWhatHappened() throws {
        let wrong = "smtp-wrong-\(suffix)"
        #expect(env.putSecret("\(prefix)/wrong", login(port: env.smtpPort, password: wrong)))
        let own = try PrivateSMTP()
        let vigil = try VigilUnderTest(config: """
            probes:
              interval: 1s
              timeout: 1s
              mail: {kind: smtp, ca_file: "\(env.tlsCA)"}
              mail_implicit: {kind: smtp, secret: mail, tls: implicit, address: "127.0.0.1:\(env.smtpTLSPort)", ca_file: "\(env.tlsCA)"}
              mail_wrong: {kind: smtp, secret: wrong, ca_file: "\(env.tlsCA)"}
              mail_no_starttls: {kind: smtp, secret: mail, address: "127.0.0.1:\(env.smtpPlainPort)"}
              mail_own: {kind: smtp, secret: mail, address: "127.0.0.1:\(own.port)", ca_file: "\(own.caFile)"}
            secrets:
              environment: dev
              items:
                database: {id: vigil/dev/database/credentials}
                redis: {id: vigil/dev/redis/credentials}
                mail: {id: vigil/dev/email, keys: [username, password]}
                wrong: {id: \(prefix)/wrong}
            """)
        let settled = vigil.seconds(until: { health in
            ["mail", "mail_implicit", "mail_own"].allSatisfy { health.checks[$0]?.status == "healthy" }
                && health.checks["mail_wrong"]?.reason == "auth" && health.checks["mail_no_starttls"]?.reason == "tls"
        }, timeout: 15)
        let health = try #require(vigil.health())
        #expect(settled != nil, "\(health.checks)\n\(vigil.process.log.suffix(3000))")
        #expect(health.services["mail"] == "connected" && health.services["mail_wrong"] == "auth_failed")
        // Not critical by default: a mail server's trouble degrades, it does not drain the fleet.
        #expect(health.code == 200 && health.status == "degraded")
        #expect(vigil.value(#"vigil_probe_target_info{probe="mail",target="127.0.0.1:\#(env.smtpPort)"}"#) == 1)
        #expect(vigil.value(#"vigil_probe_failures_total{probe="mail_wrong",reason="auth"}"#).map { $0 >= 1 } == true)

        try FaultMatrix.exercise(vigil, fault: "SMTP server stopped", component: "mail_own", status: "unhealthy", reason: "refused",
                                 detectWithin: 2.5, recoverWithin: 2.5, kept: "the other targets; overall degraded, 200",
                                 apply: { try own.stop() }, clear: { try own.start() })
        #expect(vigil.health()?.code == 200)

        let verbose = (try? CurlClient().request(vigil.base + "/health?verbose").text) ?? ""
        let metrics = vigil.metrics
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [vigil.process.log, verbose, metrics], extra: [wrong])
        // A login and nothing more: never a MAIL command, so never a message.
        let serverLog = (try? String(contentsOfFile: env.values["VIGIL_TEST_SCRATCH", default: ""] + "/smtp.log", encoding: .utf8)) ?? ""
        #expect(serverLog.contains("AUTH PLAIN accepted") && !serverLog.contains("MAIL seen"))
    }
}
