import Foundation
import Testing
import VigilHTTP
import VigilResults
import VigilState
import VigilTestSupport
import VigilWeb

/// The HTTP server in-process on an ephemeral port, spoken to by libcurl.
@Suite struct ServerTests {
    let store = HealthStore(components: [ComponentHealth(name: "database", critical: true, interval: .seconds(15)),
                                         ComponentHealth(name: "redis", critical: false, interval: .seconds(15))],
                            version: "test")
    let telemetry = Telemetry(version: "test", revision: "abc")
    let server: HTTPServer
    let base: String
    let client = CurlClient()

    init() throws {
        let routes = VigilRoutes(store: store, telemetry: telemetry, options: VigilRoutes.Options())
        var options = HTTPServer.Options()
        options.threads = 2
        server = try HTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0), options: options,
                                handler: routes.respond(to:))
        base = "http://127.0.0.1:\(server.boundAddress.port)"
    }

    private func recordAll(_ reason: ProbeReason, _ probes: [String] = ["database", "redis"]) {
        for probe in probes { store.record(ProbeResult(probe: probe, reason: reason, latency: .milliseconds(3))) }
    }

    @Test func boundToAnEphemeralPort() {
        #expect(server.boundAddress.port != 0)
    }

    @Test func metricsIsPrometheusTextWithBuildInfoAndProcessMetrics() throws {
        let response = try client.request(base + "/metrics")
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(response.headers["cache-control"] == "no-store")
        #expect(response.text.contains(#"vigil_build_info{version="test",revision="abc"} 1"#))
        for name in ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                     "process_open_fds", "process_max_fds", "process_start_time_seconds"] {
            #expect(response.text.contains("\n\(name) "), "missing \(name)")
        }
        let rss = response.text.split(separator: "\n").first { $0.hasPrefix("process_resident_memory_bytes ") }
        #expect((rss?.split(separator: " ").last.flatMap { Double($0) } ?? 0) > 1_000_000)
    }

    @Test func metricsIsGzippedOnlyWhenAsked() throws {
        let plain = try client.request(base + "/metrics")
        #expect(plain.headers["content-encoding"] == nil)
        let zipped = try client.request(base + "/metrics", headers: ["Accept-Encoding: gzip"])
        #expect(zipped.headers["content-encoding"] == "gzip")
        #expect(zipped.body.starts(with: [0x1f, 0x8b]))
        #expect(zipped.body.count < plain.body.count)
        let refused = try client.request(base + "/metrics", headers: ["Accept-Encoding: gzip;q=0, identity"])
        #expect(refused.headers["content-encoding"] == nil)
    }

    @Test func requestsAreCountedByHandlerAndCode() throws {
        _ = try client.request(base + "/nope")
        _ = try client.request(base + "/health/live")
        _ = try client.request(base + "/health/live")
        let exposition = String(decoding: telemetry.exposition(), as: UTF8.self)
        #expect(exposition.contains(#"vigil_http_requests_total{handler="other",code="404"} 1"#))
        #expect(exposition.contains(#"vigil_http_requests_total{handler="live",code="200"} 2"#))
    }

    @Test func healthIs503UntilProbedThen200WhenHealthy() throws {
        let before = try client.request(base + "/health")
        #expect(before.status == 503)
        #expect(before.headers["content-type"] == "application/json")
        recordAll(.ok)
        let after = try client.request(base + "/health")
        #expect(after.status == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(after.body)) as? [String: Any])
        #expect(json["status"] as? String == "healthy")
        #expect(json["services"] as? [String: String] == ["database": "connected", "redis": "connected"])
        let checks = try #require(json["checks"] as? [String: [String: Any]])
        #expect(checks["database"]?["reason"] as? String == "ok")
        #expect(checks["database"]?["latency_ms"] as? Double == 3)
        #expect(json["version"] as? String == "test")
    }

    @Test func nonCriticalFailureDegradesButStays200() throws {
        recordAll(.ok, ["database"])
        recordAll(.refused, ["redis"])
        let response = try client.request(base + "/health")
        #expect(response.status == 200)
        #expect(response.text.contains(#""status":"degraded""#))
        #expect(response.text.contains(#""redis":"disconnected""#))
    }

    @Test func criticalFailureIs503() throws {
        recordAll(.ok, ["redis"])
        recordAll(.timeout, ["database"])
        let response = try client.request(base + "/health")
        #expect(response.status == 503)
        #expect(response.text.contains(#""database":"timeout""#))
    }

    @Test func readinessWaitsForTheFirstRound() throws {
        recordAll(.ok)
        #expect(try client.request(base + "/health/ready").status == 503)
        store.firstRoundCompleted()
        #expect(try client.request(base + "/health/ready").status == 200)
        recordAll(.auth, ["database"])
        #expect(try client.request(base + "/health/ready").status == 503)
        #expect(try client.request(base + "/health/live").status == 200)
    }

    @Test func landingPageLinksTheEndpoints() throws {
        let response = try client.request(base + "/")
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/html; charset=utf-8")
        for fragment in ["href=\"/metrics\"", "href=\"/health\"", "href=\"/health/ready\"", "Version dev"] {
            #expect(response.text.contains(fragment))
        }
    }

    @Test func unknownPathIs404AndOtherMethodsAre405WithAllow() throws {
        #expect(try client.request(base + "/nope").status == 404)
        for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
            let response = try client.request(base + "/health", method: method)
            #expect(response.status == 405, "\(method)")
            #expect(response.headers["allow"] == "GET, HEAD")
            #expect(response.headers["cache-control"] == "no-store")
        }
    }

    @Test func headHasHeadersAndNoBody() throws {
        let response = try client.request(base + "/metrics", method: "HEAD")
        #expect(response.status == 200)
        #expect(response.body.isEmpty)
        #expect(Int(response.headers["content-length"] ?? "0") ?? 0 > 100)
    }

    @Test func keepAliveReusesTheConnection() throws {
        let first = try client.request(base + "/health/live")
        let second = try client.request(base + "/metrics")
        let third = try client.request(base + "/health")
        #expect(first.newConnections == 1)
        #expect(second.newConnections == 0)
        #expect(third.newConnections == 0)
        #expect(first.headers["connection"]?.lowercased() != "close")
    }

    @Test func oversizedRequestsAreRejectedNotCrashing() throws {
        let longURL = try client.request(base + "/" + String(repeating: "a", count: 60_000))
        #expect([400, 414, 431].contains(longURL.status))
        let bigHeader = try client.request(base + "/health", headers: ["X-Big: " + String(repeating: "b", count: 60_000)])
        #expect([400, 413, 431].contains(bigHeader.status))
        #expect(try CurlClient().request(base + "/health/live").status == 200)
    }

    @Test func stopFinishesAndRefusesNewConnections() throws {
        _ = try client.request(base + "/health/live")
        server.stop(grace: 1)
        #expect(server.inFlightRequests == 0)
        #expect(throws: CurlClient.Failure.self) { try CurlClient().request(base + "/health/live", timeoutSeconds: 2) }
    }
}
