import Foundation
import Testing
@testable import VigilState
import VigilResults

@Suite struct HealthAggregationTests {
    let now = Date()

    private func component(_ name: String, critical: Bool, _ reason: ProbeReason?, age: Double = 0) -> ComponentHealth {
        ComponentHealth(name: name, critical: critical, interval: .seconds(10),
                        latest: reason.map { ProbeResult(probe: name, reason: $0, latency: .milliseconds(1),
                                                         finishedAt: now.addingTimeInterval(-age)) })
    }

    private func status(_ components: [ComponentHealth]) -> HealthStatus {
        HealthSnapshot(components: components, now: now, startedAt: now, version: "t").status
    }

    @Test func allUpIsHealthy() {
        #expect(status([component("db", critical: true, .ok), component("redis", critical: false, .ok)]) == .healthy)
    }

    @Test func nonCriticalDownIsDegraded() {
        #expect(status([component("db", critical: true, .ok), component("redis", critical: false, .refused)]) == .degraded)
    }

    /// A failing component is unhealthy whatever its criticality (it was
    /// `degraded` when not critical, so its unhealthy alert never fired);
    /// criticality decides only what it does to the overall status.
    @Test func aFailingNonCriticalComponentIsUnhealthyItselfAndOverallDegraded() {
        let replica = component("replica", critical: false, .refused)
        #expect(replica.status(at: now) == .unhealthy)
        #expect(replica.contribution(at: now) == .degraded)
        #expect(status([component("db", critical: true, .ok), replica]) == .degraded)
        let json = HealthSnapshot(components: [replica], now: now, startedAt: now, version: "t").json()
        #expect(json.contains(#""replica":{"status":"unhealthy","critical":false"#), "\(json)")
    }

    @Test func criticalDownIsUnhealthyWhateverElse() {
        #expect(status([component("db", critical: true, .auth), component("redis", critical: false, .refused)]) == .unhealthy)
    }

    @Test func neverProbedCountsAsDown() {
        #expect(status([component("db", critical: true, nil)]) == .unhealthy)
        #expect(component("db", critical: true, nil).serviceState(at: now) == "unknown")
    }

    @Test func resultOlderThanThreeIntervalsIsStale() {
        #expect(component("db", critical: true, .ok, age: 29).isUp(at: now))
        let stale = component("db", critical: true, .ok, age: 31)
        #expect(!stale.isUp(at: now))
        #expect(stale.serviceState(at: now) == "stale")
        #expect(status([stale]) == .unhealthy)
    }

    /// `services.secrets` once said `unhealthy` while `checks.secrets.status`
    /// said `degraded` in the same body: a status-word component now shows
    /// its status, whatever happened.
    @Test func aStatusWordComponentSaysWhatItsCheckSays() {
        for reason in ProbeReason.allCases {
            for critical in [true, false] {
                for degraded in [true, false] {
                    var secrets = component("secrets", critical: critical, reason)
                    secrets.reportsConnection = false
                    secrets.latest?.degraded = degraded
                    let snapshot = HealthSnapshot(components: [secrets], now: now, startedAt: now, version: "t")
                    let json = try? JSONSerialization.jsonObject(with: Data(snapshot.json().utf8)) as? [String: Any]
                    let service = (json?["services"] as? [String: String])?["secrets"]
                    let check = ((json?["checks"] as? [String: Any])?["secrets"] as? [String: Any])?["status"] as? String
                    #expect(service == check, "\(reason) critical \(critical) degraded \(degraded): \(service ?? "-") vs \(check ?? "-")")
                }
            }
        }
    }

    @Test func aDegradedRunWithAReasonIsDegradedNotDown() {
        var secrets = component("secrets", critical: true, .timeout)
        secrets.latest?.degraded = true
        #expect(secrets.isUp(at: now))
        #expect(status([secrets]) == .degraded)
    }

    @Test func serviceWordsForLoadBalancers() {
        #expect(component("db", critical: true, .ok).serviceState(at: now) == "connected")
        #expect(component("db", critical: true, .auth).serviceState(at: now) == "auth_failed")
        #expect(component("db", critical: true, .timeout).serviceState(at: now) == "timeout")
        #expect(component("db", critical: true, .refused).serviceState(at: now) == "disconnected")
    }

    @Test func exitCodesFollowSeverity() {
        #expect(HealthStatus.healthy.exitCode == 0)
        #expect(HealthStatus.degraded.exitCode == 1)
        #expect(HealthStatus.unhealthy.exitCode == 2)
    }
}

