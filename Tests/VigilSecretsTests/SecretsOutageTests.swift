import Foundation
import Prometheus
import Testing
import VigilSecrets
import VigilTestSupport

/// The secrets client on a bad day: AWS hanging, denying, deleting. Each
/// test fails on the client as it was before stale-while-revalidate.
extension SecretsClientTests {
    /// The client as these tests want it: a 60 s TTL, one short attempt.
    private func outageClient(attemptTimeout: Double = 1) -> SecretsClient {
        client(ttl: 60, attempts: 1, attemptTimeout: attemptTimeout)
    }

    @Test func withAWSHangingAStaleValueIsServedAtOnceAndTheHangIsVisible() throws {
        let secrets = outageClient(attemptTimeout: 2)
        secrets.preload()
        try proxy.inject("hang", sticky: true)
        clock.advance(61)
        let started = ContinuousClock.now
        for _ in 0..<100 { #expect(try secrets.get("database").source == .emergencyCache) }
        let took = ContinuousClock.now - started
        #expect(took < .seconds(1), "100 lookups took \(took) with AWS hanging")  // each waiting on the hang: 200 s
        clock.advance(2)  // the refresh started by the first lookup is still waiting
        let database = try #require(secrets.statuses().first { $0.name == "database" })
        #expect(database.state == .stale)
        #expect((database.refreshingFor ?? 0) >= 2)
        secrets.publishGauges()
        #expect(metrics.contains("vigil_secrets_served_stale 2"))
        #expect(secrets.waitForRefreshes(timeout: 10))  // the attempt times out after 2 s
        #expect(secrets.statuses().first { $0.name == "database" }?.failure == .timeout)
        try proxy.clear()
    }

    /// While the first refresh hangs, the environment value a lookup fell back
    /// to is served at once afterwards, not after another wait on the hang.
    @Test func anEnvironmentValueOnceServedIsServedAtOnceWhileAWSHangs() throws {
        let secrets = client(environment: ["REDIS_URL": "redis://:canary-env-hang@127.0.0.1:6379/0"], ttl: 60, attempts: 1,
                             attemptTimeout: 5)
        try proxy.inject("hang", sticky: true)
        #expect(try secrets.get("redis", maxWait: 0.3).source == .environment)  // waited 0.3 s for AWS, then fell back
        let started = ContinuousClock.now
        for _ in 0..<10 { #expect(try secrets.get("redis", maxWait: 1).source == .environment) }
        let took = ContinuousClock.now - started
        #expect(took < .seconds(2), "10 lookups took \(took) while the first refresh hung")  // each waiting its 1 s: 10 s
        try proxy.clear()
        secrets.waitForRefreshes(timeout: 10)
    }

    @Test func aColdMissWaitsNoLongerThanTheCallerAllows() throws {
        let secrets = outageClient(attemptTimeout: 5)
        try proxy.inject("hang", sticky: true)
        let started = ContinuousClock.now
        #expect(throws: SecretsError.self) { try secrets.get("redis", maxWait: 0.3) }
        #expect(ContinuousClock.now - started < .milliseconds(2_500))  // the attempt alone would take 5 s
        try proxy.clear()
        secrets.waitForRefreshes(timeout: 10)
    }

    @Test func aSecretThatNeverLoadedBacksOffAndForcedRefreshesRespectTheBackoff() throws {
        let secrets = outageClient()
        try proxy.inject("error", sticky: true)
        #expect(throws: SecretsError.self) { try secrets.get("redis") }
        let attempts = try targets().count
        #expect(attempts == 1)
        #expect(throws: SecretsError.self) { try secrets.get("redis") }
        #expect(throws: SecretsError.self) { try secrets.forceRefresh("redis") }
        #expect(try targets().count == attempts, "a failing secret was retried within its backoff")
        clock.advance(1.5)
        #expect(throws: SecretsError.self) { try secrets.get("redis") }
        #expect(try targets().count == attempts + 1)
    }

    @Test func describeDeniedFallsBackToGetSecretValue() throws {
        let secrets = outageClient()
        secrets.preload()
        try proxy.clear()
        try proxy.inject("deny", sticky: true, target: "DescribeSecret")
        clock.advance(61)
        _ = try secrets.get("database")
        #expect(secrets.waitForRefreshes(timeout: 10))
        #expect(try targets() == ["DescribeSecret", "GetSecretValue"])
        #expect(secrets.statuses().first { $0.name == "database" }?.state == .fresh)
        try proxy.clear()
        clock.advance(61)
        _ = try secrets.get("database")
        #expect(secrets.waitForRefreshes(timeout: 10))
        #expect(try targets() == ["GetSecretValue"], "DescribeSecret asked again after it was denied")
    }

    @Test(arguments: [("deny", SecretsFailure.accessDenied), ("notfound", .notFound), ("throttle", .throttled),
                      ("error", .awsError), ("expired", .authentication)])
    func revokedOrDeletedIsToldApartFromAnOutageAndStillServed(mode: String, failure: SecretsFailure) throws {
        let secrets = outageClient()
        secrets.preload()
        try proxy.inject(mode, sticky: true)
        clock.advance(61)
        #expect(try secrets.get("redis").source == .emergencyCache)
        #expect(secrets.waitForRefreshes(timeout: 10))
        #expect(secrets.statuses().first { $0.name == "redis" }?.failure == failure)
        #expect(metrics.contains(#"vigil_secrets_refresh_failures_total{secret="redis",reason="\#(failure.rawValue)"} 1"#))
    }

    @Test func everyPerSecretSeriesExistsFromTheStart() {
        _ = outageClient()
        for secret in ["database", "redis"] {
            #expect(metrics.contains(#"vigil_secrets_fallback_total{secret="\#(secret)",source="environment"} 0"#))
            #expect(metrics.contains(#"vigil_secrets_fallback_total{secret="\#(secret)",source="emergency_cache"} 0"#))
            #expect(metrics.contains(#"vigil_secrets_rotations_total{secret="\#(secret)"} 0"#))
            #expect(metrics.contains(#"vigil_secrets_refresh_failures_total{secret="\#(secret)",reason="timeout"} 0"#))
        }
    }
}
