import Foundation
import Testing
import VigilTestSupport

/// SIGHUP and `POST /-/reload` re-read the configuration. SIGHUP once ended
/// Vigil with a status systemd counts as clean: `Restart=on-failure` never
/// brought it back.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct ReloadTests {
    let env = ServicesEnvironment()

    @Test func sighupUnderLoadAppliesTheNewConfigurationWithoutAFailedRequest() throws {
        // The database through a counting proxy: its kept connection must survive the reload.
        let database = try TCPFault(upstreamPort: env.postgresPort)
        let vigil = try VigilUnderTest(config: "probes:\n  interval: 1s\n", arguments: ["--web.enable-lifecycle"], environment: [
            "DATABASE_URL": "postgres://vigil:\(env.databasePassword)@127.0.0.1:\(database.port)/vigil",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:\(try Blackhole.freePort())", "AWS_MAX_ATTEMPTS": "1"])  // the fallback serves
        #expect(vigil.seconds(until: { $0.code == 200 }, timeout: 20) != nil, "\(vigil.process.log.suffix(2000))")
        #expect(vigil.value("vigil_config_last_reload_successful") == 1)
        let connections = try database.acceptedConnections()
        // A request slower than 10 s fails (wrk's own 2 s counts a loaded machine's stall as a socket error).
        let load = try ChildProcess(["wrk", "-t2", "-c16", "-d6s", "--timeout", "10s", vigil.base + "/health"])

        try vigil.reload(config: """
            probes:
              interval: 2s
              extra:
                kind: tcp
                address: 127.0.0.1:\(env.postgresPort)
            """)
        #expect(VigilProcess.waitUntil(timeout: 10) {
            vigil.value(#"vigil_probe_interval_seconds{probe="database"}"#) == 2 && vigil.health()?.checks["extra"]?.status == "healthy"
        }, "\(vigil.process.log.suffix(2000))")
        let runs = vigil.value(#"vigil_probe_runs_total{probe="database"}"#) ?? 0
        #expect(VigilProcess.waitUntil(timeout: 10) { (vigil.value(#"vigil_probe_runs_total{probe="database"}"#) ?? 0) >= runs + 2 })
        #expect(try database.acceptedConnections() == connections, "the unchanged database target reconnected")
        load.waitUntilExit()
        // wrk prints its report as it exits: read it once the pipe reached its end (the reader may lag under load).
        #expect(VigilProcess.waitUntil(timeout: 10) { load.reachedEnd })
        let report = load.log
        let requests = report.split(separator: "\n").first { $0.contains("requests in") }
        print("wrk during SIGHUP: \(requests ?? "?")")
        #expect(requests != nil && !report.contains("Non-2xx") && !report.contains("Socket errors"), "\(report)")
        #expect(vigil.process.process.isRunning)

        // An invalid file: refused with its problem logged, the running configuration kept.
        let before = vigil.value("vigil_config_last_reload_success_timestamp_seconds")
        try vigil.reload(config: "probes:\n  interval: soon\n")
        #expect(VigilProcess.waitUntil(timeout: 10) { vigil.value("vigil_config_last_reload_successful") == 0 })
        #expect(vigil.process.log.contains("reload refused: invalid configuration"))
        #expect(vigil.process.log.contains("key=probes.interval"))
        #expect(vigil.value(#"vigil_probe_interval_seconds{probe="database"}"#) == 2)
        #expect(vigil.health()?.checks["extra"] != nil && vigil.health()?.code == 200)
        #expect(vigil.value("vigil_config_last_reload_success_timestamp_seconds") == before)

        // POST /-/reload (--web.enable-lifecycle): the fixed file applies, the target goes.
        try "probes:\n  interval: 1s\n".write(to: vigil.configFile, atomically: true, encoding: .utf8)
        let posted = try CurlClient().request(vigil.base + "/-/reload", method: "POST")
        #expect(posted.status == 200, "\(posted.text)")
        #expect(vigil.value("vigil_config_last_reload_successful") == 1)
        #expect(vigil.health()?.checks["extra"] == nil)
        #expect(!vigil.metrics.contains(#"probe="extra""#), "a removed target keeps its series")
        #expect(try CurlClient().request(vigil.base + "/-/reload").status == 405)
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [vigil.process.log])
    }

    /// SIGHUP with a new `secrets.environment`: the secrets endpoint's
    /// default allow-list follows it. The old environment's ids were still
    /// readable by applications after a reload, and the new ones refused.
    @Test func aReloadMovesTheEndpointsAllowList() throws {
        let environment = "reload-\(UUID().uuidString.prefix(6).lowercased())"
        let moved = "vigil/\(environment)/app"
        #expect(env.putSecret(moved, #"{"key":"canary-moved"}"#))
        let endpoint = "endpoint:\n  enabled: true\n  listen_address: 127.0.0.1:0\n"
        let token = "reload-token-\(UUID().uuidString)"
        let vigil = try VigilUnderTest(config: "secrets:\n  environment: dev\n" + endpoint, environment: ["AWS_TOKEN": token])
        let address = try #require(vigil.process.waitForListenAddress(of: "secrets endpoint listening"), "\(vigil.process.log.suffix(1000))")
        func status(_ id: String) -> Int {
            (try? CurlClient().request("http://\(address)/v1/\(id)", headers: ["X-Aws-Parameters-Secrets-Token: \(token)"]).status) ?? 0
        }
        let old = "vigil/dev/database/credentials"
        #expect(status(old) == 200 && status(moved) == 403)
        // A long poll on the old environment's secret passed the old list: the reload answers it (304).
        let tag = try #require(try CurlClient().request("http://\(address)/v1/\(old)", headers: ["X-Aws-Parameters-Secrets-Token: \(token)"])
            .headers["etag"])
        let poll = try ChildProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "60",
                                     "-H", "X-Aws-Parameters-Secrets-Token: \(token)", "-H", "If-None-Match: \(tag)",
                                     "http://\(address)/v1/\(old)?wait=50"])
        #expect(VigilProcess.waitUntil(timeout: 10) { vigil.value("vigil_endpoint_long_polls") == 1 })

        let started = Date()
        try vigil.reload(config: "secrets:\n  environment: \(environment)\n" + endpoint)
        #expect(VigilProcess.waitUntil(timeout: 10) { poll.reachedEnd && poll.log == "304" }, "the long poll: \(poll.log)")
        #expect(VigilProcess.waitUntil(timeout: 10) { status(moved) == 200 }, "\(vigil.process.log.suffix(1000))")
        print("allow-list moved \(Int(Date().timeIntervalSince(started) * 1000)) ms after SIGHUP")
        #expect(status(old) == 403, "the old environment's secret is still readable")
        #expect(!vigil.process.log.contains("next restart"), "the reload named a setting it applied")
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [vigil.process.log], extra: ["canary-moved"])
    }

    /// The schema says which settings a reload applies, and the reload does
    /// as it says: `web.telemetry_path` (declared live) serves at its new path
    /// with no warning; `web.threads` (declared restart) is named in the warning.
    @Test func aReloadDoesWhatTheSchemaDeclares() throws {
        let vigil = try VigilUnderTest(config: "web:\n  telemetry_path: /metrics\n")
        #expect(try CurlClient().request(vigil.base + "/metrics").status == 200)
        try vigil.reload(config: "web:\n  telemetry_path: /scrape\n")
        #expect(VigilProcess.waitUntil(timeout: 10) { (try? CurlClient().request(vigil.base + "/scrape").status) == 200 },
                "\(vigil.process.log.suffix(1000))")
        #expect(!vigil.process.log.contains("next restart"), "a live setting was called restart-only")
        try vigil.reload(config: "web:\n  telemetry_path: /scrape\n  threads: 3\n")
        #expect(VigilProcess.waitUntil(timeout: 10) { vigil.process.log.contains("keys=web.threads") }, "\(vigil.process.log.suffix(1000))")
        #expect(vigil.process.stop() == 0)
    }

    /// Settings whose effect a reload reached only partly: `database.sslmode`
    /// (the database target's fallback, outside `probes.database`) kept the
    /// probe and its old mode; an item's `keys` were checked only against
    /// the next version AWS served, so a secret stayed well-formed (or
    /// malformed) by the old keys until it rotated.
    @Test func aReloadAppliesFallbackSettingsAndJudgesHeldSecretsByTheNewKeys() throws {
        let suffix = UUID().uuidString.prefix(6).lowercased()
        let payments = "vigil/reload-\(suffix)/payments"
        #expect(env.putSecret(payments, #"{"merchant":"m-1"}"#))
        let config = { (sslmode: String, keys: String) in """
            probes:
              interval: 1s
            database:
              sslmode: \(sslmode)
            secrets:
              environment: dev
              items:
                database: {id: vigil/dev/database/credentials}
                redis: {id: vigil/dev/redis/credentials}
                payments: {id: \(payments), keys: [\(keys)]}
            """ }
        let vigil = try VigilUnderTest(config: config("prefer", ""))
        let tls = { vigil.verboseCheck("database").facts["database"]?["tls"] }
        let malformed = { vigil.value(#"vigil_secrets_finding{secret="payments",finding="malformed"}"#) }
        #expect(VigilProcess.waitUntil(timeout: 15) { tls() == "true" && malformed() == 0 }, "\(vigil.process.log.suffix(1500))")

        try vigil.reload(config: config("allow", "api_key"))
        #expect(VigilProcess.waitUntil(timeout: 10) { tls() == "false" }, "sslmode allow not applied: tls=\(tls() ?? "nil")")
        #expect(VigilProcess.waitUntil(timeout: 10) { malformed() == 1 }, "the held version not judged by the new keys")
        #expect(VigilProcess.waitUntil(timeout: 5) { vigil.verboseCheck("secrets").facts["payments"]?["missing_keys"] == "api_key" })

        try vigil.reload(config: config("allow", "merchant"))
        #expect(VigilProcess.waitUntil(timeout: 10) { malformed() == 0 }, "the held version still judged by the old keys")
        #expect(!vigil.process.log.contains("next restart"), "a reload named a setting it applied")
        #expect(vigil.process.stop() == 0)
    }

    @Test func reloadOverHTTPIsRefusedWithoutTheLifecycleFlag() throws {
        let vigil = try VigilUnderTest(config: "probes:\n  interval: 1s\n")
        #expect(try CurlClient().request(vigil.base + "/-/reload", method: "POST").status == 403)
        kill(vigil.process.process.pid, SIGHUP)
        #expect(VigilProcess.waitUntil(timeout: 10) { vigil.process.log.contains("configuration reloaded") })
        #expect(vigil.process.process.isRunning, "SIGHUP ended vigil")
        #expect(vigil.process.stop() == 0)
    }
}
