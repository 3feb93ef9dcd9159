import Foundation
import Prometheus
import Testing
import VigilAWS
@testable import VigilSecrets
import VigilTestSupport

/// The secrets client against moto (signature checking on) behind the fault
/// proxy. Time moves through a manual clock; AWS backoff is recorded, not slept.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct SecretsClientTests {
    let env = ServicesEnvironment()
    let proxy: FaultProxy
    let clock = ManualClock()
    let registry = PrometheusCollectorRegistry()
    let logs = Recorded<[String]>([])

    init() throws {
        proxy = try FaultProxy(upstream: ServicesEnvironment().motoURL)
    }

    /// `replica`: a proxy in front of the same moto, read as us-west-2 (a failover region).
    func client(items: [SecretsConfiguration.Item]? = nil, environment: [String: String] = [:],
                ttl: Double = 3600, attempts: Int = 2, attemptTimeout: Double = 2, replica: FaultProxy? = nil) -> SecretsClient {
        let aws = AWSClient(region: "us-east-1",
                            credentials: CredentialChain(sources: [EnvironmentCredentials(environment: [
                                "AWS_ACCESS_KEY_ID": env.appKeyID, "AWS_SECRET_ACCESS_KEY": env.appSecret])]),
                            endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": proxy.url]),
                            retry: RetryPolicy(maxAttempts: attempts, sleep: { _ in }), attemptTimeout: attemptTimeout)
        let configuration = SecretsConfiguration(items: items ?? SecretsConfiguration.standardItems(prefix: "vigil", environment: "dev"),
                                                 ttl: ttl)
        return SecretsClient(configuration: configuration, aws: aws,
                             replicas: replica.map { [aws.inRegion("us-west-2", secretsManagerEndpoint: $0.url)] } ?? [],
                             failoverDelay: 0.5, metrics: SecretsMetrics(registry: registry),
                             environment: environment, logger: CapturingLogHandler.logger(into: logs), clock: clock.read)
    }

    func targets() throws -> [String] {
        try proxy.log().map { $0.target.replacingOccurrences(of: "secretsmanager.", with: "") }
    }

    var metrics: String { String(decoding: registry.emitToBuffer(), as: UTF8.self) }

    @Test func warmStartIsOneBatchCallAndHitsCostNothing() throws {
        let secrets = client()
        secrets.preload()
        #expect(try targets() == ["BatchGetSecretValue"])
        for _ in 0..<1000 {
            #expect(try secrets.get("database").source == .aws)
            _ = try secrets.get("redis")
        }
        #expect(try targets() == ["BatchGetSecretValue"])
        #expect(secrets.metrics.lookups.load(ordering: .relaxed) == 2000)
        #expect(secrets.metrics.hits.load(ordering: .relaxed) == 2000)
        let database = try TypedCredentials.database(secrets.get("database"))
        let secretCheck4 = database.password.revealed() == env.databasePassword
        #expect(secretCheck4)
        #expect(secrets.statuses().map(\.state) == [.fresh, .fresh])
        env.assertNoCanary(in: logs.value + [metrics])
    }

    /// An application's cold reads through the endpoint say nothing of
    /// Vigil's own cache: they count as lookups, not in the hit-ratio window
    /// that `health.min_cache_hit_ratio` judges (they used to degrade the
    /// secrets component).
    @Test func endpointReadsStayOutOfVigilsHitRatio() throws {
        let secrets = client()
        secrets.preload()
        for _ in 0..<20 { _ = try secrets.get("database") }
        for i in 0..<20 { _ = try? secrets.read(SecretQuery(secretID: "vigil/dev/absent-\(i)"), maxWait: 5) }
        secrets.metrics.closeHitRatioWindow()
        #expect(secrets.metrics.lastWindow.lookups == 20 && secrets.metrics.lastWindow.ratio == 1)
        #expect(metrics.contains("vigil_secrets_cache_lookups_total 40"))
    }

    @Test func batchRefusedFallsBackToOneByOne() throws {
        try proxy.inject("deny")
        let secrets = client()
        secrets.preload()
        #expect(try targets().sorted() == ["BatchGetSecretValue", "GetSecretValue", "GetSecretValue"])
        #expect(try secrets.get("redis").source == .aws)
    }

    /// A fleet starting at once can use up BatchGetSecretValue's 100 calls a
    /// second: a batch still throttled after its retries loads one by one.
    @Test func batchThrottledFallsBackToOneByOne() throws {
        try proxy.inject("throttle", count: 2, target: "BatchGetSecretValue")
        let secrets = client()
        secrets.preload()
        #expect(try targets().sorted() == ["BatchGetSecretValue", "BatchGetSecretValue", "GetSecretValue", "GetSecretValue"])
        #expect(try secrets.get("database").source == .aws && secrets.get("redis").source == .aws)
    }

    @Test func rotationIsPickedUpWithinOneTTLAndUnchangedCostsOneDescribe() throws {
        let name = "vigil/dev/rotation-\(UUID().uuidString.prefix(8))"
        try admin("CreateSecret", #"{"Name":"\#(name)","SecretString":"canary-rot-v1"}"#)
        let secrets = client(items: [.init(name: "rotating", secretID: name)], ttl: 60)
        let secretCheck5 = try secrets.get("rotating").value.revealed() == "canary-rot-v1"
        #expect(secretCheck5)
        try proxy.clear()
        clock.advance(61)  // past the TTL: served at once, revalidated in the background
        let secretCheck6 = try secrets.get("rotating").value.revealed() == "canary-rot-v1"
        #expect(secretCheck6)
        #expect(secrets.waitForRefreshes(timeout: 10))
        #expect(try targets() == ["DescribeSecret"])
        try admin("PutSecretValue", #"{"SecretId":"\#(name)","SecretString":"canary-rot-v2"}"#)
        try proxy.clear()
        clock.advance(61)
        let servedAtOnce = try secrets.get("rotating")
        #expect(servedAtOnce.source == .emergencyCache)  // never waits on AWS while a value is usable
        #expect(secrets.waitForRefreshes(timeout: 10))
        let secretCheck7 = try secrets.get("rotating").value.revealed() == "canary-rot-v2"
        #expect(secretCheck7)
        #expect(try targets() == ["DescribeSecret", "GetSecretValue"])
        #expect(metrics.contains(#"vigil_secrets_rotations_total{secret="rotating"} 1"#))
        env.assertNoCanary(in: logs.value + [metrics], extra: ["canary-rot-v1", "canary-rot-v2"])
    }

    /// During an outage the backoff is the retry: a secret's first failing
    /// refresh uses the AWS client's attempts (3 here), each later one a
    /// single attempt (a fleet asked AWS three times as often: docs/cost.md).
    @Test func aFailingSecretsLaterRefreshesMakeOneAttemptEach() throws {
        let secrets = client(items: [.init(name: "redis", secretID: "vigil/dev/redis/credentials")], attempts: 3)
        secrets.preload()
        try proxy.clear()
        try proxy.inject("error", count: 1000)
        var calls: [Int] = []
        for _ in 0..<4 {
            clock.advance(3601)  // past the TTL, then past each backoff
            secrets.refreshDue()
            calls.append(try proxy.log().count - calls.reduce(0, +))
        }
        #expect(calls == [3, 1, 1, 1], "AWS calls per refresh: \(calls)")
        try proxy.clear()
        clock.advance(3601)
        secrets.refreshDue()
        #expect(try secrets.get("redis").source == .aws, "recovered with its single attempt")
    }

    @Test(arguments: ["error", "throttle", "reset", "deny"])
    func outageServesStaleThenEnvironmentThenAClearErrorThenRecovers(mode: String) throws {
        let fallbackURL = "redis://:canary-env-fallback@127.0.0.1:\(env.redisPort)/0"
        let secrets = client(environment: ["REDIS_URL": fallbackURL])
        secrets.preload()
        try proxy.inject(mode, count: 1000)
        clock.advance(3601)  // past the TTL: AWS is asked, fails, the cached value is served
        let stale = try secrets.get("redis")
        #expect(stale.source == .emergencyCache)
        #expect(secrets.waitForRefreshes(timeout: 10))
        let secretCheck8 = try TypedCredentials.redis(stale).password?.revealed() == env.redisPassword
        #expect(secretCheck8)
        #expect(secrets.statuses().first { $0.name == "redis" }?.state == .stale)
        #expect(metrics.contains(#"vigil_secrets_fallback_total{secret="redis",source="emergency_cache"} 1"#))
        let attemptsWhileStale = try proxy.log().count
        _ = try secrets.get("redis")  // within the backoff: no new AWS call
        #expect(try proxy.log().count == attemptsWhileStale)

        clock.advance(86_400)  // past the emergency TTL: the environment fallback
        let fromEnvironment = try secrets.get("redis")
        #expect(fromEnvironment.source == .environment)
        let secretCheck9 = try TypedCredentials.redis(fromEnvironment).password?.revealed() == "canary-env-fallback"
        #expect(secretCheck9)
        #expect(metrics.contains(#"vigil_secrets_fallback_total{secret="redis",source="environment"} 1"#))
        #expect { try secrets.get("database") } throws: { error in  // no fallback configured for it here
            let text = "\(error)"
            return text.contains("\"database\"") && text.contains("unavailable") && !text.contains(env.databasePassword)
        }
        #expect(metrics.contains(#"vigil_secrets_unavailable_total{secret="database"} 1"#))

        #expect(secrets.waitForRefreshes(timeout: 10))  // the refreshes the lookups above started end first
        try proxy.clear()  // AWS is back
        clock.advance(120)  // past the backoff: the lookup is served at once and revalidates
        #expect(try secrets.get("redis").source == .environment)
        #expect(secrets.waitForRefreshes(timeout: 10))
        #expect(try secrets.get("redis").source == .aws)
        #expect(secrets.statuses().first { $0.name == "redis" }?.state == .fresh)
        env.assertNoCanary(in: logs.value + [metrics], extra: ["canary-env-fallback"])
    }

    @Test func hundredConcurrentMissesMakeOneCall() throws {
        let secrets = client()
        let sources = Recorded<[SecretSource]>([])
        let group = DispatchGroup()
        for _ in 0..<100 {
            group.enter()
            Thread.detachNewThread {
                let value = try? secrets.get("database")
                sources.update { $0.append(value?.source ?? .environment) }
                group.leave()
            }
        }
        #expect(group.wait(timeout: .now() + 30) == .success)
        #expect(sources.value.count == 100 && sources.value.allSatisfy { $0 == .aws })
        #expect(try targets() == ["GetSecretValue"])
    }

    @Test func asyncLookupsWork() async throws {
        let secrets = client()
        #expect(try await secrets.get("redis").source == .aws)
    }

    @discardableResult
    func admin(_ operation: String, _ body: String) throws -> [UInt8] {
        let aws = AWSClient(region: "us-east-1",
                            credentials: CredentialChain(sources: [EnvironmentCredentials(environment: [
                                "AWS_ACCESS_KEY_ID": env.adminKeyID, "AWS_SECRET_ACCESS_KEY": env.adminSecret])]),
                            endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": env.motoURL]))
        return try aws.json(.secretsManager, operation: operation, targetPrefix: "secretsmanager", body: Array(body.utf8))
    }
}

/// Steady state, measured: the calls one secret costs per day.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct SecretsBudgetTests {
    @Test func refreshAheadKeepsLookupsHitsAndADayCostsOneCheckAnHour() throws {
        let env = ServicesEnvironment()
        let proxy = try FaultProxy(upstream: env.motoURL)
        let clock = ManualClock()
        let aws = AWSClient(region: "us-east-1",
                            credentials: CredentialChain(sources: [EnvironmentCredentials(environment: [
                                "AWS_ACCESS_KEY_ID": env.appKeyID, "AWS_SECRET_ACCESS_KEY": env.appSecret])]),
                            endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": proxy.url]))
        let secrets = SecretsClient(configuration: SecretsConfiguration(
                                        items: SecretsConfiguration.standardItems(prefix: "vigil", environment: "dev")),
                                    aws: aws, environment: [:], clock: clock.read)
        secrets.preload()
        // One simulated day: the secrets probe every 15 s, lookups in between.
        for _ in 0..<(86_400 / 15) {
            clock.advance(15)
            secrets.refreshDue()
            #expect(try secrets.get("database").source == .aws)
        }
        let calls = try proxy.log().map { $0.target.replacingOccurrences(of: "secretsmanager.", with: "") }
        let describes = calls.filter { $0 == "DescribeSecret" }.count
        #expect(calls.first == "BatchGetSecretValue")
        #expect(!calls.contains("GetSecretValue"))  // nothing rotated: version checks only
        #expect(describes >= 2 * 24 && describes <= 2 * 26, "\(describes) checks for 2 secrets in a day")
        // Every lookup was a hit: refresh-ahead renewed entries before they expired.
        #expect(secrets.metrics.hits.load(ordering: .relaxed) == 86_400 / 15)
    }
}
