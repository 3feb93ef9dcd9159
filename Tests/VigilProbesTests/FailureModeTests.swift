import Foundation
import Glibc
import Testing
@testable import VigilProbes
import VigilResults
import VigilSecrets
import VigilTestSupport

/// Probes on a bad day, each case a regression test for a failure mode
/// found in the field or by reading the code (issue "Failure modes").
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct FailureModeTests {
    let env = ServicesEnvironment()

    private func postgres(port: Int) throws -> PostgresProbe {
        var credentials = try ConnectionURL.database(env.databaseURL, source: "DATABASE_URL")
        credentials.port = port
        let fixed = credentials
        return PostgresProbe(tls: PostgresTLS(mode: "disable"), credentials: CredentialsSource(fetch: { _ in fixed }))
    }

    private func redis(port: Int, tls: Bool = false) -> RedisProbe {
        let password = env.redisPassword
        return RedisProbe(tls: RedisTLS(caFile: env.tlsCA), credentials: CredentialsSource(fetch: { _ in
            RedisCredentials(host: "127.0.0.1", port: port, password: SecretString(password), tls: tls)
        }))
    }

    /// A login refused, then a forced refresh that takes the rest of the
    /// timeout (AWS slow during a rotation): the run was reported `timeout`,
    /// so VigilRotationLoginsFailing (reason="auth") never fired.
    @Test func aLoginFailureWhoseRefreshUsesUpTheTimeoutIsStillAuth() throws {
        var credentials = try ConnectionURL.database(env.databaseURL, source: "DATABASE_URL")
        credentials.password = SecretString("canary-rotated-away")
        let stale = credentials
        let refreshes = Recorded(0)
        let probe = PostgresProbe(tls: PostgresTLS(mode: "disable"), credentials: CredentialsSource(fetch: { _ in stale }, refresh: { maxWait in
            refreshes.update { $0 += 1 }
            usleep(UInt32(max(0, maxWait) * 1_000_000) + 50_000)
        }))
        let result = probe.run(timeout: .seconds(1))
        #expect(refreshes.value == 1)
        #expect(result.reason == .auth, "\(result.reason): \(result.detail)")
        #expect(result.refreshedCredentials && result.detail.contains("refresh took the rest of the timeout"))
        #expect(!result.detail.contains("canary-rotated-away"))
    }

    @Test func killedKeptConnectionsReconnectWithinTheSameRun() throws {
        let pgFault = try TCPFault(upstreamPort: env.postgresPort)
        let redisFault = try TCPFault(upstreamPort: Int(env.redisPort) ?? 0)
        let probes: [any Probe] = [try postgres(port: pgFault.port), redis(port: redisFault.port)]
        for probe in probes { #expect(probe.run(timeout: .seconds(2)).reason == .ok) }
        try pgFault.killConnections()
        try redisFault.killConnections()
        for probe in probes {
            let result = probe.run(timeout: .seconds(2))
            #expect(result.reason == .ok, "\(probe.name): \(result.detail)")
            #expect(result.phases.map(\.name).contains("connect"), "\(probe.name) did not reconnect")
        }
    }

    @Test func aFailedFreshConnectionStillCounts() throws {
        let fault = try TCPFault(upstreamPort: Int(env.redisPort) ?? 0)
        let probe = redis(port: fault.port)
        #expect(probe.run(timeout: .seconds(2)).reason == .ok)
        try fault.mode("refuse")
        try fault.killConnections()
        #expect(probe.run(timeout: .seconds(2)).reason == .refused)
    }

    @Test func aSlowInfoDegradesTheRunAndItsConnectionIsNotReused() throws {
        let fault = try TCPFault(upstreamPort: Int(env.redisPort) ?? 0)
        let probe = redis(port: fault.port)
        #expect(probe.run(timeout: .seconds(2)).reason == .ok)
        try fault.mode("slow", seconds: 1)
        let slow = probe.run(timeout: .milliseconds(1_500))  // PING answers at 1 s, INFO would at 2 s
        #expect(slow.degraded && slow.reason == .timeout, "\(slow.reason) \(slow.detail)")
        try fault.mode("pass")
        let next = probe.run(timeout: .seconds(2))  // before: INFO's late reply was read as PING's
        #expect(next.reason == .ok, "\(next.detail)")
        #expect(next.phases.map(\.name) == ["connect", "ping"])
    }

    @Test func aPeerThatNeverStopsSendingIsCutOffByTheDeadline() throws {
        let fault = try TCPFault(upstreamPort: Int(env.redisPort) ?? 0)
        try fault.mode("endless")
        let started = ContinuousClock.now
        let result = redis(port: fault.port).run(timeout: .milliseconds(500))
        #expect(result.reason == .protocol, "\(result.reason): \(result.detail)")
        #expect(ContinuousClock.now - started < .seconds(2))  // an unbounded read never ends; 500 ms + a loaded machine
    }

    @Test func redisErrorTextIsReducedToItsCode() {
        let echoed = "ERR unknown command 'AUTHX', with args beginning with: 'canary-echoed-password'"
        #expect(RedisConnection.errorCode(echoed) == "ERR")
        #expect(RedisConnection.errorCode("WRONGPASS invalid username-password pair") == "WRONGPASS")
        #expect(RedisConnection.errorCode("") == "ERR")
    }

    @Test func failedConnectsNeverCloseADescriptorAnotherThreadOwns() throws {
        let closed = try Blackhole.freePort()
        let stop = Recorded(false)
        let stolen = Recorded(0)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {  // keeps taking the lowest free descriptor, as an accept() would
            while !stop.value {
                let fd = dup(0)
                usleep(50)
                if fcntl(fd, F_GETFD) == -1 { stolen.update { $0 += 1 } } else { close(fd) }
            }
            done.signal()
        }
        for _ in 0..<2000 {
            #expect(throws: ProbeFailure.self) {
                _ = try TCPConnection(host: "127.0.0.1", port: closed, deadline: Deadline(after: .seconds(1)))
            }
        }
        stop.update { $0 = true }
        done.wait()
        #expect(stolen.value == 0, "a descriptor was closed under another thread \(stolen.value) times")
    }

    @Test func unresolvableAndRefusedHostsSayWhyAtOnce() throws {
        let started = ContinuousClock.now
        var credentials = try ConnectionURL.database(env.databaseURL, source: "DATABASE_URL")
        credentials.host = "vigil-no-such-host.invalid"
        let unresolvable = credentials
        let dns = PostgresProbe(tls: PostgresTLS(mode: "disable"), credentials: CredentialsSource(fetch: { _ in unresolvable }))
            .run(timeout: .seconds(2))
        #expect(dns.reason == .dns, "\(dns.reason): \(dns.detail)")
        let refused = try postgres(port: Blackhole.freePort()).run(timeout: .seconds(2))
        #expect(refused.reason == .refused, "\(refused.reason): \(refused.detail)")
        #expect(ContinuousClock.now - started < .seconds(2))
    }
}

