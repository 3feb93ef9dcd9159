import Foundation
import Testing
import VigilTestSupport

/// Every setting the schema declares `reload` (docs/configuration.md's
/// column) changed by one SIGHUP and seen in effect: each effect is first
/// checked absent under the first configuration, then awaited under the
/// second. Three Vigil processes, so that no two effects hide each other:
/// probes, web and health; the standard secrets and their policy; named
/// items and the endpoint. A setting this test does not see end to end is
/// in `elsewhere`, with the test that covers it; the last test fails when a
/// declared setting is in neither.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct LiveReloadTests {
    let env = ServicesEnvironment()
    let suffix = String(UUID().uuidString.prefix(6)).lowercased()

    /// One setting's effect: false under the first configuration, true once the second is applied.
    struct Effect {
        var keys: [String]
        var holds: () -> Bool
    }

    /// Live settings not observed here, and what covers each.
    static let elsewhere: [String: String] = {
        let rebuilt = "CatalogTests: a change of it changes the probe's definition, so a reload rebuilds the probe "
            + "(as sslmode, ca_file, address and tls do here, end to end)"
        let policy = "SecretsSimulation (its reloads switch it; the invariants read the policy in force) and ReconfigureTests"
        var covered: [String: String] = [:]
        for key in ["probes.*.server_name", "probes.*.info", "probes.*.url", "probes.*.method", "probes.*.expect_status",
                    "probes.*.headers.*", "probes.*.unix_socket", "probes.*.auth", "probes.*.ehlo_name",
                    "database.ca_file", "redis.ca_file", "redis.server_name", "redis.info"] { covered[key] = rebuilt }
        for key in ["secrets.emergency_ttl", "secrets.refresh_ahead", "endpoint.cache_size"] { covered[key] = policy }
        covered["secrets.max_backoff"] = "ReconfigureTests: the policy the machines back off by is rebuilt with it"
        covered["secrets.max_entries"] = "ConfigTests: a file with more items is refused, so a reload keeps the running one"
        covered["secrets.rotation_grace"] = "ReconfigureTests: the policy findings are judged by is rebuilt with it"
        return covered
    }()

    static func liveKeys() throws -> Set<String> {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/configuration.md")
        let rows = try String(contentsOf: docs, encoding: .utf8).split(separator: "\n").filter { $0.contains("| reload |") }
        return Set(rows.compactMap { $0.split(separator: "`").dropFirst().first.map(String.init) })
    }

    /// Runs `vigil` under `first`, checks no effect holds, reloads `second`
    /// by SIGHUP and waits for each; returns the keys seen.
    private func exercise(_ vigil: VigilUnderTest, _ effects: [Effect], second: String) throws -> [String] {
        for effect in effects { #expect(!effect.holds(), "\(effect.keys) holds before the reload") }
        try vigil.reload(config: second)
        var seen: [String] = []
        for effect in effects {
            let held = VigilProcess.waitUntil(timeout: 15) { effect.holds() }
            #expect(held, "\(effect.keys) not in effect after SIGHUP\n\(vigil.process.log.suffix(1500))")
            if held { seen += effect.keys }
        }
        #expect(!vigil.process.log.contains("next restart"), "a reload named a setting it applied")
        return seen
    }

    /// `probe` ran at least twice more within `seconds` (`value`: a series from the current scrape).
    private func runsTwice(_ value: @escaping (String) -> Double?, _ probe: String, within seconds: Double) -> Bool {
        let runs = { value(#"vigil_probe_runs_total{probe="\#(probe)"}"#) ?? 0 }
        let before = runs()
        return VigilProcess.waitUntil(timeout: seconds) { runs() >= before + 2 }
    }

    @Test func probesWebAndHealth() throws {
        let closed = try Blackhole.freePort(), hole = try Blackhole()
        let redisTLS = "vigil/live-\(suffix)/redis-tls"
        #expect(env.putSecret(redisTLS, #"{"host":"127.0.0.1","port":\#(env.redisTLSPort),"password":"\#(env.redisPassword)","tls":true}"#))
        let headers = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-live-\(suffix).yml")
        try "http_server_config:\n  headers:\n    X-Frame-Options: DENY\n".write(to: headers, atomically: true, encoding: .utf8)
        let pg = "127.0.0.1:\(env.postgresPort)"
        // The two configurations, line by line: each value is (first, second).
        let config = { (second: Bool) -> String in
            func pick(_ first: String, _ then: String) -> String { second ? then : first }
            return """
                log: {level: \(pick("info", "warn"))}
                web: {telemetry_path: \(pick("/metrics", "/scrape")), telemetry_cache: \(pick("0s", "1s"))\(pick("", ", config_file: \"\(headers.path)\""))}
                health: {unhealthy_status_code: \(pick("503", "500")), latency_threshold: \(pick("10s", "1ms"))}
                database: {sslmode: \(pick("prefer", "allow"))}
                probes:
                  interval: \(pick("30s", "2s"))
                  timeout: \(pick("1s", "2s"))
                  retry_interval: \(pick("30s", "1s"))
                  tick: {kind: tcp, address: "\(pg)", interval: \(pick("30s", "2s")), critical: false}
                  hole: {kind: http, url: "http://127.0.0.1:\(hole.port)/", interval: 60s, retry_interval: 1s, timeout: \(pick("1s", "2s")), critical: false}
                  hole_g: {kind: http, url: "http://127.0.0.1:\(hole.port)/g", interval: 60s, retry_interval: 1s, critical: false}
                  closed: {kind: tcp, address: "127.0.0.1:\(closed)", interval: 60s, critical: \(pick("false", "true"))}
                  closed2: {kind: tcp, address: "127.0.0.1:\(closed)", interval: 60s, retry_interval: \(pick("30s", "1s")), critical: false}
                  shape: {\(pick("kind: tcp, address: \"\(pg)\"", "kind: http, url: \"http://\(pg)/\"")), interval: 2s, critical: false}
                  off: {kind: tcp, address: "\(pg)", interval: 2s, critical: false, enabled: \(pick("true", "false"))}
                  cache2: {kind: redis, secret: \(pick("redis", "redis_tls")), ca_file: "\(env.tlsCA)", interval: 2s, critical: false}
                  vault: {kind: redis, secret: redis_tls, \(pick("", "ca_file: \"\(env.tlsCA)\", "))interval: 2s, retry_interval: 2s, critical: false}
                  addr: {kind: tcp, address: "\(pick("127.0.0.1:\(closed)", pg))", interval: 2s, retry_interval: 2s, critical: false}
                  mail: {kind: smtp, tls: \(pick("\"off\"", "starttls")), ca_file: "\(env.tlsCA)", interval: 2s, retry_interval: 2s}
                \(env.devSecrets([("redis_tls", redisTLS)]))
                """
        }
        let vigil = try VigilUnderTest(config: config(false))
        #expect(VigilProcess.waitUntil(timeout: 20) {
            vigil.health()?.code == 200 && vigil.value(#"vigil_probe_success{probe="mail"}"#) == 0
                && vigil.verboseCheck("database").facts["database"]?["tls"] == "true"
        }, "\(vigil.health().map { "\($0.checks)" } ?? "")\n\(vigil.process.log.suffix(2000))")
        // The page at whichever path serves it: /metrics, and /scrape once reloaded.
        let scrape = { () -> String in
            for path in ["/scrape", "/metrics"] {
                if let reply = try? CurlClient().request(vigil.base + path), reply.status == 200 { return reply.text }
            }
            return ""
        }
        let value = { (series: String) in VigilUnderTest.value(series, in: scrape()) }
        let reloaded = { value("vigil_config_last_reload_success_timestamp_seconds") ?? 0 }
        let started = reloaded(), logged = vigil.process.log.components(separatedBy: "configuration reloaded").count
        let effects = [
            Effect(keys: ["web.telemetry_path"]) { (try? CurlClient().request(vigil.base + "/scrape").status) == 200 },
            Effect(keys: ["web.config_file"]) {
                (try? CurlClient().request(vigil.base + "/health/live").headers["x-frame-options"]) == "DENY"
            },
            // Two scrapes inside one cache period are the same page (without a cache the request counter moves).
            Effect(keys: ["web.telemetry_cache"]) { let once = scrape(); return !once.isEmpty && scrape() == once },
            Effect(keys: ["log.level"]) {
                reloaded() > started && vigil.process.log.components(separatedBy: "configuration reloaded").count == logged
            },
            Effect(keys: ["probes.interval"]) { runsTwice(value, "redis", within: 6) },
            Effect(keys: ["probes.timeout"]) { (value(#"vigil_probe_duration_seconds{probe="hole_g"}"#) ?? 0) > 1.5 },
            Effect(keys: ["probes.retry_interval"]) { runsTwice(value, "closed", within: 4) },
            Effect(keys: ["probes.*.interval"]) { runsTwice(value, "tick", within: 6) },
            Effect(keys: ["probes.*.timeout"]) { (value(#"vigil_probe_duration_seconds{probe="hole"}"#) ?? 0) > 1.5 },
            Effect(keys: ["probes.*.retry_interval"]) { runsTwice(value, "closed2", within: 4) },
            Effect(keys: ["probes.*.kind"]) { scrape().contains(#"vigil_probe_failures_total{probe="shape",reason="unexpected_status"}"#) },
            Effect(keys: ["probes.*.enabled"]) { let page = scrape(); return !page.isEmpty && !page.contains(#"probe="off""#) },
            Effect(keys: ["probes.*.critical"]) { value(#"vigil_health_component_critical{component="closed"}"#) == 1 },
            Effect(keys: ["health.unhealthy_status_code"]) { vigil.health()?.code == 500 },
            Effect(keys: ["probes.*.secret"]) {
                value(#"vigil_probe_target_info{probe="cache2",target="127.0.0.1:\#(env.redisTLSPort)"}"#) == 1
            },
            Effect(keys: ["probes.*.ca_file"]) { value(#"vigil_probe_success{probe="vault"}"#) == 1 },
            Effect(keys: ["probes.*.address"]) { value(#"vigil_probe_success{probe="addr"}"#) == 1 },
            Effect(keys: ["probes.*.tls"]) { value(#"vigil_probe_success{probe="mail"}"#) == 1 },
            Effect(keys: ["health.latency_threshold"]) { value(#"vigil_health_status{component="mail",status="degraded"}"#) == 1 },
            Effect(keys: ["database.sslmode", "probes.*.sslmode"]) { vigil.verboseCheck("database").facts["database"]?["tls"] == "false" },
        ]
        let seen = try exercise(vigil, effects, second: config(true))
        print("live reload, probes, web and health: \(seen.count) settings seen in effect")
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [vigil.process.log])
    }

    @Test func standardSecretsAndTheirPolicy() throws {
        let environment = "live-\(suffix)"
        let moved = "vigil2/\(environment)/database/credentials"
        #expect(env.putSecret(moved, #"{"engine":"postgres","host":"127.0.0.1","port":\#(env.postgresPort),"username":"vigil","password":"\#(env.databasePassword)","dbname":"vigil"}"#))
        #expect(env.putSecret("vigil2/\(environment)/redis/credentials", #"{"host":"127.0.0.1","port":\#(env.redisPort),"password":"\#(env.redisPassword)"}"#))
        let token = "live-token-\(suffix)"
        let endpoint = "endpoint: {enabled: true, listen_address: 127.0.0.1:0}\nprobes: {interval: 1s}\n"
        let vigil = try VigilUnderTest(config: endpoint + """
            health: {show_details: always, min_cache_hit_ratio: 0}
            secrets: {prefix: vigil, environment: dev, ttl: 1h}
            """, environment: ["AWS_TOKEN": token])
        let address = try #require(vigil.process.waitForListenAddress(of: "secrets endpoint listening"))
        func status(_ id: String) -> Int {
            (try? CurlClient().request("http://\(address)/v1/\(id)", headers: ["X-Aws-Parameters-Secrets-Token: \(token)"]).status) ?? 0
        }
        #expect(VigilProcess.waitUntil(timeout: 15) { vigil.health()?.checks["database"]?.status == "healthy" })
        let confirmed = { vigil.value(#"vigil_secrets_last_success_timestamp_seconds{secret="database"}"#) ?? 0 }
        let effects = [
            Effect(keys: ["secrets.prefix", "secrets.environment"]) { status(moved) == 200 && status("vigil/dev/database/credentials") == 403 },
            Effect(keys: ["secrets.ttl"]) {
                let before = confirmed()
                return VigilProcess.waitUntil(timeout: 6) { confirmed() > before }
            },
            Effect(keys: ["health.show_details"]) {
                let body = (try? CurlClient().request(vigil.base + "/health").text) ?? ""
                return body.contains("\"status\"") && !body.contains("uptime_seconds") && !body.contains("\"reason\"")
            },
            // The floor VigilCacheHitRatioLow compares with (the secrets probe is rebuilt with it too).
            Effect(keys: ["health.min_cache_hit_ratio"]) { vigil.value("vigil_health_min_cache_hit_ratio") == 1 },
        ]
        _ = try exercise(vigil, effects, second: endpoint + """
            health: {show_details: never, min_cache_hit_ratio: 1}
            secrets: {prefix: vigil2, environment: \(environment), ttl: 3s, refresh_ahead: 1s}
            """)
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [vigil.process.log])
    }

    @Test func namedItemsAndTheEndpoint() throws {
        let prefix = "vigil/live-items-\(suffix)"
        #expect(env.putSecret("\(prefix)/one", #"{"x":"1"}"#))
        #expect(env.putSecret("\(prefix)/two", #"{"y":"2"}"#))
        #expect(env.putSecret("\(prefix)/app", #"{"merchant":"m-1"}"#))
        #expect(env.putSecret("\(prefix)/pending", #"{"token":"t-1"}"#))
        let pending = try ChildProcess.run(["aws", "secretsmanager", "put-secret-value", "--secret-id", "\(prefix)/pending",
                                            "--secret-string", #"{"token":"t-2"}"#, "--version-stages", "AWSPENDING"],
                                           environment: env.admin, stderr: false)
        #expect(pending.status == 0, "\(pending.output)")
        let parameter = "/live-items-\(suffix)/flag"
        #expect(try ChildProcess.run(["aws", "ssm", "put-parameter", "--name", parameter, "--value", "on", "--type", "String"],
                                     environment: env.admin, stderr: false).status == 0)
        let token = "live-items-\(suffix)"
        let config = { (moved: String, keys: String, variable: String, required: Bool, window: String, allow: String) in """
            probes: {interval: 1s}
            endpoint: {enabled: true, listen_address: 127.0.0.1:0, allow: [\(allow)], allow_parameters: [\(required ? parameter : "/elsewhere/*")]}
            secrets:
              ttl: 2s
              refresh_ahead: 1s
              rotation_window: \(window)
              items:
                database: {id: vigil/dev/database/credentials}
                redis: {id: vigil/dev/redis/credentials}
                moved: {id: \(prefix)/\(moved), keys: [x]}
                app: {id: \(prefix)/app, keys: [\(keys)]}
                fallback: {id: \(prefix)/absent, env: \(variable), required: false}
                needed: {id: \(prefix)/absent-too, required: \(required)}
                pending: {id: \(prefix)/pending}
            """ }
        let vigil = try VigilUnderTest(config: config("one", "", "VIGIL_LIVE_UNSET", false, "1h", "\(prefix)/one, \(prefix)/two, \(prefix)/absent"),
                                       environment: ["AWS_TOKEN": token, "VIGIL_LIVE_SET": #"{"z":"3"}"#])
        let address = try #require(vigil.process.waitForListenAddress(of: "secrets endpoint listening"))
        func status(_ id: String) -> Int {
            (try? CurlClient().request("http://\(address)/v1/\(id)", headers: ["X-Aws-Parameters-Secrets-Token: \(token)"]).status) ?? 0
        }
        let finding = { (secret: String, finding: String) in
            vigil.value(#"vigil_secrets_finding{secret="\#(secret)",finding="\#(finding)"}"#) == 1
        }
        #expect(VigilProcess.waitUntil(timeout: 15) {
            vigil.value(#"vigil_secrets_lifecycle_known{secret="pending"}"#) == 1 && status("\(prefix)/one") == 200
        }, "\(vigil.process.log.suffix(1500))")
        let effects = [
            Effect(keys: ["secrets.items.*.id"]) { finding("moved", "malformed") },
            Effect(keys: ["secrets.items.*.keys"]) { finding("app", "malformed") },
            // The environment serves a secret AWS does not have, once asked (an application's read).
            Effect(keys: ["secrets.items.*.env"]) { status("\(prefix)/absent") == 200 },
            Effect(keys: ["secrets.items.*.required"]) { vigil.value(#"vigil_probe_success{probe="secrets"}"#) == 0 },
            Effect(keys: ["secrets.rotation_window"]) { finding("pending", "rotation_stuck") },
            Effect(keys: ["endpoint.allow"]) { status("\(prefix)/one") == 403 && status("\(prefix)/two") == 200 },
            Effect(keys: ["endpoint.allow_parameters"]) {
                (try? CurlClient().request("http://\(address)/systemsmanager/parameters/get?name=\(parameter)",
                                           headers: ["X-Aws-Parameters-Secrets-Token: \(token)"]).status) == 200
            },
        ]
        _ = try exercise(vigil, effects, second: config("two", "api_key", "VIGIL_LIVE_SET", true, "1s", "\(prefix)/two, \(prefix)/absent"))
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [vigil.process.log])
    }

    /// Every `hooks.*` setting, changed by SIGHUP: the secrets a hook
    /// watches, its command, timeout and debounce, its pid file and signal.
    @Test func hooks() throws {
        let prefix = "vigil/live-hooks-\(suffix)"
        #expect(env.putSecret("\(prefix)/one", #"{"x":"1"}"#) && env.putSecret("\(prefix)/two", #"{"y":"1"}"#))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-live-hooks-\(suffix)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let (ran, slow, target) = (folder.appendingPathComponent("ran").path, folder.appendingPathComponent("slow").path,
                                   folder.appendingPathComponent("target.pid").path)
        // Ignores SIGHUP (the default signal), ends on SIGUSR1.
        let process = try ChildProcess(["sh", "-c", #"trap "" HUP; echo $$ > "$0"; while :; do sleep 0.05; done"#, target])
        defer { kill(process.pid, SIGKILL) }
        let items = "secrets: {ttl: 1s, items: {one: {id: \(prefix)/one}, two: {id: \(prefix)/two}}}\nprobes: {interval: 1s}\n"
        let vigil = try VigilUnderTest(config: items + """
            hooks:
              cmd: {secrets: [one], command: [sh, -c, 'echo run >> "$0"', \(ran)], debounce: 0s}
              sig: {secrets: [one], pid_file: \(target)}
            """)
        #expect(VigilProcess.waitUntil(timeout: 15) { vigil.health()?.checks["secrets"]?.status == "healthy" && FileManager.default.fileExists(atPath: target) })
        let runs = { (hook: String, outcome: String) in vigil.value(#"vigil_hook_runs_total{hook="\#(hook)",outcome="\#(outcome)"}"#) ?? 0 }
        try vigil.reload(config: items + """
            hooks:
              cmd: {secrets: [two], command: [sh, -c, 'echo $$ > "$0"; exec sleep 60', \(slow)], timeout: 1s, debounce: 2s}
              sig: {secrets: [two], pid_file: \(target), signal: USR1}
            """)
        #expect(VigilProcess.waitUntil(timeout: 10) { (vigil.value("vigil_config_last_reload_success_timestamp_seconds") ?? 0) > 0 })
        let changed = Date()
        #expect(env.putSecret("\(prefix)/one", #"{"x":"2"}"#) && env.putSecret("\(prefix)/two", #"{"y":"2"}"#))
        let effects = [
            Effect(keys: ["hooks.*.secrets", "hooks.*.pid_file", "hooks.*.signal"]) { runs("sig", "ok") == 1 && !process.isRunning },
            Effect(keys: ["hooks.*.command"]) { FileManager.default.fileExists(atPath: slow) && !FileManager.default.fileExists(atPath: ran) },
            Effect(keys: ["hooks.*.timeout"]) { runs("cmd", "timeout") == 1 },
            // Without the debounce the run follows the change within the 1 s TTL.
            Effect(keys: ["hooks.*.debounce"]) {
                let created = (try? FileManager.default.attributesOfItem(atPath: slow)[.modificationDate]) as? Date
                return created.map { $0.timeIntervalSince(changed) >= 2 } ?? false
            },
        ]
        for effect in effects {
            #expect(VigilProcess.waitUntil(timeout: 15) { effect.holds() }, "\(effect.keys) not in effect after SIGHUP\n\(vigil.process.log.suffix(1500))")
        }
        #expect(runs("cmd", "ok") + runs("cmd", "failed") + runs("sig", "error") == 0, "the first configuration's hooks never ran")
        #expect(vigil.process.stop() == 0)
    }

    /// The four tests above and `elsewhere` account for every setting the
    /// schema declares live; a new one fails here until it is seen somewhere.
    @Test func everyLiveSettingIsSeenInEffectOrCoveredElsewhere() throws {
        let observed: Set<String> = [
            "web.telemetry_path", "web.config_file", "web.telemetry_cache", "log.level", "probes.interval", "probes.timeout",
            "probes.retry_interval", "probes.*.interval", "probes.*.timeout", "probes.*.retry_interval", "probes.*.kind",
            "probes.*.enabled", "probes.*.critical", "health.unhealthy_status_code", "probes.*.secret", "probes.*.ca_file",
            "probes.*.address", "probes.*.tls", "health.latency_threshold", "database.sslmode", "probes.*.sslmode",
            "secrets.prefix", "secrets.environment", "secrets.ttl", "health.show_details", "health.min_cache_hit_ratio",
            "secrets.items.*.id", "secrets.items.*.keys", "secrets.items.*.env", "secrets.items.*.required",
            "secrets.rotation_window", "endpoint.allow", "endpoint.allow_parameters", "hooks.*.secrets", "hooks.*.pid_file", "hooks.*.signal", "hooks.*.command",
            "hooks.*.timeout", "hooks.*.debounce",
        ]
        let live = try Self.liveKeys()
        #expect(live.count > 40, "docs/configuration.md lists \(live.count) live settings")
        let unaccounted = live.subtracting(observed).subtracting(Self.elsewhere.keys)
        #expect(unaccounted.isEmpty, "live settings neither seen in effect nor covered elsewhere: \(unaccounted.sorted())")
        let stale = observed.union(Self.elsewhere.keys).subtracting(live)
        #expect(stale.isEmpty, "not live settings (any more): \(stale.sorted())")
    }
}
