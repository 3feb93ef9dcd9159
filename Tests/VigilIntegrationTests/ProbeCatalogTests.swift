import Foundation
import Testing
import VigilTestSupport

/// Named probe targets of every kind against real peers: two PostgreSQL
/// databases, two Redis targets, an HTTP API that wants a bearer token from
/// Secrets Manager, a TCP port; the real binary probing every second.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct ProbeCatalogTests {
    let env = ServicesEnvironment()
    let suffix = String(UUID().uuidString.prefix(6)).lowercased()
    var prefix: String { "vigil/catalog-\(suffix)" }

    private func database(port: Int, name: String = "vigil") -> String {
        #"{"username":"vigil","password":"\#(env.databasePassword)","host":"127.0.0.1","port":\#(port),"dbname":"\#(name)"}"#
    }

    private func redis(db: Int) -> String {
        #"{"host":"127.0.0.1","port":\#(env.redisPort),"password":"\#(env.redisPassword)","db":\#(db)}"#
    }

    private func tokenServer() throws -> (server: PythonServer, rotate: (String) throws -> Void) {
        let server = try PythonServer(script: "Tests/Fixtures/token_server.py", arguments: [], keys: ["port", "control"])
        let control = "http://127.0.0.1:\(server.controlPort ?? 0)"
        return (server, { token in _ = try CurlClient().request(control + "/token", method: "POST", body: Array(token.utf8)) })
    }

    /// The default configuration's `/health` keeps the shape from before named
    /// targets, key for key and in order (load balancers and scripts parse it).
    @Test func defaultHealthKeepsItsShape() throws {
        let vigil = try VigilUnderTest(config: "probes:\n  interval: 1s\nsecrets:\n  environment: dev\n")
        #expect(vigil.seconds(until: { $0.status == "healthy" }, timeout: 10) != nil)
        let body = try CurlClient().request(vigil.base + "/health").text
        let check = #"\{"status":"healthy","critical":(true|false),"reason":"ok","latency_ms":[0-9.]+,"last_checked":"[0-9T:Z-]+"\}"#
        let shape = #"^\{"status":"healthy","services":\{"database":"connected","redis":"connected","secrets":"healthy"\},"#
            + #""checks":\{"database":\#(check),"redis":\#(check),"secrets":\#(check)\},"version":"[^"]+","uptime_seconds":[0-9.]+\}$"#
        #expect(body.range(of: shape, options: .regularExpression) != nil, "\(body)")
    }

    @Test func replicaDownDegradesAndPrimaryDownIsUnhealthy() throws {
        // The replica: a second database with its own secret, behind a front of its own that stops it
        // (refuses and closes every connection, as a stopped server does).
        _ = runCommand(["psql", "-h", "127.0.0.1", "-p", String(env.postgresPort), "-U", "postgres", "-qAt", "-c",
                        "CREATE DATABASE vigil_replica OWNER vigil"])  // fails harmlessly when it exists
        let replica = try TCPFault(upstreamPort: env.postgresPort)
        let primary = try TCPFault(upstreamPort: env.postgresPort)
        let (api, rotate) = try tokenServer()
        let token = "canary-token-\(suffix)"
        try rotate(token)
        #expect(env.putSecret("\(prefix)/database", database(port: primary.port)))
        #expect(env.putSecret("\(prefix)/replica", database(port: replica.port, name: "vigil_replica")))
        #expect(env.putSecret("\(prefix)/redis", redis(db: 0)))
        #expect(env.putSecret("\(prefix)/queue", redis(db: 1)))
        #expect(env.putSecret("\(prefix)/api", #"{"token":"\#(token)"}"#))
        let vigil = try VigilUnderTest(config: """
            probes:
              interval: 1s
              timeout: 1s
              replica: {kind: postgres, critical: false}
              queue: {kind: redis}
              api:
                kind: http
                url: http://127.0.0.1:\(api.port)/v1/ping
                headers: {Authorization: "Bearer ${secret:api.token}"}
              smtp: {kind: tcp, address: "127.0.0.1:\(env.redisPort)", critical: false}
            secrets:
              items:
                database: {id: \(prefix)/database}
                replica: {id: \(prefix)/replica}
                redis: {id: \(prefix)/redis}
                queue: {id: \(prefix)/queue}
                api: {id: \(prefix)/api, keys: [token]}
            """)
        let everyone = ["database", "redis", "secrets", "api", "queue", "replica", "smtp"]
        let healthy = vigil.seconds(until: { $0.status == "healthy" }, timeout: 10)
        let first = try #require(vigil.health())
        #expect(healthy != nil, "\(first.services)")
        #expect(Set(first.services.keys) == Set(everyone) && Set(first.checks.keys) == Set(everyone))
        #expect(first.services["replica"] == "connected" && first.services["api"] == "connected")
        // What each target probes, for the fleet rules: host:port (from the secret for postgres and
        // redis), an http target's origin without its path; nothing else (no user, no password).
        let metrics = vigil.metrics
        for (probe, target) in [("database", "127.0.0.1:\(primary.port)"), ("replica", "127.0.0.1:\(replica.port)"),
                                ("redis", "127.0.0.1:\(env.redisPort)"), ("api", "http://127.0.0.1:\(api.port)"),
                                ("smtp", "127.0.0.1:\(env.redisPort)")] {
            #expect(metrics.contains(#"vigil_probe_target_info{probe="\#(probe)",target="\#(target)"} 1"#), "\(probe)")
        }
        #expect(metrics.split(separator: "\n").filter { $0.hasPrefix("vigil_probe_target_info{") }.count == 6, "one per target but secrets")

        try replica.mode("refuse")
        try replica.killConnections()
        let detected = vigil.seconds(until: { $0.services["replica"] == "disconnected" }, timeout: 5)
        #expect(detected != nil, "\(vigil.health().map { "\($0.code) \($0.status) \($0.services) \($0.checks)" } ?? "")")
        let degraded = try #require(vigil.health())
        #expect(degraded.code == 200 && degraded.status == "degraded", "\(degraded.status) \(degraded.code)")
        #expect(degraded.checks["replica"]?.status == "unhealthy" && degraded.checks["replica"]?.reason == "refused")
        try replica.mode("pass")
        let recovered = vigil.seconds(until: { $0.status == "healthy" }, timeout: 5)
        #expect(recovered != nil)
        FaultMatrix.record(.init(fault: "Named target: a non-critical PostgreSQL replica stopped", expected: "degraded (200), replica unhealthy, `refused`",
                                 detected: detected, recovered: recovered, kept: "the primary, both Redis targets, http, tcp"))

        try primary.mode("refuse")
        try primary.killConnections()  // refusing keeps open connections going: a stopped server closes them
        #expect(vigil.seconds(until: { $0.code == 503 }, timeout: 5) != nil)
        #expect(vigil.health()?.checks["database"]?.reason == "refused")
        try primary.mode("pass")
        #expect(vigil.seconds(until: { $0.status == "healthy" }, timeout: 5) != nil)
        #expect(vigil.metrics.contains(#"vigil_probe_success{probe="replica"} 1"#))
        env.assertNoCanary(in: [vigil.metrics, vigil.process.log, vigil.health().map { "\($0.services) \($0.checks)" } ?? ""],
                           extra: [token])
    }

    /// Probes every second, without the default database and Redis targets: the targets follow, indented.
    static let onlyTheseTargets = "probes:\n  interval: 1s\n  timeout: 1s\n  database: {enabled: false}\n  redis: {enabled: false}\n"

    /// The token rotated in Secrets Manager and at the API: the next run is
    /// refused once, refreshes the secret by force and succeeds.
    @Test func httpProbeFollowsARotatedToken() throws {
        let (api, rotate) = try tokenServer()
        let tokens = ["canary-old-\(suffix)", "canary-new-\(suffix)"]
        try rotate(tokens[0])
        #expect(env.putSecret("\(prefix)/api", #"{"token":"\#(tokens[0])"}"#))
        let vigil = try VigilUnderTest(config: Self.onlyTheseTargets + """
              api:
                kind: http
                url: http://127.0.0.1:\(api.port)/v1/ping
                method: HEAD
                headers: {Authorization: "Bearer ${secret:token}", X-Client: vigil}
            secrets:
              items:
                api: {id: \(prefix)/api}
            """)
        #expect(vigil.seconds(until: { $0.checks["api"]?.status == "healthy" }, timeout: 10) != nil)
        let refreshed = #"vigil_probe_auth_refresh_total{probe="api"}"#
        #expect(vigil.value(refreshed) == 0)
        #expect(env.putSecret("\(prefix)/api", #"{"token":"\#(tokens[1])"}"#))
        try rotate(tokens[1])
        let rotated = Date()
        #expect(VigilProcess.waitUntil(timeout: 5) { vigil.value(refreshed) == 1 })
        let followed = Date().timeIntervalSince(rotated)
        #expect(vigil.health()?.checks["api"]?.status == "healthy")
        FaultMatrix.record(.init(fault: "Named target: an HTTP API's token rotated (401 with the cached one)",
                                 expected: "stays healthy: secret refreshed, request retried", detected: nil, recovered: followed,
                                 kept: "one 401 at the API, `vigil_probe_auth_refresh_total` 1"))
        #expect((vigil.value(#"vigil_probe_failures_total{probe="api",reason="auth"}"#) ?? .infinity) <= 1)  // the series exists from the start
        let stats = try CurlClient().request("http://127.0.0.1:\(api.controlPort ?? 0)/stats").text
        #expect(stats.contains(#""unauthorized": 1"#), "\(stats)")  // one refused request, then the new token
        env.assertNoCanary(in: [vigil.metrics, vigil.process.log, (try? CurlClient().request(vigil.base + "/health?verbose").text) ?? ""],
                           extra: tokens)
    }

    @Test func httpProbeReasons() throws {
        let (api, _) = try tokenServer()  // no token set: every request is 401
        let closed = try Blackhole.freePort()
        let vigil = try VigilUnderTest(config: Self.onlyTheseTargets + """
              refused: {kind: http, url: "http://127.0.0.1:\(closed)/"}
              denied: {kind: http, url: "http://127.0.0.1:\(api.port)/"}
              teapot: {kind: http, url: "http://127.0.0.1:\(api.port)/status/418", expect_status: "200,204"}
              welcome: {kind: http, url: "http://127.0.0.1:\(api.port)/", expect_status: "401"}
              large: {kind: http, url: "http://127.0.0.1:\(api.port)/big"}
              tls: {kind: http, url: "https://127.0.0.1:\(api.port)/"}
              port: {kind: tcp, address: "127.0.0.1:\(closed)"}
            """)
        let expected = ["refused": "refused", "denied": "auth", "teapot": "unexpected_status", "welcome": "ok", "large": "ok", "tls": "tls",
                        "port": "refused"]
        let seen = vigil.seconds(until: { health in expected.allSatisfy { health.checks[$0.key]?.reason == $0.value } }, timeout: 10)
        #expect(seen != nil, "\(vigil.health()?.checks.mapValues(\.reason) ?? [:])")
        #expect(vigil.health()?.code == 503)  // http and tcp targets are critical by default
        // `denied` sends no secret: nothing to refresh, so no second request either.
        #expect(vigil.value(#"vigil_probe_auth_refresh_total{probe="denied"}"#) == 0)
    }
}
