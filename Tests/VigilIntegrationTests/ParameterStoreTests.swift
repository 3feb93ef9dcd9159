import Foundation
import Testing
import VigilTestSupport

/// The Lambda extension's Parameter Store API (`/systemsmanager/parameters/get`)
/// against moto through the fault proxy: a SecureString decrypted, one
/// GetParameter for 100 reads, served stale while AWS hangs, refused
/// outside `endpoint.allow_parameters` without an AWS call; and requests
/// shaped exactly as the extension's clients send them (middy's secrets and
/// parameters, Go's secretlamb) answered with the fields they read.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct ParameterStoreTests {
    let env = ServicesEnvironment()

    private func putParameter(_ name: String, _ value: String, type: String) throws {
        let put = try ChildProcess.run(["aws", "ssm", "put-parameter", "--name", name, "--value", value, "--type", type, "--overwrite"],
                                       environment: env.admin, stderr: false)
        #expect(put.status == 0, "aws ssm put-parameter \(name) failed: \(put.output)")
    }

    @Test func aSecureStringIsReadCachedServedStaleAndRefusedOutsideTheList() throws {
        let run = String(UUID().uuidString.prefix(8)).lowercased()
        let (name, value) = ("/vigil-test/\(run)/db-password", "canary-parameter-\(run)")
        try putParameter(name, value, type: "SecureString")
        try putParameter("/other/\(run)/key", "canary-other-\(run)", type: "String")
        let endpoint = try EndpointTests.Endpoint(env, config: "  timeout: 2s\n  allow_parameters: [\"/vigil-test/\(run)/*\"]\n", environment: [
            "VIGIL_SECRETS_TTL": "2s", "VIGIL_SECRETS_REFRESH_AHEAD": "1s", "VIGIL_AWS_TIMEOUT": "1s", "VIGIL_AWS_MAX_ATTEMPTS": "1"])
        let path = "/systemsmanager/parameters/get?name=\(name)&withDecryption=true"

        let first = try endpoint.get(path)
        let parameter = endpoint.json(first)["Parameter"] as? [String: Any] ?? [:]
        #expect(first.status == 200 && parameter["Value"] as? String == value && parameter["Type"] as? String == "SecureString"
                && parameter["Name"] as? String == name && parameter["Version"] as? Int == 1, "\(first.status) \(parameter.keys.sorted())")
        #expect(first.headers["etag"] == "\"1\"" && first.headers["x-vigil-source"] == "aws")
        for _ in 0..<99 { #expect(try endpoint.get(path).status == 200) }
        #expect(try endpoint.calls("GetParameter") == 1, "100 reads, one GetParameter")
        // Without decryption it is another read (the ciphertext, as GetParameter answers it).
        let encrypted = try endpoint.get("/systemsmanager/parameters/get?name=\(name)")
        let cipher = (endpoint.json(encrypted)["Parameter"] as? [String: Any])?["Value"] as? String
        let calls = try endpoint.calls("GetParameter")
        #expect(encrypted.status == 200 && cipher != nil && cipher != value && calls == 2)

        // Outside the list: 403 and no AWS call; an application's token reads no parameter.
        let before = try endpoint.calls("GetParameter")
        let outside = try endpoint.get("/systemsmanager/parameters/get?name=/other/\(run)/key")
        #expect(outside.status == 403 && endpoint.json(outside)["__type"] as? String == "AccessDeniedException")
        #expect(try endpoint.get(path, token: "wrong").status == 403)
        #expect(try endpoint.calls("GetParameter") == before)
        for bad in ["version=x", "version=1&label=prod", "nope=1", "withDecryption=maybe"] {
            #expect(try endpoint.get("/systemsmanager/parameters/get?name=\(name)&\(bad)").status == 400, "\(bad)")
        }
        #expect(try endpoint.get("/systemsmanager/parameters/get").status == 400)
        let missing = try endpoint.get("/systemsmanager/parameters/get?name=/vigil-test/\(run)/absent")
        #expect(missing.status == 400 && endpoint.json(missing)["__type"] as? String == "ParameterNotFound", "\(missing.status) \(missing.text)")

        // Past the TTL while AWS hangs: the cached value at once.
        try endpoint.proxy.inject("hang", sticky: true, target: "GetParameter")
        var stale = 0, slowest = 0.0
        let started = Date()
        while Date().timeIntervalSince(started) < 4 {  // two TTLs
            let sent = Date()
            let read = try endpoint.get(path)
            slowest = max(slowest, Date().timeIntervalSince(sent))
            let served = (endpoint.json(read)["Parameter"] as? [String: Any])?["Value"] as? String == value
            #expect(read.status == 200 && served)
            if read.headers["x-vigil-source"] == "stale" { stale += 1 }
            usleep(50_000)  // an application's pace, not a synchronisation
        }
        print("parameters: AWS hanging: \(stale) stale answers, slowest \(String(format: "%.1f", slowest * 1000)) ms")
        #expect(stale > 0 && slowest < 0.1)
        try endpoint.proxy.clear()
        let metrics = endpoint.vigil.metrics
        #expect(metrics.contains(#"vigil_aws_endpoint_info{service="ssm""#) && metrics.contains(#"vigil_aws_requests_total{service="ssm",operation="GetParameter"}"#))
        env.assertNoCanary(in: [endpoint.vigil.process.log, metrics], extra: [value, "canary-other-\(run)"])
    }

    /// What `@middy/parameters-secrets-extension` sends (its `getSecret` and
    /// `getParameter`: the id through `encodeURI`, `withDecryption=true`, the
    /// token from `AWS_SESSION_TOKEN` in `X-Aws-Parameters-Secrets-Token`) and
    /// Go's secretlamb (`versionId=` and `versionStage=` empty).
    @Test func theExtensionsClientsRequestsAreAnswered() throws {
        let run = String(UUID().uuidString.prefix(8)).lowercased()
        let endpoint = try EndpointTests.Endpoint(env, config: "  allow_parameters: [\"/middy/\(run)/*\"]\n")
        // encodeURI leaves every character a secret or parameter name may hold (`/_+=.@-`) as it is.
        let secretID = "\(endpoint.prefix)/app-config@v=1", secret = #"{"apiKey":"canary-middy-\#(run)"}"#
        #expect(env.putSecret(secretID, secret))
        try putParameter("/middy/\(run)/feature.flags", "on", type: "SecureString")
        let middySecret = try endpoint.get("/secretsmanager/get?withDecryption=true&secretId=" + secretID)
        #expect(middySecret.status == 200 && endpoint.json(middySecret)["SecretString"] as? String == secret, "\(middySecret.status) \(middySecret.text)")
        let middyParameter = try endpoint.get("/systemsmanager/parameters/get?withDecryption=true&name=/middy/\(run)/feature.flags")
        #expect(middyParameter.status == 200 && (endpoint.json(middyParameter)["Parameter"] as? [String: Any])?["Value"] as? String == "on",
                "\(middyParameter.status) \(middyParameter.text)")
        let secretlamb = try endpoint.get("/secretsmanager/get?secretId=\(secretID)&versionId=&versionStage=")
        #expect(secretlamb.status == 200 && endpoint.json(secretlamb)["VersionStages"] as? [String] == ["AWSCURRENT"])
        env.assertNoCanary(in: [endpoint.vigil.process.log, endpoint.vigil.metrics], extra: ["canary-middy-\(run)"])
    }
}
