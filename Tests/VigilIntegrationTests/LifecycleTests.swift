import Foundation
import Testing
import VigilTestSupport

/// Lifecycle findings from the DescribeSecret each refresh already makes,
/// against moto (which models RotationEnabled, RotationRules,
/// NextRotationDate, LastRotatedDate, DeletedDate and ReplicationStatus):
/// rotation configured, AWSPENDING left on another version, a replica that
/// failed, and a secret scheduled for deletion and restored.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct LifecycleTests {
    let env = ServicesEnvironment()
    let suffix = String(UUID().uuidString.prefix(6)).lowercased()
    var prefix: String { "vigil/lifecycle-\(suffix)" }

    /// The aws CLI as the admin identity; its standard output.
    @discardableResult
    private func aws(_ arguments: [String], region: String? = nil) throws -> String {
        let run = try ChildProcess.run(["aws", "secretsmanager"] + arguments + ["--output", "json"] + (region.map { ["--region", $0] } ?? []),
                                       environment: env.admin, stderr: false)
        #expect(run.status == 0, "aws \(arguments.first ?? ""): \(run.output)")
        return run.output
    }

    /// DescribeSecret's date fields as Unix seconds (the CLI prints ISO 8601 or epoch seconds).
    private func described(_ id: String) throws -> [String: Double] {
        let object = try JSONSerialization.jsonObject(with: Data(try aws(["describe-secret", "--secret-id", id]).utf8)) as? [String: Any] ?? [:]
        var dates: [String: Double] = [:]
        for key in ["NextRotationDate", "LastRotatedDate", "LastChangedDate", "DeletedDate"] {
            if let seconds = object[key] as? Double { dates[key] = seconds }
            if let text = object[key] as? String { dates[key] = ISO8601DateFormatter().date(from: text.replacing(/\.\d+/, with: ""))?.timeIntervalSince1970 }
        }
        return dates
    }

    private func facts(_ vigil: VigilUnderTest) -> [String: [String: String]] { vigil.verboseCheck("secrets").facts }

    @Test func rotationPendingReplicasAndDeletionAreFindingsWhileEveryValueIsServed() throws {
        let value = { (name: String) in #"{"token":"canary-lifecycle-\#(name)-\#(suffix)"}"# }
        for name in ["rotated", "pending", "replicated", "doomed"] { #expect(env.putSecret("\(prefix)/\(name)", value(name))) }
        try aws(["rotate-secret", "--secret-id", "\(prefix)/rotated", "--rotation-rules", "AutomaticallyAfterDays=30",
                 "--no-rotate-immediately"])
        try aws(["put-secret-value", "--secret-id", "\(prefix)/pending", "--secret-string", value("pending-next"),
                 "--version-stages", "AWSPENDING"])
        // moto fails a replication to a region that already holds a secret of that name.
        try aws(["create-secret", "--name", "\(prefix)/replicated", "--secret-string", value("other")], region: "us-west-2")
        try aws(["replicate-secret-to-regions", "--secret-id", "\(prefix)/replicated", "--add-replica-regions", "Region=us-west-2"])

        let vigil = try VigilUnderTest(config: """
            probes:
              interval: 1s
            secrets:
              environment: dev
              ttl: 2s
              refresh_ahead: 1s
              rotation_window: 2s
              items:
                database: {id: vigil/dev/database/credentials}
                redis: {id: vigil/dev/redis/credentials}
                rotated: {id: \(prefix)/rotated}
                pending: {id: \(prefix)/pending}
                replicated: {id: \(prefix)/replicated}
                doomed: {id: \(prefix)/doomed}
            """)
        func series(_ name: String, _ secret: String, _ extra: String = "") -> Double? {
            vigil.value(#"\#(name){secret="\#(secret)"\#(extra)}"#)
        }
        func finding(_ secret: String, _ finding: String) -> Double? {
            series("vigil_secrets_finding", secret, #",finding="\#(finding)""#)
        }
        // Every series is there from the first load's end, at 0 until a finding holds.
        #expect(VigilProcess.waitUntil(timeout: 5) { series("vigil_secrets_lifecycle_known", "doomed") != nil })
        #expect(finding("doomed", "deletion_scheduled") == 0 && finding("doomed", "malformed") == 0)

        // Within a refresh cycle: rotation as DescribeSecret says it, AWSPENDING stuck past the window, the failed replica.
        #expect(VigilProcess.waitUntil(timeout: 15) {
            series("vigil_secrets_rotation_enabled", "rotated") == 1 && finding("pending", "rotation_stuck") == 1
                && finding("replicated", "replica_out_of_sync") == 1
        }, "\(vigil.process.log.suffix(2000))")
        let rotation = try described("\(prefix)/rotated")
        #expect(series("vigil_secrets_next_rotation_timestamp_seconds", "rotated") == rotation["NextRotationDate"])
        #expect(series("vigil_secrets_last_rotated_timestamp_seconds", "rotated") == rotation["LastRotatedDate"])
        #expect(series("vigil_secrets_replicas", "replicated", #",status="Failed""#) == 1)
        #expect(finding("rotated", "rotation_overdue") == 0 && finding("rotated", "rotation_stuck") == 0)
        // /health shows what the secrets probe's last run found: up to a probe interval after the gauges.
        #expect(VigilProcess.waitUntil(timeout: 5) {
            vigil.health()?.checks["secrets"]?.reason == "rotation_stuck" && facts(vigil)["replicated"]?["out_of_sync"] != nil
        })
        let health = try #require(vigil.health())
        #expect(health.code == 200 && health.checks["secrets"]?.status == "degraded" && health.checks["secrets"]?.reason == "rotation_stuck")
        #expect(health.checks["database"]?.status == "healthy", "a finding about a secret is not its backend's outage")
        #expect(facts(vigil)["replicated"]?["out_of_sync"] == "us-west-2" && facts(vigil)["pending"]?["findings"] == "rotation_stuck")

        // Scheduled for deletion: GetSecretValue fails from now on; Vigil says so and serves what it holds.
        try aws(["delete-secret", "--secret-id", "\(prefix)/doomed", "--recovery-window-in-days", "7"])
        let deletion = try #require(try described("\(prefix)/doomed")["DeletedDate"])
        #expect(VigilProcess.waitUntil(timeout: 10) { finding("doomed", "deletion_scheduled") == 1 }, "\(vigil.process.log.suffix(2000))")
        #expect(series("vigil_secrets_deletion_timestamp_seconds", "doomed") == deletion)
        #expect(VigilProcess.waitUntil(timeout: 5) { facts(vigil)["doomed"]?["deletion"] != nil })
        let doomed = facts(vigil)["doomed"] ?? [:]
        #expect(doomed["state"] == "fresh" && doomed["source"] == "aws" && doomed["deletion"]?.hasPrefix(
            Date(timeIntervalSince1970: deletion).formatted(.iso8601).prefix(10)) == true, "\(doomed)")
        #expect(vigil.health()?.code == 200)

        try aws(["restore-secret", "--secret-id", "\(prefix)/doomed"])
        #expect(VigilProcess.waitUntil(timeout: 10) { finding("doomed", "deletion_scheduled") == 0 }, "\(vigil.process.log.suffix(2000))")
        #expect(series("vigil_secrets_deletion_timestamp_seconds", "doomed") == 0)

        let outputs = [vigil.process.log, vigil.metrics, (try? CurlClient().request(vigil.base + "/health?verbose").text) ?? ""]
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: outputs, extra: ["canary-lifecycle-"])
    }

    /// The findings cost no AWS call: each refresh cycle is still one
    /// DescribeSecret per secret and nothing else while versions stay
    /// (counted at a proxy in front of moto, per SecretId).
    @Test func eachRefreshCycleIsStillOneDescribeSecretPerSecret() throws {
        let proxy = try FaultProxy(upstream: env.motoURL)
        for name in ["one", "two"] { #expect(env.putSecret("\(prefix)/\(name)", #"{"token":"canary-calls-\#(name)"}"#)) }
        let vigil = try VigilUnderTest(config: """
            probes:
              interval: 1s
            secrets:
              ttl: 2s
              refresh_ahead: 1s
              items:
                one: {id: \(prefix)/one}
                two: {id: \(prefix)/two}
            """, environment: ["AWS_ENDPOINT_URL": proxy.url])
        #expect(VigilProcess.waitUntil(timeout: 15) {
            ["one", "two"].allSatisfy { vigil.value(#"vigil_secrets_lifecycle_known{secret="\#($0)"}"#) == 1 }
        }, "\(vigil.process.log.suffix(2000))")
        let started = try proxy.log().count
        // Four more cycles of each secret (a 2 s TTL refreshed 1 s ahead: about one a second).
        #expect(VigilProcess.waitUntil(timeout: 20) {
            let calls = (try? proxy.log().dropFirst(started)) ?? []
            return ["one", "two"].allSatisfy { name in calls.filter { $0.secretID == "\(prefix)/\(name)" }.count >= 4 }
        })
        let calls = try proxy.log().dropFirst(started)
        #expect(vigil.process.stop() == 0)
        let operations = Set(calls.map { String($0.target.split(separator: ".").last ?? "") })
        #expect(operations == ["DescribeSecret"], "\(operations)")
        #expect(calls.allSatisfy { $0.secretID.hasPrefix(prefix) }, "\(calls.map(\.secretID))")
    }
}