/// A resolver that takes its time (5 s per server and attempt by default)
/// no longer holds a probe past its deadline.
struct ResolverTests {
    @Test func aSlowLookupEndsAtTheDeadline() {
        let started = ContinuousClock.now
        #expect {
            _ = try Resolver.resolve("slow.example", port: 5432, deadline: Deadline(after: .milliseconds(200))) { _, _ in
                usleep(2_000_000)
                return nil
            }
        } throws: { ($0 as? ProbeFailure)?.reason == .timeout }
        #expect(ContinuousClock.now - started < .milliseconds(1_500))  // the lookup alone takes 2 s
    }

    /// DNS black-holed and a probe that comes round every few ms: each run
    /// started a lookup thread that outlived it, until thread creation
    /// failed and the process trapped. Runs now share the lookup in flight.
    @Test func runsThatComeRoundDuringAHungLookupShareIt() {
        let lookups = Recorded(0)
        for _ in 0..<100 {
            #expect {
                _ = try Resolver.resolve("black-holed.example", port: 5432, deadline: Deadline(after: .milliseconds(2))) { _, _ in
                    lookups.update { $0 += 1 }
                    usleep(1_000_000)
                    return nil
                }
            } throws: { ($0 as? ProbeFailure)?.reason == .timeout }
        }
        #expect(lookups.value == 1, "\(lookups.value) lookup threads for one name")
    }

    @Test func literalAddressesNeedNoLookup() throws {
        let addresses = try Resolver.resolve("127.0.0.1", port: 1, deadline: Deadline(after: .seconds(1))) { _, _ in
            Issue.record("a literal address was looked up")
            return nil
        }
        #expect(addresses.map(\.numeric) == ["127.0.0.1"])
    }
}

/// The scheduler reports a probe still running past its timeout, and runs a
/// probe before its turn when asked (a secret recovered).
struct SchedulerWatchdogTests {
    final class Quick: Probe {
        let name = "quick"
        let failureReasons = [ProbeReason.timeout]
        func run(timeout: Duration) -> ProbeResult { ProbeResult(probe: name, reason: .ok, latency: .microseconds(1)) }
    }

    final class Stuck: Probe {
        let name = "stuck"
        let failureReasons = [ProbeReason.timeout]
        func run(timeout: Duration) -> ProbeResult {
            usleep(1_500_000)  // a C call that ignores its deadline
            return ProbeResult(probe: name, reason: .ok, latency: .milliseconds(1500))
        }
    }

    final class Sink: ProbeResultSink {
        let results = Recorded<[(ProbeResult, ContinuousClock.Instant)]>([])
        func record(_ result: ProbeResult) { results.update { $0.append((result, .now)) } }
        func firstRoundCompleted() {}
    }

    @Test func aHungRunIsReportedAsTimeoutThenItsRealResult() {
        let sink = Sink()
        let scheduler = ProbeScheduler(entries: [.init(probe: Stuck(), interval: .seconds(10), timeout: .milliseconds(300))],
                                       sink: sink)
        let started = ContinuousClock.now
        scheduler.start()
        #expect(VigilProcess.waitUntil(timeout: 5) { sink.results.value.count >= 2 })
        let results = sink.results.value
        #expect(results.first?.0.reason == .timeout)
        #expect(results.first.map { $0.1 - started < .milliseconds(1_300) } == true, "timeout reported late")  // before the 1.5 s run ends
        #expect(results.dropFirst().first?.0.reason == .ok)
        #expect(scheduler.stop(grace: 2))
    }

    @Test func runSoonRunsAProbeBeforeItsTurn() {
        let sink = Sink()
        let scheduler = ProbeScheduler(entries: [.init(probe: Quick(), interval: .seconds(30), timeout: .seconds(1))], sink: sink)
        scheduler.start()
        #expect(VigilProcess.waitUntil(timeout: 5) { sink.results.value.count == 1 })
        scheduler.runSoon("quick")
        #expect(VigilProcess.waitUntil(timeout: 2) { sink.results.value.count == 2 }, "the kicked probe waited for its 30 s turn")
        #expect(scheduler.stop(grace: 2))
    }
}
