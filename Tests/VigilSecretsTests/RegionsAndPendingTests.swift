import Foundation
import Testing
import VigilSecrets
import VigilTestSupport

/// Replica regions and AWSPENDING, through the client's API (the service-level
/// scenarios are RegionFailoverTests and RotationTests).
extension SecretsClientTests {
    /// A string field of an AWS JSON answer (an ARN, a VersionId).
    private func field(_ name: String, of reply: [UInt8]) throws -> String? {
        (try JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any])?[name] as? String
    }

    private func createWithReplica(_ value: String) throws -> (name: String, arn: String) {
        let name = "vigil/dev/replicated-\(UUID().uuidString.prefix(8))"
        let reply = try admin("CreateSecret", #"{"Name":"\#(name)","SecretString":"\#(value)","AddReplicaRegions":[{"Region":"us-west-2"}]}"#)
        let arn = try field("ARN", of: reply) ?? ""
        return (name, arn)
    }

    /// Denied and not found are answers: no failover. An outage class goes
    /// to the replica at once, where a primary-region ARN names the replica's.
    @Test func answersDoNotFailOverAndOutagesReadTheReplicaByItsARN() throws {
        let replica = try FaultProxy(upstream: env.motoURL)
        let secret = try createWithReplica("canary-replicated")
        let secrets = client(items: [.init(name: "replicated", secretID: secret.arn)], replica: replica)
        try proxy.inject("notfound", sticky: true)
        #expect(throws: SecretsError.self) { try secrets.get("replicated") }
        #expect(try replica.log().isEmpty)

        try proxy.clear()
        try proxy.inject("error", status: 503, sticky: true)
        clock.advance(2)  // past the not-found's backoff
        let value = try secrets.get("replicated")
        let secretCheck = value.value.revealed() == "canary-replicated"
        #expect(secretCheck)
        let status = try #require(secrets.statuses().first)
        #expect(status.region == "us-west-2" && status.fromReplica)
        let sent = try replica.log()
        #expect(sent.count == 1 && sent[0].target.hasSuffix("GetSecretValue"))
        #expect(metrics.contains(#"vigil_secrets_region_reads_total{region="us-west-2",outcome="success"} 1"#))
        #expect(metrics.contains(#"vigil_secrets_region_reads_total{region="us-east-1",outcome="aws_error"} "#))
        #expect(metrics.contains(#"vigil_secrets_region_reads_total{region="us-east-1",outcome="not_found"} 1"#))

        // The primary answers again. A value read from a replica is checked again within max_backoff: a check
        // that asks both regions (the primary was failing) may take either answer; once the primary has
        // answered, the next asks it first.
        try proxy.clear()
        let primaryAnswers = #"vigil_secrets_region_reads_total{region="us-east-1",outcome="success"}"#
        func count() -> Double { VigilUnderTest.value(primaryAnswers, in: metrics) ?? 0 }
        var checks = 0
        while secrets.statuses().first?.region != "us-east-1" && checks < 5 {
            let before = count()
            clock.advance(61)
            secrets.refreshDue()
            checks += 1
            #expect(VigilProcess.waitUntil(timeout: 10) { count() > before }, "the primary was not asked")
        }
        #expect(secrets.statuses().first?.region == "us-east-1", "still on the replica after \(checks) checks")
        env.assertNoCanary(in: logs.value + [metrics], extra: ["canary-replicated"])
    }

    /// AWSPENDING stands in after a failed login with an unmoved
    /// AWSCURRENT, is confirmed by a login, dropped by a failed one (and not
    /// tried again), and gives way once AWSCURRENT moves to it.
    @Test func pendingStandsInUntilAWSCURRENTMovesAndIsDroppedWhenItFails() throws {
        let name = "vigil/dev/pending-\(UUID().uuidString.prefix(8))"
        try admin("CreateSecret", #"{"Name":"\#(name)","SecretString":"canary-p1"}"#)
        let secrets = client(items: [.init(name: "rotating", secretID: name)])
        let first = try secrets.get("rotating")
        let pending = try admin("PutSecretValue", #"{"SecretId":"\#(name)","SecretString":"canary-p2","VersionStages":["AWSPENDING"]}"#)
        let pendingVersion = try field("VersionId", of: pending)

        // A login failed: AWSCURRENT has not moved, so AWSPENDING is served.
        let standIn = try secrets.forceRefresh("rotating", maxWait: 5)
        let secretCheck1 = standIn.value.revealed() == "canary-p2"
        #expect(secretCheck1)
        #expect(secrets.statuses().first?.pending == true)
        secrets.credentialsAccepted("rotating")
        secrets.credentialsAccepted("rotating")
        #expect(metrics.contains(#"vigil_secrets_pending_used_total{secret="rotating"} 1"#))

        // Another probe's login had failed with AWSCURRENT: the stand-in stays.
        let other = try secrets.forceRefresh("rotating", maxWait: 5, failedVersion: first.versionID)
        #expect(other.versionID == standIn.versionID && secrets.statuses().first?.pending == true)

        // A login failed with it too (a rotation rolled back): AWSCURRENT again, AWSPENDING not retried.
        clock.advance(10)
        let back = try secrets.forceRefresh("rotating", maxWait: 5, failedVersion: standIn.versionID)
        let secretCheck2 = back.value.revealed() == "canary-p1"
        #expect(secretCheck2)
        #expect(back.versionID == first.versionID && secrets.statuses().first?.pending == false)

        // A second rotation attempt: a new AWSPENDING, then AWSCURRENT moved to it.
        let retry = try admin("PutSecretValue", #"{"SecretId":"\#(name)","SecretString":"canary-p3","VersionStages":["AWSPENDING"]}"#)
        let retryVersion = try field("VersionId", of: retry)
        #expect(retryVersion != pendingVersion)
        clock.advance(10)
        let third = try secrets.forceRefresh("rotating", maxWait: 5, failedVersion: first.versionID)
        let secretCheck3 = third.value.revealed() == "canary-p3"
        #expect(secretCheck3)
        try admin("UpdateSecretVersionStage", #"{"SecretId":"\#(name)","VersionStage":"AWSCURRENT","MoveToVersionId":"\#(retryVersion ?? "")","RemoveFromVersionId":"\#(first.versionID ?? "")"}"#)
        clock.advance(61)  // past max_backoff: the stand-in is checked against AWSCURRENT
        secrets.refreshDue()
        let status = try #require(secrets.statuses().first)
        #expect(!status.pending && status.versionID == retryVersion && status.state == .fresh)
        #expect(metrics.contains(#"vigil_secrets_rotations_total{secret="rotating"} 1"#))
        env.assertNoCanary(in: logs.value + [metrics], extra: ["canary-p1", "canary-p2", "canary-p3"])
    }
}
