import Testing
@testable import VigilAWS
import VigilCurl
import VigilPlatform

@Suite struct AWSErrorTests {
    private func error(_ status: Int, _ body: String, headers: [String: String] = [:]) -> AWSError {
        AWSError(reply: HTTPReply(status: status, headers: headers, body: Array(body.utf8)))
    }

    @Test func jsonTypeWithPrefixAndSuffixIsStripped() {
        let parsed = error(400, #"{"__type":"com.amazonaws.secretsmanager#ResourceNotFoundException:http://x","Message":"gone"}"#,
                           headers: ["x-amzn-requestid": "req-1"])
        #expect(parsed.code == "ResourceNotFoundException")
        #expect(parsed.message == "gone")
        #expect(parsed.requestID == "req-1")
        #expect(parsed.kind == .client)
        #expect(!parsed.isRetryable)
    }

    @Test func motoStyleLowercaseMessageAnd404() {
        let parsed = error(404, #"{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find it"}"#)
        #expect(parsed.code == "ResourceNotFoundException")
        #expect(parsed.message.hasPrefix("Secrets Manager"))
    }

    @Test func xmlQueryProtocolError() {
        let parsed = error(403, "<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>bad &amp; wrong</Message></Error></Errors><RequestId>r2</RequestId></ErrorResponse>")
        #expect(parsed.code == "SignatureDoesNotMatch")
        #expect(parsed.message == "bad & wrong")
        #expect(parsed.requestID == "r2")
        #expect(parsed.metricCode == "SignatureDoesNotMatch")
    }

    @Test func classification() {
        #expect(error(400, #"{"__type":"ThrottlingException"}"#).kind == .throttling)
        #expect(error(429, "").kind == .throttling)
        #expect(error(503, "").kind == .transient)
        #expect(error(503, "").code == "InternalFailure")
        #expect(error(400, #"{"__type":"AccessDeniedException"}"#).kind == .client)
        #expect(AWSError(transport: .timeout).kind == .timeout)
        #expect(AWSError(transport: .network("reset")).metricCode == "Network")
        #expect(error(400, #"{"__type":"SomethingNew"}"#).metricCode == "Other")
    }
}

@Suite struct RetryPolicyTests {
    let throttled = AWSError(code: "ThrottlingException", message: "", kind: .throttling)

    @Test func backoffIsFullJitterCapped() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: 1, maxBackoff: 20)
        for attempt in 1..<10 {
            let delay = policy.retryDelay(after: attempt, error: throttled) ?? -1
            #expect(delay >= 0 && delay <= min(Double(1 << (attempt - 1)), 20))
        }
    }

    @Test func stopsAtMaxAttemptsAndForClientErrors() {
        let policy = RetryPolicy(maxAttempts: 3)
        #expect(policy.retryDelay(after: 1, error: throttled) != nil)
        #expect(policy.retryDelay(after: 3, error: throttled) == nil)
        #expect(policy.retryDelay(after: 1, error: AWSError(code: "AccessDenied", message: "", kind: .client)) == nil)
    }

    @Test func quotaDrainsAndRefills() {
        let policy = RetryPolicy(maxAttempts: 3, quota: 12)
        #expect(policy.retryDelay(after: 1, error: throttled) != nil)  // 12 -> 7
        #expect(policy.retryDelay(after: 1, error: throttled) != nil)  // 7 -> 2
        #expect(policy.retryDelay(after: 1, error: throttled) == nil)  // empty
        #expect(policy.availableTokens == 2)
        policy.recordSuccess(attempts: 2, lastErrorKind: .throttling)
        #expect(policy.availableTokens == 7)
        let timeout = AWSError(code: "Timeout", message: "", kind: .timeout)
        #expect(policy.retryDelay(after: 1, error: timeout) == nil)  // a timeout costs 10
    }

    @Test func maxAttemptsFromEnvironment() {
        #expect(RetryPolicy.maxAttempts(from: ["AWS_MAX_ATTEMPTS": "5"]) == 5)
        #expect(RetryPolicy.maxAttempts(from: ["AWS_MAX_ATTEMPTS": "zero"]) == 3)
        #expect(RetryPolicy.maxAttempts(from: [:]) == 3)
    }
}

