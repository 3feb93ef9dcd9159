import Foundation
import Testing
import VigilProbes
import VigilSecrets
import VigilTestSupport

/// Each probe against the real servers of scripts/services.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct ProbeTests {
    let env = ServicesEnvironment()

    private func redis(tls: Bool, password: String? = nil, ca: String? = nil, serverName: String? = nil,
                       refreshed: Recorded<Int> = Recorded(0), passwords: [String]? = nil) -> RedisProbe {
        let sequence = Recorded(passwords ?? [password ?? env.redisPassword])
        return RedisProbe(tls: RedisTLS(caFile: ca, serverName: serverName), credentials: CredentialsSource(fetch: { _ in
            RedisCredentials(host: "127.0.0.1", port: tls ? env.redisTLSPort : Int(env.redisPort) ?? 0,
                             password: SecretString(sequence.value.first ?? ""), tls: tls)
        }, refresh: { _ in
            refreshed.update { $0 += 1 }
            sequence.update { if $0.count > 1 { $0.removeFirst() } }
        }))
    }

    @Test func redisPlainWithInfoGauges() {
        let result = redis(tls: false).run(timeout: .seconds(2))
        #expect(result.reason == .ok, "\(result.detail)")
        #expect(result.phases.map(\.name) == ["connect", "ping"])
        let metrics = Set(result.measurements.map(\.metric))
        #expect(metrics == ["vigil_redis_connected_clients", "vigil_redis_used_memory_bytes", "vigil_redis_role"])
        #expect(result.measurements.contains { $0.metric == "vigil_redis_role" && $0.labels["role"] == "master" && $0.value == 1 })
    }

    /// An INFO the server refuses (here a real ACL without +info; before
    /// Redis 7 the old multi-section INFO was refused the same way) was
    /// swallowed: no gauges, no degraded state, no log line.
    @Test func redisInfoRefusedDegradesTheRunAndSaysWhy() throws {
        let user = "vigil_noinfo_\(getpid())", password = "canary-noinfo-\(getpid())"
        #expect(runCommand(["redis-cli", "-p", env.redisPort, "--no-auth-warning", "-a", env.redisPassword,
                            "ACL", "SETUSER", user, "on", ">\(password)", "+ping", "+auth"]) == 0)
        defer { _ = runCommand(["redis-cli", "-p", env.redisPort, "--no-auth-warning", "-a", env.redisPassword, "ACL", "DELUSER", user]) }
        let probe = RedisProbe(credentials: CredentialsSource(fetch: { _ in
            RedisCredentials(host: "127.0.0.1", port: Int(env.redisPort) ?? 0, username: user, password: SecretString(password))
        }))
        let result = probe.run(timeout: .seconds(2))
        #expect(result.isAvailable && result.degraded, "\(result.reason) \(result.detail)")
        #expect(result.reason == .protocol && result.detail == "INFO failed: error reply (NOPERM)", "\(result.detail)")
        #expect(result.measurements.isEmpty)
    }

    @Test func redisOverTLSVerifiesThePeer() {
        let verified = redis(tls: true, ca: env.tlsCA).run(timeout: .seconds(2))
        #expect(verified.reason == .ok, "\(verified.detail)")
        let unknownCA = redis(tls: true).run(timeout: .seconds(2))  // system CAs do not know the self-signed one
        #expect(unknownCA.reason == .tls)
        #expect(unknownCA.detail.contains("certificate"))
        let wrongName = redis(tls: true, ca: env.tlsCA, serverName: "db.example.com").run(timeout: .seconds(2))
        #expect(wrongName.reason == .tls)
    }

    @Test func redisKeepsItsConnectionBetweenRuns() {
        let probe = redis(tls: false)
        _ = probe.run(timeout: .seconds(2))
        let second = probe.run(timeout: .seconds(2))
        #expect(second.reason == .ok)
        #expect(second.phases.map(\.name) == ["ping"])
    }

    @Test func authFailureRefreshesCredentialsOnceAndRetries() {
        let refreshed = Recorded(0)
        let probe = redis(tls: false, refreshed: refreshed, passwords: ["rotated-away", env.redisPassword])
        let result = probe.run(timeout: .seconds(2))
        #expect(result.reason == .ok)
        #expect(result.refreshedCredentials)
        #expect(refreshed.value == 1)
        let stillWrong = redis(tls: false, password: "canary-wrong").run(timeout: .seconds(2))
        #expect(stillWrong.reason == .auth)
        #expect(stillWrong.refreshedCredentials)
        let secretCheck3 = !stillWrong.detail.contains("canary-wrong")
        #expect(secretCheck3)
    }

    @Test func postgresConnectThenQueryAndStatementTimeout() throws {
        let credentials = try ConnectionURL.database(env.databaseURL, source: "DATABASE_URL")
        let probe = PostgresProbe(tls: PostgresTLS(mode: "disable"), credentials: CredentialsSource(fetch: { _ in credentials }))
        let first = probe.run(timeout: .seconds(2))
        #expect(first.reason == .ok, "\(first.detail)")
        #expect(first.phases.map(\.name) == ["connect", "query"])
        #expect(probe.run(timeout: .seconds(2)).phases.map(\.name) == ["query"])
    }

    @Test func blackholedPeersTimeOutWithinTheBound() throws {
        let blackhole = try Blackhole()
        let port = blackhole.port
        let probe = PostgresProbe(tls: PostgresTLS(mode: "disable"), credentials: CredentialsSource(fetch: { _ in
            DatabaseCredentials(host: "127.0.0.1", port: port, username: "u", password: SecretString("p"), database: "d")
        }))
        let started = ContinuousClock.now
        let result = probe.run(timeout: .milliseconds(300))
        #expect(result.reason == .timeout)
        #expect(ContinuousClock.now - started < .seconds(2))  // a blackhole never answers: any bound shows the deadline held
        let redisProbe = RedisProbe(credentials: CredentialsSource(fetch: { _ in
            RedisCredentials(host: "127.0.0.1", port: port, password: SecretString("p"))
        }))
        #expect(redisProbe.run(timeout: .milliseconds(300)).reason == .timeout)
        withExtendedLifetime(blackhole) {}
    }
}
