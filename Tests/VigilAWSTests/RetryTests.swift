import Foundation
import Prometheus
import Synchronization
import Testing
import VigilAWS
import VigilTestSupport

/// The standard retry mode against moto behind the fault proxy. Backoff
/// delays are recorded, not slept: assertions are on counts and outcomes.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct RetryTests {
    let env = ServicesEnvironment()
    let proxy: FaultProxy
    let registry = PrometheusCollectorRegistry()
    let delays = Recorded<[Double]>([])

    init() throws {
        proxy = try FaultProxy(upstream: ServicesEnvironment().motoURL)
    }

    private func client(quota: Int = 500, timeout: Double = 5) -> AWSClient {
        let delays = self.delays
        let credentials = CredentialChain(sources: [EnvironmentCredentials(environment: [
            "AWS_ACCESS_KEY_ID": env.appKeyID, "AWS_SECRET_ACCESS_KEY": env.appSecret])])
        return AWSClient(region: "us-east-1", credentials: credentials,
                         endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": proxy.url]),
                         retry: RetryPolicy(maxAttempts: 3, quota: quota) { delay in delays.update { $0.append(delay) } },
                         metrics: AWSMetrics(registry: registry), attemptTimeout: timeout)
    }

    private func describe(_ client: AWSClient) throws(AWSError) {
        _ = try client.json(.secretsManager, operation: "DescribeSecret", targetPrefix: "secretsmanager",
                            body: Array(#"{"SecretId":"vigil/dev/redis/credentials"}"#.utf8))
    }

    private var metrics: String { String(decoding: registry.emitToBuffer(), as: UTF8.self) }

    @Test func throttledTwiceThenSucceeds() throws {
        try proxy.inject("throttle", count: 2)
        try describe(client())
        #expect(try proxy.log().map(\.fault) == ["throttle", "throttle", ""])
        #expect(delays.value.count == 2)
        #expect(delays.value.allSatisfy { $0 >= 0 && $0 <= 2 })
        #expect(metrics.contains(#"vigil_aws_retries_total{service="secretsmanager",operation="DescribeSecret"} 2"#))
        #expect(metrics.contains(#"vigil_aws_errors_total{service="secretsmanager",operation="DescribeSecret",code="ThrottlingException"} 2"#))
        #expect(metrics.contains(#"vigil_aws_requests_total{service="secretsmanager",operation="DescribeSecret"} 3"#))
    }

    @Test func permanent5xxGivesUpAfterMaxAttemptsAndDrainsTheQuota() throws {
        try proxy.inject("error", count: 100, status: 503)
        let client = client(quota: 20)
        #expect { try describe(client) } throws: { ($0 as? AWSError)?.code == "ServiceUnavailable" }
        #expect(try proxy.log().count == 3)
        #expect(client.retry.availableTokens == 10)
        // 10 tokens: one more call can retry once, then the bucket is empty...
        #expect(throws: AWSError.self) { try describe(client) }
        #expect(client.retry.availableTokens == 0)
        #expect(try proxy.log().count == 6)
        // ...and with the quota drained a failing call is tried exactly once.
        #expect(throws: AWSError.self) { try describe(client) }
        #expect(try proxy.log().count == 7)
    }

    @Test func connectionResetIsRetried() throws {
        try proxy.inject("reset", count: 1)
        try describe(client())
        #expect(try proxy.log().map(\.fault) == ["reset", ""])
        #expect(metrics.contains(#"code="Network"} 1"#))
    }

    @Test func slowAnswerBeyondTheTimeoutIsRetried() throws {
        try proxy.inject("delay", count: 1, seconds: 3)
        let started = Date()
        try describe(client(timeout: 0.5))
        #expect(Date().timeIntervalSince(started) < 2.5)
        #expect(try proxy.log().map(\.fault) == ["delay", ""])
        #expect(metrics.contains(#"code="Timeout"} 1"#))
    }

    @Test func anEndpointWithAPathIsRequestedAtThatPath() throws {
        let client = AWSClient(region: "us-east-1", credentials: CredentialChain(sources: [EnvironmentCredentials(environment: [
                                   "AWS_ACCESS_KEY_ID": env.appKeyID, "AWS_SECRET_ACCESS_KEY": env.appSecret])]),
                               endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": proxy.url + "/gateway"]),
                               retry: RetryPolicy(maxAttempts: 1))
        _ = try? describe(client)  // moto has nothing there; what matters is where the request went
        #expect(try proxy.log().map(\.path) == ["/gateway"])
    }

    @Test func clientErrorsAreNotRetried() throws {
        let client = client()
        #expect { _ = try client.json(.secretsManager, operation: "GetSecretValue", targetPrefix: "secretsmanager",
                                      body: Array(#"{"SecretId":"vigil/dev/no-such-secret"}"#.utf8)) } throws: {
            ($0 as? AWSError)?.code == "ResourceNotFoundException"
        }
        #expect(try proxy.log().count == 1)
        #expect(delays.value.isEmpty)
    }
}

