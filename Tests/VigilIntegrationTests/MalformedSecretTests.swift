import Foundation
import Testing
import VigilTestSupport

/// The source document's manual rotation, `update-secret --secret-string
/// '{"password":"new-password"}'`, replaces the whole JSON: host, port,
/// username and dbname are gone. Vigil says so by name, keeps logging in
/// with the last version that had every key, and never drains the fleet.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct MalformedSecretTests {
    let env = ServicesEnvironment()
    let suffix = String(UUID().uuidString.prefix(6)).lowercased()
    var prefix: String { "vigil/malformed-\(suffix)" }

    private func secretsCheck(_ vigil: VigilUnderTest) -> (status: String, reason: String, facts: [String: [String: String]]) {
        vigil.verboseCheck("secrets")
    }

    @Test func aWholeJSONReplacedByOneKeyIsMalformedWhileTheDatabaseStaysHealthy() throws {
        let postgres = try PrivatePostgres()
        let whole = #"{"engine":"postgres","host":"127.0.0.1","port":\#(postgres.port),"username":"vigil","password":"\#(env.databasePassword)","dbname":"vigil"}"#
        #expect(env.putSecret("\(prefix)/database", whole))
        #expect(env.putSecret("\(prefix)/payments", #"{"merchant":"m-1"}"#))
        let token = "malformed-token-\(suffix)"
        let vigil = try VigilUnderTest(config: """
            probes:
              interval: 1s
            endpoint:
              enabled: true
              listen_address: 127.0.0.1:0
            secrets:
              ttl: 2s
              refresh_ahead: 1s
              items:
                database: {id: \(prefix)/database}
                redis: {id: vigil/dev/redis/credentials, keys: [password]}
                payments: {id: \(prefix)/payments, keys: [api_key]}
            """, environment: ["AWS_TOKEN": token])
        let endpoint = try #require(vigil.process.waitForListenAddress(of: "secrets endpoint listening"))
        // A secret no probe uses, lacking a key its item names: malformed, degraded.
        #expect(VigilProcess.waitUntil(timeout: 15) {
            vigil.health()?.checks["database"]?.status == "healthy" && secretsCheck(vigil).facts["payments"]?["missing_keys"] == "api_key"
        }, "\(vigil.process.log.suffix(2000))")
        #expect(secretsCheck(vigil).status == "degraded" && secretsCheck(vigil).reason == "malformed")

        // The source document's command, as its rotation procedure gives it.
        let canary = "new-password-canary-\(suffix)"
        let update = try ChildProcess.run(["aws", "secretsmanager", "update-secret", "--secret-id", "\(prefix)/database",
                                           "--secret-string", #"{"password":"\#(canary)"}"#], environment: env.admin, stderr: false)
        #expect(update.status == 0)
        #expect(VigilProcess.waitUntil(timeout: 10) { secretsCheck(vigil).facts["database"]?["missing_keys"] != nil },
                "\(vigil.process.log.suffix(2000))")
        let check = secretsCheck(vigil)
        #expect(check.facts["database"]?["missing_keys"] == "host,port,username,dbname", "\(check.facts)")
        #expect(check.status == "unhealthy" && check.reason == "malformed" && check.facts["database"]?["login_version"] != nil)
        // The kept connection ended server-side: the probe logs in again (at once, and each
        // second after), with the last well-formed version; the load balancer's view stays 200.
        let runs = { vigil.value(#"vigil_probe_runs_total{probe="database"}"#) ?? 0 }
        let runsBefore = runs()
        let sampler = HealthSampler(vigil)
        let terminated = try ChildProcess.run(["psql", "-h", "127.0.0.1", "-p", String(postgres.port), "-U", "postgres", "-qAtc",
                                               "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'vigil'"])
        #expect(terminated.output.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(terminated.output)")
        #expect(VigilProcess.waitUntil(timeout: 10) { runs() >= runsBefore + 3 })
        let samples = sampler.stop()
        #expect(!samples.isEmpty && samples.allSatisfy { $0.code == 200 }, "\(Dictionary(grouping: samples, by: \.code).mapValues(\.count))")
        #expect(vigil.health()?.checks["database"]?.status == "healthy")
        #expect(VigilProcess.waitUntil(timeout: 5) { vigil.value(#"vigil_secrets_finding{secret="database",finding="malformed"}"#) == 1 })
        // The database probe says it logs in with that earlier version, the one the secrets probe names.
        let kept = try #require(check.facts["database"]?["login_version"])
        #expect(VigilProcess.waitUntil(timeout: 5) { vigil.verboseCheck("database").facts["database"]?["login_version"] == kept },
                "\(vigil.verboseCheck("database"))")

        // Applications get AWSCURRENT as AWS has it, told what it lacks.
        let read = try CurlClient().request("http://\(endpoint)/v1/\(prefix)/database", headers: ["X-Aws-Parameters-Secrets-Token: \(token)"])
        let servesAWSCURRENT = read.text.contains(canary)  // outside #expect: a failure must not print the value
        #expect(read.status == 200 && servesAWSCURRENT && read.headers["x-vigil-missing-keys"] == "host,port,username,dbname")

        let list = try VigilProcess.run(["secrets", "list", "--config", vigil.configFile.path])
        #expect(list.output.contains("malformed"), "\(list.output)")

        // The whole JSON put back: cleared.
        #expect(env.putSecret("\(prefix)/database", whole))
        #expect(VigilProcess.waitUntil(timeout: 10) { secretsCheck(vigil).facts["database"]?["missing_keys"] == nil },
                "\(vigil.process.log.suffix(2000))")
        #expect(VigilProcess.waitUntil(timeout: 5) { vigil.value(#"vigil_secrets_finding{secret="database",finding="malformed"}"#) == 0 })
        #expect(VigilProcess.waitUntil(timeout: 5) { vigil.verboseCheck("database").facts["database"]?["login_version"] == nil })

        let outputs = [vigil.process.log, vigil.metrics, (try? CurlClient().request(vigil.base + "/health?verbose").text) ?? "", list.output]
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: outputs, extra: [canary])
    }
}