@Suite struct HealthJSONTests {
    @Test func shapeAndEscaping() throws {
        let now = Date()
        let result = ProbeResult(probe: "database", reason: .protocol, latency: .microseconds(1500), finishedAt: now,
                                 detail: "bad \"quote\"\nnew line \u{1}")
        let snapshot = HealthSnapshot(components: [ComponentHealth(name: "database", critical: true, interval: .seconds(5),
                                                                   latest: result)],
                                      now: now, startedAt: now.addingTimeInterval(-12), version: "1.2.3")
        let text = snapshot.json()
        #expect(text.hasPrefix(#"{"status":"unhealthy","services":{"database":"disconnected"},"checks":"#))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let check = try #require((json["checks"] as? [String: [String: Any]])?["database"])
        #expect(check["detail"] as? String == "bad \"quote\"\nnew line \u{1}")
        #expect(check["latency_ms"] as? Double == 1.5)
        #expect(check["status"] as? String == "unhealthy")
        #expect(check["critical"] as? Bool == true)
        #expect((check["last_checked"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) } != nil)
        #expect(json["uptime_seconds"] as? Double == 12)
    }
}

@Suite struct TelemetryTests {
    @Test func probeResultsAndHealthBecomeSeries() {
        let telemetry = Telemetry(version: "v", revision: "r")
        let store = HealthStore(components: [ComponentHealth(name: "redis", critical: true, interval: .seconds(5))],
                                version: "v", telemetry: telemetry)
        store.record(ProbeResult(probe: "redis", reason: .refused, latency: .milliseconds(2)))
        store.record(ProbeResult(probe: "redis", reason: .ok, latency: .milliseconds(4)))
        let text = String(decoding: telemetry.exposition(), as: UTF8.self)
        #expect(text.contains(#"vigil_probe_runs_total{probe="redis"} 2"#))
        #expect(text.contains(#"vigil_probe_failures_total{probe="redis",reason="refused"} 1"#))
        #expect(text.contains(#"vigil_probe_success{probe="redis"} 1"#))
        #expect(text.contains(#"vigil_probe_duration_seconds{probe="redis"} 0.004"#))
        #expect(text.contains(#"vigil_probe_latency_seconds_count{probe="redis"} 2"#))
        #expect(text.contains(#"vigil_health_status{component="overall",status="healthy"} 1"#))
        #expect(text.contains(#"vigil_health_status{component="overall",status="unhealthy"} 0"#))
        #expect(text.contains(#"vigil_health_status{component="redis",status="healthy"} 1"#))
        #expect(text.contains(#"vigil_health_component_critical{component="redis"} 1"#))
    }

    /// Two Redis targets once overwrote each other's `vigil_redis_*` every
    /// run: measurements carry the probe label like every other series.
    @Test func measurementsOfTwoTargetsAreTwoSeries() {
        let telemetry = Telemetry(version: "v", revision: "r")
        let store = HealthStore(components: ["cache", "queue"].map { ComponentHealth(name: $0, critical: true, interval: .seconds(5)) },
                                version: "v", telemetry: telemetry)
        for (probe, clients) in [("cache", 3.0), ("queue", 7.0)] {
            var result = ProbeResult(probe: probe, reason: .ok, latency: .milliseconds(1))
            result.measurements = [ProbeMeasurement(metric: "vigil_redis_connected_clients", help: "Clients.", labels: [:], value: clients)]
            store.record(result)
        }
        let text = String(decoding: telemetry.exposition(), as: UTF8.self)
        #expect(text.contains(#"vigil_redis_connected_clients{probe="cache"} 3"#), "\(text)")
        #expect(text.contains(#"vigil_redis_connected_clients{probe="queue"} 7"#))
    }

    /// A reload that removes a target removes its series: an alert on a
    /// target that no longer exists would fire for good.
    @Test func aRemovedComponentLosesItsSeries() {
        let telemetry = Telemetry(version: "v", revision: "r")
        let store = HealthStore(components: ["cache", "queue"].map { ComponentHealth(name: $0, critical: true, interval: .seconds(5)) },
                                version: "v", telemetry: telemetry)
        store.record(ProbeResult(probe: "queue", reason: .refused, latency: .milliseconds(1)))
        store.record(ProbeResult(probe: "cache", reason: .ok, latency: .milliseconds(1)))
        store.reconfigure([ComponentHealth(name: "cache", critical: false, interval: .seconds(5))])
        let text = String(decoding: telemetry.exposition(), as: UTF8.self)
        #expect(!text.contains(#"queue""#), "\(text)")
        #expect(text.contains(#"vigil_health_component_critical{component="cache"} 0"#))
        #expect(text.contains(#"vigil_probe_runs_total{probe="cache"} 1"#))
        #expect(store.snapshot().components.map(\.name) == ["cache"] && store.snapshot().components[0].latest?.reason == .ok)
    }

