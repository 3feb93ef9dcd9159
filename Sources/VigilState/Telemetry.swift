import Prometheus
import Synchronization
import VigilPlatform
import VigilResults

/// Something that refreshes gauges right before a scrape renders them
/// (node_exporter's collector idea, on top of swift-prometheus).
public protocol MetricsCollector: Sendable {
    func collect()
}

/// Vigil's metrics: one swift-prometheus registry, the series every part of
/// Vigil reports, and the collectors run before each rendering.
public final class Telemetry: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// The TLS certificates probes met and listeners serve.
    public let certificates: CertificateGauges
    private let collectors: [any MetricsCollector]
    private let probeLatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// The last page's size: the next one is reserved at once rather than
    /// grown by doubling from 8 KB (four copies of a 25 KB page).
    private let lastSize = Atomic<Int>(8192)

    public init(version: String, revision: String, collectors: [any MetricsCollector]? = nil) {
        self.collectors = collectors ?? [ProcessCollector(registry: registry)]
        certificates = CertificateGauges(registry: registry)
        registry.gauge("vigil_build_info", "Build of the running Vigil; the value is always 1.", [("version", version), ("revision", revision)]).set(to: 1)
    }

    /// The exposition page (text format 0.0.4), collectors refreshed first.
    public func exposition() -> [UInt8] {
        for collector in collectors { collector.collect() }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(lastSize.load(ordering: .relaxed) + 1024)
        registry.emit(into: &buffer)
        lastSize.store(buffer.count, ordering: .relaxed)
        return buffer
    }

    public func countRequest(handler: String, code: Int) {
        let key = RequestKey(handler: handler, code: code)
        if let counter = requestCounters.withLock({ $0[key] }) { return counter.increment() }
        let counter = registry.counter("vigil_http_requests_total", "HTTP requests served, by handler and status code.", [("handler", handler), ("code", String(code))])
        requestCounters.withLock { $0[key] = counter }
        counter.increment()
    }

    /// The request counters by handler and code: every request counts, and
    /// a registry lookup (label arrays, two locks) cost more than the rest
    /// of answering a cached /health.
    private struct RequestKey: Hashable {
        var handler: String
        var code: Int
    }
    private let requestCounters = Locked<[RequestKey: Counter]>([:])

    func record(_ result: ProbeResult) {
        let probe = [("probe", result.probe)]
        let seconds = result.latency.timeInterval
        gauge(of: result.probe, "vigil_probe_success", "1 if the probe's last run found the component available (healthy or degraded), else 0.", probe).set(to: result.isAvailable ? 1 : 0)
        gauge(of: result.probe, "vigil_probe_duration_seconds", "Duration of the probe's last run.", probe).set(seconds)
        let histogram = registry.histogram("vigil_probe_latency_seconds", "Distribution of probe run durations.", probe, buckets: probeLatencyBuckets)
        remember(result.probe, "vigil_probe_latency_seconds", probe, .histogram(histogram))
        histogram.record(seconds)
        runs(probe).increment()
        gauge(of: result.probe, "vigil_probe_last_run_timestamp_seconds", "Unix time the probe last finished.", probe).set(result.finishedAt.shown.timeIntervalSince1970)
        for phase in result.phases {
            gauge(of: result.probe, "vigil_probe_phase_duration_seconds", "Duration of each phase of the probe's last run (connect, query, ping).", probe + [("phase", phase.name)]).set(phase.duration.timeInterval)
        }
        for measurement in result.measurements {
            gauge(of: result.probe, measurement.metric, measurement.help, probe + measurement.labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
                .set(measurement.value)
        }
        if let target = result.target { recordTarget(target, of: result.probe) }
        // A run that succeeded without TLS (https turned http, `prefer` fell back) drops the old series;
        // a failed one keeps them (the server's certificate did not change because it is down).
        if result.certificate != nil || result.succeeded { certificates.record(result.certificate, of: .probe(result.probe)) }
        if result.refreshedCredentials {
            authRefreshes(probe).increment()
        }
        if !result.isAvailable {
            failures(probe, result.reason).increment()
        }
    }

    /// Creates every per-probe counter at 0 (failures for the reasons the
    /// probe's kind can give), so an `increase()` alert sees the first
    /// failure (a series born at 1 has no increase).
    public func prepare(probes: [(name: String, failureReasons: [ProbeReason])]) {
        for probe in probes {
            let labels = [("probe", probe.name)]
            runs(labels).increment(by: Int64(0))
            authRefreshes(labels).increment(by: Int64(0))
            for reason in probe.failureReasons { failures(labels, reason).increment(by: Int64(0)) }
        }
    }

    // The per-probe counters, declared once for `record` and `prepare`.
    private func runs(_ probe: [(String, String)]) -> Counter {
        counter(of: probe[0].1, "vigil_probe_runs_total", "Probe runs.", probe)
    }

    private func authRefreshes(_ probe: [(String, String)]) -> Counter {
        counter(of: probe[0].1, "vigil_probe_auth_refresh_total", "Authentication failures that forced a credentials refresh and a retry.", probe)
    }

    private func failures(_ probe: [(String, String)], _ reason: ProbeReason) -> Counter {
        counter(of: probe[0].1, "vigil_probe_failures_total", "Failed probe runs, by reason.", probe + [("reason", reason.rawValue)])
    }

    // MARK: Series of one probe (component), removed when a reload removes it

    private enum Series {
        case gauge(Gauge), counter(Counter), histogram(ValueHistogram)
    }

    /// Every series created for a probe or component, by name and labels.
    private let seriesOf = Locked<[String: [String: Series]]>([:])

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        name + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
    }

    private func remember(_ owner: String, _ name: String, _ labels: [(String, String)], _ series: Series) {
        let key = Self.key(name, labels)
        seriesOf.withLock { if $0[owner]?[key] == nil { $0[owner, default: [:]][key] = series } }
    }

    private func gauge(of owner: String, _ name: String, _ help: String, _ labels: [(String, String)]) -> Gauge {
        let gauge = registry.gauge(name, help, labels)
        remember(owner, name, labels, .gauge(gauge))
        return gauge
    }

    private func counter(of owner: String, _ name: String, _ help: String, _ labels: [(String, String)]) -> Counter {
        let counter = registry.counter(name, help, labels)
        remember(owner, name, labels, .counter(counter))
        return counter
    }

    /// The target each probe last reported: a new one (a rotation to
    /// another host) replaces the old series instead of adding one.
    private let targets = Locked<[String: String]>([:])

    private func recordTarget(_ target: String, of probe: String) {
        let previous = targets.withLock { targets in defer { targets[probe] = target }; return targets[probe] }
        guard previous != target else { return }
        let name = "vigil_probe_target_info", help = "What each probe checks (host:port, or an http target's scheme://host:port); the value is always 1."
        if let previous {
            let labels = [("probe", probe), ("target", previous)]
            seriesOf.withLock { _ = $0[probe]?.removeValue(forKey: Self.key(name, labels)) }
            registry.unregisterGauge(registry.gauge(name, help, labels))
        }
        gauge(of: probe, name, help, [("probe", probe), ("target", target)]).set(to: 1)
    }

    /// Drops every series of probes and components a reload removed, so no
    /// alert keeps firing on a target that no longer exists.
    func forget(_ owners: [String]) {
        let dropped = seriesOf.withLock { seriesOf in owners.flatMap { seriesOf.removeValue(forKey: $0)?.values.map { $0 } ?? [] } }
        targets.withLock { targets in for owner in owners { targets.removeValue(forKey: owner) } }
        certificates.forget(probes: owners)
        for series in dropped {
            switch series {
            case .gauge(let gauge): registry.unregisterGauge(gauge)
            case .counter(let counter): registry.unregisterCounter(counter)
            case .histogram(let histogram): registry.unregisterValueHistogram(histogram)
            }
        }
    }

    /// Publishes the health thresholds, so alert rules and dashboards use
    /// the same figures as `/health`.
    /// The figures alert rules and dashboards compare against, from the
    /// configuration: change the configuration and the alerts move with it.
    public struct Thresholds: Sendable {
        public var latency: Duration
        public var minimumHitRatio: Double
        public var secretsTTL: Double
        public var secretsEmergencyTTL: Double
        /// Interval and timeout of each enabled probe.
        public var probes: [(name: String, interval: Duration, timeout: Duration)]

        public init(latency: Duration, minimumHitRatio: Double, secretsTTL: Double, secretsEmergencyTTL: Double,
                    probes: [(name: String, interval: Duration, timeout: Duration)]) {
            self.latency = latency
            self.minimumHitRatio = minimumHitRatio
            self.secretsTTL = secretsTTL
            self.secretsEmergencyTTL = secretsEmergencyTTL
            self.probes = probes
        }
    }

    public func publishThresholds(_ thresholds: Thresholds) {
        func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
            registry.gauge(name, help, labels)
        }
        gauge("vigil_health_latency_threshold_seconds", "Probe latency above which a component counts as degraded.")
            .set(thresholds.latency.timeInterval)
        gauge("vigil_health_min_cache_hit_ratio", "Secrets cache hit ratio below which the secrets component counts as degraded.")
            .set(thresholds.minimumHitRatio)
        gauge("vigil_secrets_ttl_seconds", "How long a secret is served without asking AWS (secrets.ttl).")
            .set(thresholds.secretsTTL)
        gauge("vigil_secrets_emergency_ttl_seconds", "How long an expired secret is still served while AWS fails (secrets.emergency_ttl).")
            .set(thresholds.secretsEmergencyTTL)
        for probe in thresholds.probes {
            self.gauge(of: probe.name, "vigil_probe_interval_seconds", "Time between two runs of the probe (probes.<name>.interval).", [("probe", probe.name)])
                .set(probe.interval.timeInterval)
            self.gauge(of: probe.name, "vigil_probe_timeout_seconds", "Bound on one run of the probe (probes.<name>.timeout).", [("probe", probe.name)])
                .set(probe.timeout.timeInterval)
        }
    }

    /// Prometheus's reload gauges: whether the last load or reload of the
    /// configuration succeeded, and when one last did (`time`: Unix seconds).
    public func configurationLoaded(successfully: Bool, at time: Double) {
        registry.gauge("vigil_config_last_reload_successful", "1 if the last configuration reload succeeded (or none was tried), else 0.")
            .set(to: successfully ? 1 : 0)
        guard successfully else { return }
        registry.gauge("vigil_config_last_reload_success_timestamp_seconds", "Unix time the configuration was last loaded successfully.")
            .set(time)
    }

    /// `vigil_health_component_critical{component}`: whether a failure of the
    /// component makes overall health unhealthy. Alerts take their severity
    /// from it (the component's own status is the same either way).
    func describe(_ components: [ComponentHealth]) {
        for component in components {
            gauge(of: component.name, "vigil_health_component_critical",
                           "1 if the component is critical (its failure makes overall health unhealthy), else 0.",
                           [("component", component.name)]).set(to: component.critical ? 1 : 0)
        }
    }

    /// Sets `vigil_health_status{component,status}`: 1 for the current status, 0 for the others.
    func publish(_ snapshot: HealthSnapshot) {
        let states = snapshot.components.map { ($0.name, $0.status(at: snapshot.now)) }
        for (component, current) in states + [("overall", snapshot.status)] {
            for status in HealthStatus.allCases {
                gauge(of: component, "vigil_health_status", "Health by component: 1 for the current status, 0 for the others.", [("component", component), ("status", status.rawValue)])
                    .set(to: status == current ? 1 : 0)
            }
        }
    }
}
