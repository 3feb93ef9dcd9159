import Foundation
import Prometheus
import Synchronization
import Testing
import VigilAWS
import VigilCurl
import VigilTestSupport

/// The AWS core when the fault is on our side of the wire: a skewed clock,
/// an expired session, one service failing while another is needed.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct AWSFailureTests {
    let env = ServicesEnvironment()
    let proxy: FaultProxy

    init() throws {
        proxy = try FaultProxy(upstream: ServicesEnvironment().motoURL)
    }

    /// Counts how often the client dropped its credentials.
    final class CountingCredentials: CredentialProvider {
        let chain: CredentialChain
        let invalidations = Atomic<Int>(0)
        init(_ chain: CredentialChain) { self.chain = chain }
        func credentials() throws(AWSError) -> AWSCredentials { try chain.credentials() }
        func invalidate() {
            invalidations.add(1, ordering: .relaxed)
            chain.invalidate()
        }
    }

    private func client(credentials: (any CredentialProvider)? = nil, quota: Int = 500) -> AWSClient {
        AWSClient(region: "us-east-1",
                  credentials: credentials ?? CredentialChain(sources: [EnvironmentCredentials(environment: [
                      "AWS_ACCESS_KEY_ID": env.appKeyID, "AWS_SECRET_ACCESS_KEY": env.appSecret])]),
                  endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": proxy.url]),
                  retry: RetryPolicy(maxAttempts: 3, quota: quota, sleep: { _ in }), attemptTimeout: 5)
    }

    private func describe(_ client: AWSClient) throws(AWSError) {
        _ = try client.json(.secretsManager, operation: "DescribeSecret", targetPrefix: "secretsmanager",
                            body: Array(#"{"SecretId":"vigil/dev/redis/credentials"}"#.utf8))
    }

    @Test(arguments: [600, -600])
    func aSkewedClockIsCorrectedFromTheDateHeader(seconds: Int) throws {
        try proxy.skew(seconds: seconds)
        defer { try? proxy.skew(seconds: 0) }
        let client = client(quota: 0)  // no retry quota: the correction must not need one
        try describe(client)
        try describe(client)
        #expect(try proxy.log().map(\.fault) == ["skew", "", ""], "the second call was not signed with the corrected clock")
    }

    @Test func anExpiredSessionTokenDropsTheCachedCredentials() throws {
        let credentials = CountingCredentials(CredentialChain(sources: [EnvironmentCredentials(environment: [
            "AWS_ACCESS_KEY_ID": env.appKeyID, "AWS_SECRET_ACCESS_KEY": env.appSecret])]))
        try proxy.inject("expired")
        try describe(client(credentials: credentials, quota: 0))
        #expect(credentials.invalidations.load(ordering: .relaxed) == 1)
        #expect(try proxy.log().map(\.fault) == ["expired", ""])
    }

    @Test func aCloudWatchOutageLeavesSecretsManagerItsRetries() throws {
        let client = client(quota: 20)
        try proxy.inject("error", sticky: true, target: "PutMetricData")
        for _ in 0..<5 {
            #expect(throws: AWSError.self) {
                _ = try client.query(.cloudWatch, action: "PutMetricData", version: "2010-08-01",
                                     parameters: [("Namespace", "Vigil/Test")])
            }
        }
        #expect(client.retry.availableTokens == 20, "CloudWatch retries spent Secrets Manager's quota")
        try proxy.clear()
        try proxy.inject("throttle")
        try describe(client)  // needs one retry
        #expect(try proxy.log().map(\.fault) == ["throttle", ""])
    }

    @Test func webIdentityUsesTheConfiguredSTSEndpoint() throws {
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-sts-\(getpid())")
        try "eyJhbGciOi.fake.jwt".write(to: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let environment = ["AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile.path, "AWS_ROLE_ARN": env.roleARN]
        let source = WebIdentityCredentials(environment: environment, region: "us-east-1", transport: CurlTransport(),
                                            endpoints: EndpointResolver(configured: [.sts: proxy.url], environment: environment))
        _ = try? source.load()  // moto checks signatures, so STS may refuse: where the call went is the point
        #expect(try proxy.log().map(\.action) == ["AssumeRoleWithWebIdentity"])
    }
}
