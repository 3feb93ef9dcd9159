import Foundation
import Testing
import VigilTestSupport

/// A regional Secrets Manager outage (docs/reliability.md): moto holds each
/// secret with a replica in us-west-2 (one moto serves both regions, the
/// region taken from the signature's scope), each region behind its own
/// fault proxy; the primary's proxy hangs every request.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct RegionFailoverTests {
    let env = ServicesEnvironment()
    static let replica = "us-west-2"

    /// A database secret for role `role` (created with `password`), with a replica.
    private func createSecret(role: String, password: String, suffix: String) throws -> String {
        let id = "vigil/dev/failover-\(suffix)/database"
        let value = #"{"username":"\#(role)","password":"\#(password)","host":"127.0.0.1","port":\#(env.postgresPort),"dbname":"vigil"}"#
        let status = runCommand(["aws", "secretsmanager", "create-secret", "--name", id, "--secret-string", value,
                                 "--add-replica-regions", "Region=\(Self.replica)"], environment: env.admin)
        #expect(status == 0, "create-secret with a replica failed")
        return id
    }

    /// Vigil reading `secretID` for its database probe through the two proxies; Redis not probed.
    private func config(secretID: String, primary: FaultProxy, replica: FaultProxy) -> String {
        """
        aws:
          region: us-east-1
          failover_regions: [\(Self.replica)]
          secretsmanager_endpoints:
            us-east-1: \(primary.url)
            \(Self.replica): \(replica.url)
          timeout: 2s
        secrets:
          items:
            database: {id: \(secretID)}
        probes:
          interval: 3s
          timeout: 3s
          redis: {enabled: false}
        """
    }

    /// The endpoint variables name the primary's endpoint: cleared, so the configured map decides.
    private var environment: [String: String] { ["AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_SECRETS_MANAGER": ""] }

    private func verbose(_ vigil: VigilUnderTest) -> [String: Any] {
        guard let response = try? CurlClient().request(vigil.base + "/health?verbose"),
              let json = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else { return [:] }
        return json
    }

    /// The region `/health?verbose` gives for the database secret, and the secrets check's reason.
    private func served(_ vigil: VigilUnderTest) -> (region: String?, reason: String?) {
        let secrets = (verbose(vigil)["checks"] as? [String: [String: Any]])?["secrets"]
        let database = (secrets?["facts"] as? [String: [String: String]])?["database"]
        return (database?["region"], secrets?["reason"] as? String)
    }

    @Test func aColdStartWithThePrimaryHangingReadsTheReplicaAndReturnsToThePrimary() throws {
        let suffix = String(UUID().uuidString.prefix(6)).lowercased()
        let secretID = try createSecret(role: "vigil", password: env.databasePassword, suffix: suffix)
        let primary = try FaultProxy(upstream: env.motoURL), replica = try FaultProxy(upstream: env.motoURL)
        try primary.inject("hang", sticky: true)
        let started = Date()
        let vigil = try VigilUnderTest(config: config(secretID: secretID, primary: primary, replica: replica), environment: environment)
        let connected = vigil.seconds(until: { $0.services["database"] == "connected" }, timeout: 20)
        let elapsed = Date().timeIntervalSince(started)
        print("cold start, primary hanging: database connected \(String(format: "%.2f", elapsed)) s after exec")
        #expect(connected != nil, "\(vigil.process.log.suffix(3000))")
        // The bound: the probe's timeout (3 s) plus a few seconds (the hedge comes after aws.failover_delay, 1 s).
        #expect(elapsed < 3 + 3, "database connected only after \(elapsed) s")
        #expect(served(vigil).region == Self.replica)
        #expect(served(vigil).reason == "replica")
        #expect((vigil.value(#"vigil_secrets_region_reads_total{region="us-west-2",outcome="success"}"#) ?? 0) >= 1)
        #expect(try replica.log().contains { $0.target.hasSuffix("GetSecretValue") })

        // `vigil secrets list` takes the same way.
        let list = try VigilProcess.run(["secrets", "list", "--config", vigil.configFile.path], environment: environment)
        #expect(list.status == 0, "\(list.output)")
        #expect(list.output.contains("\(Self.replica) (replica)"), "\(list.output)")

        // The primary answers again: the next check (within secrets.max_backoff, here the 3 s probe interval) returns to it.
        try primary.clear()
        let back = vigil.seconds(until: { _ in served(vigil).region == "us-east-1" && served(vigil).reason == "ok" }, timeout: 15)
        print("primary back: values read from it again after \(back.map { String(format: "%.2f", $0) } ?? "-") s")
        #expect(back != nil, "still \(served(vigil)) after the primary returned")
        let outputs = [vigil.metrics, String(describing: verbose(vigil)), list.output]
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: outputs + [vigil.process.log])
    }

    @Test func aWarmVigilKeepsCurrentValuesThroughAPrimaryOutageAndARotationDuringIt() throws {
        let suffix = String(UUID().uuidString.prefix(6)).lowercased()
        let role = "vigil_fo_\(suffix)", old = "canary-fo-old-\(suffix)", new = "canary-fo-new-\(suffix)"
        try DetectionTests.psql(env.postgresPort, "CREATE ROLE \(role) LOGIN PASSWORD '\(old)'", database: "vigil")
        defer { _ = try? DetectionTests.psql(env.postgresPort, "DROP ROLE IF EXISTS \(role)", database: "vigil") }
        let secretID = try createSecret(role: role, password: old, suffix: suffix)
        let primary = try FaultProxy(upstream: env.motoURL), replica = try FaultProxy(upstream: env.motoURL)
        let vigil = try VigilUnderTest(config: config(secretID: secretID, primary: primary, replica: replica), environment: environment)
        #expect(vigil.seconds(until: { $0.code == 200 && $0.services["database"] == "connected" }, timeout: 20) != nil,
                "\(vigil.process.log.suffix(3000))")
        #expect(served(vigil).region == "us-east-1")

        // The primary hangs; the secret rotates meanwhile (the server first, then the secret; the
        // kept connection dropped so the next run logs in again).
        try primary.inject("hang", sticky: true)
        let sampler = HealthSampler(vigil)
        try DetectionTests.psql(env.postgresPort, "ALTER ROLE \(role) PASSWORD '\(new)'", database: "vigil")
        let value = #"{"username":"\#(role)","password":"\#(new)","host":"127.0.0.1","port":\#(env.postgresPort),"dbname":"vigil"}"#
        #expect(runCommand(["aws", "secretsmanager", "put-secret-value", "--secret-id", secretID, "--secret-string", value],
                           environment: env.admin) == 0)
        try DetectionTests.psql(env.postgresPort, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '\(role)'")
        #expect(vigil.waitForRotation(of: "database", after: 0, timeout: 15), "\(vigil.process.log.suffix(3000))")
        #expect(vigil.seconds(until: { $0.services["database"] == "connected" }, timeout: 10) != nil)
        #expect(vigil.seconds(until: { _ in served(vigil).region == Self.replica }, timeout: 10) != nil, "\(served(vigil))")
        let samples = sampler.stop()
        let unhealthy = samples.filter { $0.code != 200 }.count
        print("rotation during a primary outage: \(unhealthy) of \(samples.count) /health samples unhealthy")
        #expect(unhealthy == 0, "\(unhealthy) of \(samples.count) samples unhealthy")

        try primary.clear()
        #expect(vigil.seconds(until: { _ in served(vigil).region == "us-east-1" }, timeout: 15) != nil,
                "still \(served(vigil)) after the primary returned")
        #expect(vigil.health()?.services["database"] == "connected")
        let outputs = [vigil.metrics, String(describing: verbose(vigil))]
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: outputs + [vigil.process.log], extra: [old, new])
    }
}
