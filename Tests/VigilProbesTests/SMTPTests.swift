import Foundation
import Testing
import VigilPlatform
@testable import VigilProbes
import VigilSecrets
import VigilTestSupport

/// The smtp kind's reply reader and credentials, and its runs against the
/// real SMTP server of scripts/services (STARTTLS, plain and implicit TLS ports).
@Suite struct SMTPReplyTests {
    @Test func repliesAreReadWholeWithOneCode() {
        let ehlo = Array("250-mail.example.com\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n".utf8)
        #expect(SMTPConnection.parse(ehlo) == .reply(.init(code: 250, lines: ["mail.example.com", "STARTTLS", "AUTH PLAIN LOGIN"]),
                                                      consumed: ehlo.count))
        #expect(SMTPConnection.parse(Array("235\r\nextra".utf8)) == .reply(.init(code: 235, lines: [""]), consumed: 5))
        #expect(SMTPConnection.parse(Array("250-first\r\n250 sec".utf8)) == .needMore)
        for bad in ["250-a\r\n251 b\r\n", "hello\r\n", "25\r\n", "250xtext\r\n", "999 no\r\n"] {
            #expect(SMTPConnection.parse(Array(bad.utf8)) == .invalid, "\(bad)")
        }
    }

    private func value(_ text: String) -> SecretValue {
        SecretValue(name: "mail", secretID: "app/mail", value: SecretString(text), versionID: nil, source: .aws, confirmedAt: nil)
    }

    @Test func credentialsFromJSONOrAURLAndErrorsNameKeysNeverValues() throws {
        let json = try SMTPCredentials(value(#"{"host":"smtp.example.com","port":"465","user":"apikey","password":"canary-pw"}"#),
                                       requiredKeys: [])
        #expect(json.address == HostPort(host: "smtp.example.com", port: 465) && json.username == "apikey")
        let url = try SMTPCredentials(value("smtps://apikey:canary-pw@smtp.example.com"), requiredKeys: [])
        #expect(url.address == HostPort(host: "smtp.example.com", port: 465) && url.username == "apikey")
        #expect(try SMTPCredentials(value(#"{"username":"a","password":"b"}"#), requiredKeys: []).address == nil)
        for (text, reason) in [(#"{"username":"a","secret":"canary-pw"}"#, "missing key password"),
                               (#"{"password":"canary-pw"}"#, "missing keys from, username"),
                               ("postgres://a:canary-pw@h/db", "neither a JSON object nor an smtp:// URL")] {
            #expect(throws: CredentialsError.malformed(source: "secret mail", reason: reason)) {
                try SMTPCredentials(value(text), requiredKeys: text.contains("secret") ? [] : ["from"])
            }
        }
    }
}

@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct SMTPProbeRunTests {
    let env = ServicesEnvironment()

    private func probe(port: Int, tls: SMTPProbe.TLSMode = .starttls, mechanism: String? = nil, password: String? = nil,
                       refreshed: Recorded<Int> = Recorded(0)) -> SMTPProbe {
        let login = SMTPCredentials(address: HostPort(host: "127.0.0.1", port: port), username: env.smtpUser,
                                    password: SecretString(password ?? env.smtpPassword))
        return SMTPProbe(name: "mail", settings: SMTPProbe.Settings(tls: tls, mechanism: mechanism, caFile: env.tlsCA),
                         credentials: CredentialsSource(fetch: { _ in login }, refresh: { _ in refreshed.update { $0 += 1 } }))
    }

    @Test func startTLSThenEachMechanismLogsIn() {
        for mechanism in [nil, "PLAIN", "LOGIN"] {
            let result = probe(port: env.smtpPort, mechanism: mechanism).run(timeout: .seconds(3))
            #expect(result.reason == .ok, "\(mechanism ?? "auto"): \(result.detail)")
            #expect(result.phases.map(\.name) == ["connect", "tls", "auth"] && result.target == "127.0.0.1:\(env.smtpPort)")
        }
        let implicit = probe(port: env.smtpTLSPort, tls: .implicit).run(timeout: .seconds(3))
        #expect(implicit.reason == .ok && implicit.phases.map(\.name) == ["connect", "tls", "auth"], "\(implicit.detail)")
    }

    @Test func aWrongPasswordIsAuthAfterOneRefresh() {
        let refreshed = Recorded(0)
        let result = probe(port: env.smtpPort, password: "smtp-wrong-canary", refreshed: refreshed).run(timeout: .seconds(3))
        #expect(result.reason == .auth && result.refreshedCredentials && refreshed.value == 1, "\(result.detail)")
        env.assertNoCanary(in: [result.detail], extra: ["smtp-wrong-canary"])
    }

    /// The plain port offers no STARTTLS: refused when required, used in the clear only when told so.
    @Test func tlsIsRequiredUnlessSaidOtherwise() {
        let required = probe(port: env.smtpPlainPort).run(timeout: .seconds(3))
        #expect(required.reason == .tls && required.detail == "the server does not offer STARTTLS")
        let optional = probe(port: env.smtpPlainPort, tls: .starttlsIfOffered).run(timeout: .seconds(3))
        #expect(optional.reason == .ok && optional.facts.first?.fields.first == .init(name: "tls", value: "false"), "\(optional.detail)")
        // STARTTLS port, TLS off: the server keeps AUTH until TLS, as it should.
        let off = probe(port: env.smtpPort, tls: .off).run(timeout: .seconds(3))
        #expect(off.reason == .protocol && off.detail == "the server offers no AUTH (it may want TLS first)")
    }

    @Test func aClosedPortIsRefused() throws {
        let result = probe(port: try Blackhole.freePort()).run(timeout: .seconds(2))
        #expect(result.reason == .refused)
    }
}