@Suite struct EndpointAndRegionTests {
    @Test func serviceVariableBeatsGlobalBeatsConfigBeatsDefault() {
        let config: [AWSService: String] = [.secretsManager: "https://configured/"]
        #expect(EndpointResolver(configured: config, environment: ["AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://a",
                                                                   "AWS_ENDPOINT_URL": "http://b"])
            .endpoint(for: .secretsManager, region: "eu-west-1") == "http://a")
        #expect(EndpointResolver(configured: config, environment: ["AWS_ENDPOINT_URL": "http://b"])
            .endpoint(for: .secretsManager, region: "eu-west-1") == "http://b")
        #expect(EndpointResolver(configured: config, environment: [:]).endpoint(for: .secretsManager, region: "x")
            == "https://configured")
        #expect(EndpointResolver(environment: [:]).endpoint(for: .cloudWatch, region: "eu-west-1")
            == "https://monitoring.eu-west-1.amazonaws.com")
        #expect(EndpointResolver(environment: [:]).endpoint(for: .sts, region: "cn-north-1")
            == "https://sts.cn-north-1.amazonaws.com.cn")
    }

    @Test func regionOrder() {
        let off = ["AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent"]
        #expect(RegionResolver.resolve(configured: "ap-south-1", environment: off.merging(["AWS_REGION": "x"]) { $1 }) == "ap-south-1")
        #expect(RegionResolver.resolve(configured: nil, environment: off.merging(["AWS_REGION": "r1", "AWS_DEFAULT_REGION": "r2"]) { $1 }) == "r1")
        #expect(RegionResolver.resolve(configured: nil, environment: off.merging(["AWS_DEFAULT_REGION": "r2"]) { $1 }) == "r2")
        #expect(RegionResolver.resolve(configured: nil, environment: off) == nil)
    }

    @Test func iso8601Parsing() {
        #expect(UnixTime(iso8601: "2015-08-30T12:36:00Z")?.seconds == 1_440_938_160)
        #expect(UnixTime(iso8601: "2015-08-30T12:36:00.123Z")?.seconds == 1_440_938_160)
        #expect(UnixTime(iso8601: "2015-08-30T14:36:00+02:00")?.seconds == 1_440_938_160)
        #expect(UnixTime(iso8601: "yesterday") == nil)
    }

    /// Found by fuzzing: a Date header's year near Int32.min trapped in `year - 1900`.
    @Test func httpDateOutOfRangeIsNoDate() {
        #expect(UnixTime(httpDate: "Sun, 29 Nov 2026 14:20:00 GMT")?.seconds == 1_795_962_000)
        for bad in ["Sun, 01 Jan -2147483648 00:00:00 GMT", "Sun, 01 Jan 2147483647 00:00:00 GMT", "Sun, 99 Jan 2026 00:00:00 GMT",
                    "Sun, 01 Jan 2026 25:00:00 GMT", "Sun, 01 Jan 1900 00:00:00 GMT"] {
            #expect(UnixTime(httpDate: bad) == nil, "\(bad)")
        }
    }

    /// Found by fuzzing: `/` followed by a combining mark is one Character, and path normalisation split on Characters.
    @Test func canonicalPathSplitsOnTheSlashByte() {
        #expect(SigV4Signer.canonicalPath("/\u{301}a", normalize: true) == "/%CC%81a")
        #expect(SigV4Signer.canonicalPath("\u{33B}", normalize: true) == "/%CC%BB")
        #expect(SigV4Signer.canonicalPath("/\u{33B}", normalize: true) == "/%CC%BB")
        #expect(SigV4Signer.canonicalPath("/a/./b/../c/", normalize: true) == "/a/c/")
    }

    @Test func credentialsNeverPrintTheirSecrets() {
        let credentials = AWSCredentials(accessKeyID: "AKID", secretAccessKey: SecretString("canary-secret-key"),
                                         sessionToken: SecretString("canary-token"))
        for text in ["\(credentials)", String(reflecting: credentials), "\(credentials.secretAccessKey)",
                     String(reflecting: credentials.sessionToken)] {
            let secretCheck1 = !text.contains("canary")
            #expect(secretCheck1)
        }
    }
}
