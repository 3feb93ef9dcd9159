import Foundation
import Prometheus
import Testing
import VigilAWS
import VigilCurl
import VigilPlatform
import VigilTestSupport

/// Against moto_server with signature checking on (scripts/services).
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct MotoTests {
    let env = ServicesEnvironment()
    let secretID = "vigil/dev/redis/credentials"

    private func client(_ credentials: any CredentialProvider, endpoint: String? = nil, retry: RetryPolicy = RetryPolicy(),
                        registry: PrometheusCollectorRegistry? = nil, timeout: Double = 10) -> AWSClient {
        AWSClient(region: "us-east-1", credentials: credentials,
                  endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": endpoint ?? env.motoURL]),
                  retry: retry, metrics: registry.map(AWSMetrics.init), attemptTimeout: timeout)
    }

    private func keys(_ id: String, _ secret: String, token: String? = nil) -> StaticCredentials {
        StaticCredentials(AWSCredentials(accessKeyID: id, secretAccessKey: SecretString(secret),
                                         sessionToken: token.map(SecretString.init)))
    }

    private func getSecret(_ client: AWSClient, _ id: String? = nil) throws(AWSError) -> [String: Any] {
        let body = try client.json(.secretsManager, operation: "GetSecretValue", targetPrefix: "secretsmanager",
                                   body: Array(#"{"SecretId":"\#(id ?? secretID)"}"#.utf8))
        return (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:]
    }

    @Test func signedCallSucceeds() throws {
        let answer = try getSecret(client(keys(env.appKeyID, env.appSecret)))
        #expect(answer["Name"] as? String == secretID)
        #expect((answer["SecretString"] as? String)?.contains("password") == true)
    }

    @Test func asyncCallsRunOffTheCooperativePool() async throws {
        let body = try await client(keys(env.appKeyID, env.appSecret))
            .json(.secretsManager, operation: "DescribeSecret", targetPrefix: "secretsmanager",
                  body: Array(#"{"SecretId":"\#(secretID)"}"#.utf8))
        #expect(String(decoding: body, as: UTF8.self).contains(secretID))
    }

    @Test func wrongSecretKeyIsSignatureDoesNotMatch() {
        let registry = PrometheusCollectorRegistry()
        let wrong = "canary-wrong-secret-7731"
        #expect { try getSecret(client(keys(env.appKeyID, wrong), registry: registry)) } throws: { error in
            let error = error as? AWSError
            #expect(error?.code == "SignatureDoesNotMatch")
            #expect(error?.status == 403)
            #expect(error?.kind == .client)
            env.assertNoCanary(in: ["\(String(describing: error))"], extra: [wrong])
            return error != nil
        }
        let metrics = String(decoding: registry.emitToBuffer(), as: UTF8.self)
        #expect(metrics.contains(#"vigil_aws_errors_total{service="secretsmanager",operation="GetSecretValue",code="SignatureDoesNotMatch"} 1"#))
        #expect(metrics.contains(#"vigil_aws_requests_total{service="secretsmanager",operation="GetSecretValue"} 1"#))
    }

    @Test func actionOutsideThePolicyIsAccessDenied() {
        let app = client(keys(env.appKeyID, env.appSecret))
        #expect { try app.json(.secretsManager, operation: "DeleteSecret", targetPrefix: "secretsmanager",
                               body: Array(#"{"SecretId":"\#(secretID)"}"#.utf8)) } throws: { error in
            (error as? AWSError)?.code == "AccessDenied"
        }
        #expect(throws: Never.self) { try getSecret(app) }  // and the secret is still there
    }

    /// moto answers unsigned calls with a 500 once signature checking is on,
    /// so this test runs its own moto that lets exactly one request through
    /// unchecked: the AssumeRoleWithWebIdentity call. Everything after it,
    /// the Secrets Manager call with the session credentials, is checked.
    @Test func webIdentityCredentialsWorkEndToEnd() throws {
        let moto = try MotoServer(noAuthAllowance: 1)
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-token-\(getpid())")
        try "eyJhbGciOi.fake.jwt".write(to: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let source = WebIdentityCredentials(environment: ["AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile.path,
                                                          "AWS_ROLE_ARN": moto.exports["VIGIL_TEST_ROLE_ARN"] ?? "",
                                                          "AWS_ENDPOINT_URL_STS": moto.url],
                                            region: "us-east-1", transport: CurlTransport())
        let credentials = try #require(try source.load())
        #expect(credentials.sessionToken != nil)
        #expect(credentials.expiration.map { $0 > UnixTime.now } == true)
        #expect(credentials.source == "web_identity")
        let answer = try getSecret(client(StaticCredentials(credentials), endpoint: moto.url))
        #expect(answer["Name"] as? String == secretID)
        var forged = credentials
        forged.sessionToken = SecretString("forged-token")
        #expect(throws: AWSError.self) { try getSecret(client(StaticCredentials(forged), endpoint: moto.url)) }
    }

    @Test func sharedFilesWithProfiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-aws-\(getpid())-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try """
        [default]
        aws_access_key_id = AKIAWRONGWRONG
        aws_secret_access_key = wrong

        [ops]
        aws_access_key_id = \(env.appKeyID)
        aws_secret_access_key = \(env.appSecret)
        """.write(to: folder.appendingPathComponent("credentials"), atomically: true, encoding: .utf8)
        try "[profile ops]\nregion = eu-central-1\n".write(to: folder.appendingPathComponent("config"),
                                                           atomically: true, encoding: .utf8)
        let files = ["AWS_SHARED_CREDENTIALS_FILE": folder.appendingPathComponent("credentials").path,
                     "AWS_CONFIG_FILE": folder.appendingPathComponent("config").path, "AWS_EC2_METADATA_DISABLED": "true"]
        let ops = files.merging(["AWS_PROFILE": "ops"]) { $1 }
        let chain = CredentialChain(sources: [EnvironmentCredentials(environment: ops), ProfileCredentials(environment: ops)])
        #expect(try chain.credentials().source == "profile")
        #expect(try getSecret(client(chain))["Name"] as? String == secretID)
        #expect(RegionResolver.resolve(configured: nil, environment: ops) == "eu-central-1")
        #expect(try ProfileCredentials(environment: files).load()?.accessKeyID == "AKIAWRONGWRONG")
        #expect(throws: AWSError.self) { try ProfileCredentials(environment: files.merging(["AWS_PROFILE": "nope"]) { $1 }).load() }
    }

    @Test func containerCredentialsWithTokenAndTokenFile() throws {
        let server = try PythonServer(script: "Tests/Fixtures/container_credentials.py",
                                      arguments: ["Bearer canary-token-42", env.appKeyID, env.appSecret])
        let withToken = ContainerCredentials(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url + "/creds",
                                                           "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer canary-token-42"],
                                             transport: CurlTransport())
        let credentials = try #require(try withToken.load())
        #expect(credentials.accessKeyID == env.appKeyID)
        #expect(credentials.expiration != nil)
        #expect(try getSecret(client(StaticCredentials(credentials)))["Name"] as? String == secretID)

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-ecs-token-\(getpid())")
        try "Bearer canary-token-42\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let withFile = ContainerCredentials(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url + "/creds",
                                                          "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": file.path],
                                            transport: CurlTransport())
        #expect(try withFile.load()?.accessKeyID == env.appKeyID)
        let unauthorized = ContainerCredentials(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url + "/creds",
                                                              "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer nope"],
                                                transport: CurlTransport())
        #expect(throws: AWSError.self) { try unauthorized.load() }
    }

    @Test func imdsV2ThroughMotosMetadataEndpoint() throws {
        let proxy = try FaultProxy(upstream: env.motoURL)
        let imds = IMDSCredentials(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": proxy.url], transport: CurlTransport())
        let credentials = try #require(try imds.load())
        #expect(!credentials.accessKeyID.isEmpty)
        #expect(credentials.sessionToken != nil)
        #expect(credentials.source == "imds")
        let requests = try proxy.log()
        #expect(requests.first?.method == "PUT")
        #expect(requests.first?.path == "/latest/api/token")
        #expect(requests.count == 3)
        #expect(try IMDSCredentials(environment: ["AWS_EC2_METADATA_DISABLED": "true"], transport: CurlTransport()).load() == nil)
    }

    @Test func chainOrderEnvironmentFirstAndNothingConfiguredIsAClearError() throws {
        let both = ["AWS_ACCESS_KEY_ID": env.appKeyID, "AWS_SECRET_ACCESS_KEY": env.appSecret,
                    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"]
        #expect(try CredentialChain.standard(environment: both, region: "us-east-1").credentials().source == "environment")
        let none = ["AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
                    "AWS_EC2_METADATA_DISABLED": "true"]
        #expect { try CredentialChain.standard(environment: none, region: "us-east-1").credentials() } throws: { error in
            (error as? AWSError)?.code == "CredentialsUnavailable"
        }
    }
}

/// Fixed credentials (tests and callers that manage their own).
struct StaticCredentials: CredentialProvider {
    let value: AWSCredentials
    init(_ value: AWSCredentials) { self.value = value }
    func credentials() throws(AWSError) -> AWSCredentials { value }
}
