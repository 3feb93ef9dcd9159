import Foundation
import Testing
import VigilTestSupport

/// Rotations as the AWS rotation functions run them, against the shared
/// PostgreSQL and moto: `create_secret` puts AWSPENDING, `set_secret`
/// changes the database, `finish_secret` moves AWSCURRENT. Vigil's
/// connections are ended every second throughout, so every run logs in
/// (a kept connection outlives a password change).
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct RotationTests {
    let env = ServicesEnvironment()

    private func json(role: String, password: String) -> String {
        #"{"username":"\#(role)","password":"\#(password)","host":"127.0.0.1","port":\#(env.postgresPort),"dbname":"vigil"}"#
    }

    private func psql(_ sql: String) throws { try DetectionTests.psql(env.postgresPort, sql, database: "vigil") }

    private func aws(_ arguments: [String]) throws -> String {
        let result = try ChildProcess.run(["aws", "secretsmanager"] + arguments + ["--output", "text"], environment: env.admin)
        #expect(result.status == 0, "aws secretsmanager \(arguments[0]) failed")
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let token = "rotation-token-\(UUID().uuidString)"

    /// Vigil probing the database every 2 s (and at once when its connection
    /// is ended) with `secretID`'s credentials; Redis not probed. The secrets
    /// endpoint on too: applications get the same value as the probes.
    private func serve(_ secretID: String, ttl: String = "1h", emergencyTTL: String = "24h", extra: String = "") throws -> VigilUnderTest {
        let vigil = try VigilUnderTest(config: """
            secrets:
              ttl: \(ttl)
              emergency_ttl: \(emergencyTTL)
              refresh_ahead: 1s
              items:
                database: {id: \(secretID)}
            probes:
              interval: 2s
              timeout: 2s
              redis: {enabled: false}
            endpoint: {enabled: true, listen_address: "127.0.0.1:0"}
            \(extra)
            """, environment: ["AWS_TOKEN": Self.token])
        #expect(vigil.seconds(until: { $0.code == 200 && $0.services["database"] == "connected" }, timeout: 20) != nil,
                "\(vigil.process.log.suffix(3000))")
        return vigil
    }

    /// The secrets endpoint's answer for `secretID`, as the application would read it.
    private func read(_ vigil: VigilUnderTest, _ secretID: String) -> [String: Any] {
        let address = vigil.process.waitForListenAddress(of: "secrets endpoint listening") ?? ""
        guard let response = try? CurlClient().request("http://\(address)/v1/\(secretID)",
                                                       headers: ["X-Aws-Parameters-Secrets-Token: \(Self.token)"]) else { return [:] }
        return (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
    }

    /// The rotation's steps: AWSPENDING put, then `setSecret` (the database),
    /// AWSCURRENT moved `gap` seconds later; Vigil's connections ended every
    /// second from the start to `after` seconds past the move. Returns the samples.
    private func rotate(_ vigil: VigilUnderTest, secretID: String, roles: [String], pending: String, gap: Double, after: Double,
                        beforeMove: () -> Void = {}, setSecret: () throws -> Void) throws -> [HealthSampler.Sample] {
        let sampler = HealthSampler(vigil)
        let before = try aws(["get-secret-value", "--secret-id", secretID, "--query", "VersionId"])
        let next = try aws(["put-secret-value", "--secret-id", secretID, "--secret-string", pending,
                            "--version-stages", "AWSPENDING", "--query", "VersionId"])
        try setSecret()
        try endConnections(of: roles, for: gap)
        beforeMove()
        _ = try aws(["update-secret-version-stage", "--secret-id", secretID, "--version-stage", "AWSCURRENT",
                     "--move-to-version-id", next, "--remove-from-version-id", before])
        try endConnections(of: roles, for: after)
        return sampler.stop()
    }

    /// Ends `roles`' connections every second for `seconds`, so every probe run logs in.
    private func endConnections(of roles: [String], for seconds: Double) throws {
        let terminate = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename IN ("
            + roles.map { "'\($0)'" }.joined(separator: ",") + ")"
        let until = Date().addingTimeInterval(seconds)
        while Date() < until {
            try psql(terminate)
            usleep(1_000_000)
        }
    }

    /// A login role with the password `old` and a secret holding it; `new` is the rotation's password.
    private func singleUser(_ kind: String) throws -> (role: String, old: String, new: String, secretID: String) {
        let suffix = String(UUID().uuidString.prefix(6)).lowercased()
        let role = "vigil_\(kind)_\(suffix)", old = "canary-\(kind)-old-\(suffix)", new = "canary-\(kind)-new-\(suffix)"
        try psql("CREATE ROLE \(role) LOGIN PASSWORD '\(old)'")
        let secretID = "vigil/dev/rotation-\(kind)-\(suffix)"
        _ = try aws(["create-secret", "--name", secretID, "--secret-string", json(role: role, password: old)])
        return (role, old, new, secretID)
    }

    /// With a hook on the secret (docs/hooks.md): it runs once, when
    /// AWSPENDING takes over (the move of AWSCURRENT to the same version is
    /// no change), with the name and version and no value in its environment.
    @Test func aSingleUserRotationNeverTurnsHealthUnhealthy() throws {
        let (role, old, new, secretID) = try singleUser("su")
        defer { _ = try? psql("DROP ROLE IF EXISTS \(role)") }
        let runs = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-hook-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: runs) }
        let vigil = try serve(secretID, extra: """
            hooks:
              app:
                secrets: [database]
                command: [sh, -c, 'env > "$0.$$"', \(runs.path)/run]
            """)

        // Between the password change and the move, the endpoint serves the application what the probe logs in with.
        var served: [String: Any] = [:]
        let samples = try rotate(vigil, secretID: secretID, roles: [role], pending: json(role: role, password: new),
                                 gap: 12, after: 6, beforeMove: { served = read(vigil, secretID) }) {
            try psql("ALTER ROLE \(role) PASSWORD '\(new)'")
        }
        #expect(served["VersionStages"] as? [String] == ["AWSPENDING"], "\(served["VersionStages"] ?? "none")")
        let secretCheck = (served["SecretString"] as? String)?.contains(new) == true
        #expect(secretCheck, "the endpoint did not serve the AWSPENDING value")
        let unhealthy = samples.filter { $0.code != 200 }.count
        print("single-user rotation: \(unhealthy) of \(samples.count) /health samples unhealthy")
        #expect(samples.count > 100)
        #expect(unhealthy == 0, "\(unhealthy) of \(samples.count) samples unhealthy: \(vigil.process.log.suffix(3000))")
        #expect(vigil.value(#"vigil_secrets_pending_used_total{secret="database"}"#) == 1)
        // Once AWSCURRENT has moved, its value is served as AWSCURRENT (checked every secrets.max_backoff, 2 s).
        #expect(vigil.waitForRotation(of: "database", after: 0, timeout: 10), "\(vigil.process.log.suffix(3000))")
        let outputs = [vigil.metrics, (try? CurlClient().request(vigil.base + "/health?verbose").text) ?? ""]
        #expect(outputs[1].contains(#""database":{"state":"fresh","source":"aws","region":"us-east-1"}"#), "\(outputs[1])")
        let version = try aws(["get-secret-value", "--secret-id", secretID, "--version-stage", "AWSCURRENT", "--query", "VersionId"])
        #expect(vigil.value(#"vigil_hook_runs_total{hook="app",outcome="ok"}"#) == 1, "\(vigil.process.log.suffix(2000))")
        #expect(vigil.process.stop() == 0)
        let environments = try FileManager.default.contentsOfDirectory(atPath: runs.path)
            .map { try String(contentsOf: runs.appendingPathComponent($0), encoding: .utf8) }
        #expect(environments.count == 1, "one run for one version change, not \(environments.count)")
        let hook = Set((environments.first ?? "").split(separator: "\n").map(String.init))
        #expect(hook.isSuperset(of: ["VIGIL_HOOK=app", "VIGIL_SECRET_NAME=database", "VIGIL_SECRET_ID=\(secretID)",
                                     "VIGIL_SECRET_VERSION_ID=\(version)", "VIGIL_SECRET_VERSION_STAGE=AWSPENDING"]), "\(hook.sorted())")
        #expect(!hook.contains { $0.hasPrefix("AWS_") }, "Vigil's AWS variables are not passed on")
        env.assertNoCanary(in: outputs + environments + [vigil.process.log], extra: [old, new])
    }

    /// The rotation function fails after `set_secret`: the database has
    /// AWSPENDING's password and AWSCURRENT never moves. The stand-in that
    /// logs in is confirmed with AWSCURRENT at each check, so it never goes
    /// stale: with a 6 s TTL and a 15 s emergency TTL, the database stays
    /// healthy (it used to turn unhealthy once the stand-in passed the
    /// emergency TTL, with moto answering every call).
    @Test func aSingleUserRotationStuckForGoodKeepsTheLoginThatWorks() throws {
        let (role, old, new, secretID) = try singleUser("stuck")
        defer { _ = try? psql("DROP ROLE IF EXISTS \(role)") }
        let vigil = try serve(secretID, ttl: "6s", emergencyTTL: "15s")
        _ = try aws(["put-secret-value", "--secret-id", secretID, "--secret-string", json(role: role, password: new),
                     "--version-stages", "AWSPENDING"])
        try psql("ALTER ROLE \(role) PASSWORD '\(new)'")
        try endConnections(of: [role], for: 6)  // the stand-in takes over
        let sampler = HealthSampler(vigil)
        try endConnections(of: [role], for: 45)
        let samples = sampler.stop()
        let unhealthy = samples.filter { $0.code != 200 }.count
        print("stuck single-user rotation: \(unhealthy) of \(samples.count) /health samples unhealthy over 45 s")
        #expect(samples.count > 100)
        #expect(unhealthy == 0, "\(unhealthy) of \(samples.count) samples unhealthy: \(vigil.process.log.suffix(3000))")
        let address = vigil.process.waitForListenAddress(of: "secrets endpoint listening") ?? ""
        let answer = try CurlClient().request("http://\(address)/v1/\(secretID)", headers: ["X-Aws-Parameters-Secrets-Token: \(Self.token)"])
        let secretCheck = answer.text.contains(new)
        #expect(answer.status == 200 && secretCheck && answer.headers["x-vigil-source"] != "stale",
                "status \(answer.status), source \(answer.headers["x-vigil-source"] ?? "-")")
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [vigil.metrics, vigil.process.log], extra: [old, new])
    }

    @Test func anAlternatingUsersRotationNeverTurnsHealthUnhealthy() throws {
        let suffix = String(UUID().uuidString.prefix(6)).lowercased()
        let first = "vigil_au1_\(suffix)", second = "vigil_au2_\(suffix)"
        let (firstPassword, secondOld, secondNew) = ("canary-au1-\(suffix)", "canary-au2-old-\(suffix)", "canary-au2-new-\(suffix)")
        try psql("CREATE ROLE \(first) LOGIN PASSWORD '\(firstPassword)'; CREATE ROLE \(second) LOGIN PASSWORD '\(secondOld)'")
        defer { _ = try? psql("DROP ROLE IF EXISTS \(first); DROP ROLE IF EXISTS \(second)") }
        let secretID = "vigil/dev/rotation-alternating-\(suffix)"
        _ = try aws(["create-secret", "--name", secretID, "--secret-string", json(role: first, password: firstPassword)])
        // A short TTL, so the move to the other user shows within the test.
        let vigil = try serve(secretID, ttl: "4s")

        let samples = try rotate(vigil, secretID: secretID, roles: [first, second],
                                 pending: json(role: second, password: secondNew), gap: 6, after: 6) {
            try psql("ALTER ROLE \(second) PASSWORD '\(secondNew)'")
        }
        let unhealthy = samples.filter { $0.code != 200 }.count
        print("alternating-users rotation: \(unhealthy) of \(samples.count) /health samples unhealthy")
        #expect(samples.count > 50)
        #expect(unhealthy == 0, "\(unhealthy) of \(samples.count) samples unhealthy: \(vigil.process.log.suffix(3000))")
        #expect(vigil.waitForRotation(of: "database", after: 0, timeout: 10))
        #expect(vigil.value(#"vigil_secrets_pending_used_total{secret="database"}"#) == 0)
        let loggedIn = VigilProcess.waitUntil(timeout: 5) {
            (try? DetectionTests.psql(env.postgresPort, "SELECT count(*) FROM pg_stat_activity WHERE usename = '\(second)'")) != "0"
        }
        #expect(loggedIn, "Vigil does not log in as the new user")
        let outputs = [vigil.metrics, (try? CurlClient().request(vigil.base + "/health?verbose").text) ?? ""]
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: outputs + [vigil.process.log], extra: [firstPassword, secondOld, secondNew])
    }
}
