import Foundation
import Testing
import VigilTestSupport

/// The database probe behind the pooler users put in front of PostgreSQL:
/// Debian's PgBouncer, SCRAM, in session and in transaction pooling. Vigil
/// once sent `options=-c statement_timeout=...` at connect, which PgBouncer
/// refuses ("unsupported startup parameter: options"): 503 for good.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct PoolerTests {
    let env = ServicesEnvironment()

    @Test(arguments: ["session", "transaction"])
    func databaseBehindPgBouncerIsHealthyAndItsOutageSeenWithinOneInterval(mode: String) throws {
        let pooler = try PrivatePgBouncer(postgresPort: env.postgresPort)
        let port = mode == "session" ? pooler.sessionPort : pooler.transactionPort
        let vigil = try VigilUnderTest(config: "probes:\n  interval: 1s\n  timeout: 1s\n", environment: [
            "DATABASE_URL": "postgres://vigil:\(env.databasePassword)@127.0.0.1:\(port)/vigil",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:\(try Blackhole.freePort())", "AWS_MAX_ATTEMPTS": "1"])
        let up = vigil.seconds(until: { $0.services["database"] == "connected" }, timeout: 15)
        #expect(up != nil, "\(vigil.health().map { "\($0.checks)" } ?? "") \(vigil.process.log.suffix(2000))")
        // Several runs in a row succeed (the first run is not a fluke of a fresh connection).
        #expect(VigilProcess.waitUntil(timeout: 10) { (vigil.value(#"vigil_probe_runs_total{probe="database"}"#) ?? 0) >= 4 })
        #expect(vigil.value(#"vigil_probe_failures_total{probe="database",reason="protocol"}"#) == 0)
        #expect(vigil.health()?.code == 200)
        // The probe's statement timeout stays inside its own transaction: a
        // client of the same pool sees the server's default.
        let shown = try ChildProcess.run(["psql", "-h", "127.0.0.1", "-p", String(port), "-U", "vigil", "-d", "vigil",
                                          "-qAtc", "SHOW statement_timeout"], environment: ["PGPASSWORD": env.databasePassword])
        #expect(shown.status == 0 && shown.output.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(shown.output)")

        // One interval (1 s) plus the run's timeout, with room for a loaded machine.
        try pooler.stop()
        let down = vigil.seconds(until: { $0.code == 503 && $0.services["database"] == "disconnected" }, timeout: 10)
        #expect(down.map { $0 < 3 } == true, "down after \(down ?? -1) s")
        try pooler.start()
        let back = vigil.seconds(until: { $0.code == 200 && $0.services["database"] == "connected" }, timeout: 10)
        #expect(back.map { $0 < 3 } == true, "back after \(back ?? -1) s")
        print("pgbouncer \(mode): up after \(up ?? -1) s, outage seen after \(down ?? -1) s, return after \(back ?? -1) s")
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [vigil.process.log])
    }
}