    /// One unlabelled series of `telemetry`'s exposition; -1 when absent.
    private func value(_ name: String, _ telemetry: Telemetry) -> Double {
        String(decoding: telemetry.exposition(), as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) } ?? -1
    }

    @Test func cpuCounterOnlyGrows() {
        let telemetry = Telemetry(version: "v", revision: "r")
        func cpu() -> Double { value("process_cpu_seconds_total", telemetry) }
        let first = cpu()
        var spin = 0.0
        for i in 0..<3_000_000 { spin += Double(i).squareRoot() }
        #expect(spin > 0)
        #expect(first >= 0)
        #expect(cpu() >= first)
    }

    /// The cheap sources (statm, the size of /proc/self/fd, getrusage) agree with what they replace.
    @Test func processFiguresFollowTheProcess() {
        let telemetry = Telemetry(version: "v", revision: "r")
        func value(_ name: String) -> Double { self.value(name, telemetry) }
        let before = value("process_open_fds")
        let extra = (0..<300).map { _ in open("/dev/null", O_RDONLY) }
        defer { for fd in extra { close(fd) } }
        #expect(abs(value("process_open_fds") - before - 300) < 40)  // other tests open and close sockets meanwhile
        let resident = value("process_resident_memory_bytes")
        #expect(resident > 1_000_000)
        #expect(value("process_virtual_memory_bytes") > resident)
        let start = value("process_start_time_seconds")
        #expect(start > Date().timeIntervalSince1970 - 86_400 && start <= Date().timeIntervalSince1970)
    }
}

@Suite struct ThresholdAndFormatTests {
    let now = Date()

    @Test func slowProbesAreDegradedAndSelfReportedTroubleToo() {
        var component = ComponentHealth(name: "database", critical: true, interval: .seconds(10),
                                        latest: ProbeResult(probe: "database", reason: .ok, latency: .milliseconds(1500),
                                                            finishedAt: now),
                                        latencyThreshold: .seconds(1))
        #expect(component.status(at: now) == .degraded)
        component.latencyThreshold = .seconds(2)
        #expect(component.status(at: now) == .healthy)
        component.latest?.degraded = true
        #expect(component.status(at: now) == .degraded)
        let snapshot = HealthSnapshot(components: [component], now: now, startedAt: now, version: "v")
        #expect(snapshot.status == .degraded)
    }

    @Test func ietfHealthJSON() throws {
        let secrets = ComponentHealth(name: "secrets", critical: false, interval: .seconds(10),
                                      latest: ProbeResult(probe: "secrets", reason: .ok, latency: .milliseconds(1),
                                                          finishedAt: now, detail: "redis stale", degraded: true),
                                      reportsConnection: false)
        let database = ComponentHealth(name: "database", critical: true, interval: .seconds(10),
                                       latest: ProbeResult(probe: "database", reason: .refused, latency: .milliseconds(2),
                                                           finishedAt: now, detail: "connection refused"))
        let snapshot = HealthSnapshot(components: [database, secrets], now: now, startedAt: now, version: "1.0")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(snapshot.healthJSON().utf8)) as? [String: Any])
        #expect(json["status"] as? String == "fail")
        let checks = try #require(json["checks"] as? [String: [[String: Any]]])
        #expect(Set(checks.keys) == ["database:responseTime", "secrets:freshness"])
        #expect(checks["database:responseTime"]?.first?["status"] as? String == "fail")
        #expect(checks["database:responseTime"]?.first?["output"] as? String == "connection refused")
        #expect(checks["secrets:freshness"]?.first?["status"] as? String == "warn")
        #expect(checks["secrets:freshness"]?.first?["output"] as? String == "redis stale")
        #expect(snapshot.json().contains(#""secrets":"degraded""#))
        #expect(snapshot.json(.verbose).hasPrefix(#"{"status":"unhealthy""#))
    }
}
