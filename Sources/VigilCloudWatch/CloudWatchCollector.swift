import VigilAWS
import VigilSecrets
import VigilState

/// Turns Vigil's state into the datums of one interval. Counters become
/// deltas since the previous interval; ratios are over the interval; no
/// value is ever NaN or infinite (a ratio without lookups is left out).
final class CloudWatchCollector {
    struct Sources {
        var store: HealthStore
        var secrets: SecretsClient?
        var aws: AWSMetrics?
        var latencies: ProbeLatencyWindow
        var certificates: CertificateGauges?
    }

    private let sources: Sources
    private let dimensions: [(name: String, value: String)]
    private let errorCodeDimension: Bool
    private var previous: [String: Int] = [:]

    init(sources: Sources, dimensions: [(name: String, value: String)], errorCodeDimension: Bool) {
        self.sources = sources
        self.dimensions = dimensions
        self.errorCodeDimension = errorCodeDimension
        _ = counters()  // start the first window now
    }

    func collect(at time: UnixTime) -> [MetricDatum] {
        let now = counters()
        func delta(_ key: String) -> Double { Double(max(0, (now[key] ?? 0) - (previous[key] ?? 0))) }
        func datum(_ name: String, _ unit: MetricDatum.Unit, _ value: Double, _ extra: [(name: String, value: String)] = []) -> MetricDatum {
            MetricDatum(name: name, unit: unit, value: value, statistics: nil, dimensions: dimensions + extra, timestamp: time)
        }
        var datums: [MetricDatum] = []
        let lookups = delta("lookups")
        datums.append(datum("CacheLookups", .count, lookups))
        if lookups > 0 { datums.append(datum("CacheHitRate", .percent, 100 * delta("hits") / lookups)) }
        datums.append(datum("Rotations", .count, delta("rotations")))
        datums.append(datum("FallbackCount", .count, delta("fallback.emergency_cache"), [("Source", "emergency_cache")]))
        datums.append(datum("FallbackCount", .count, delta("fallback.environment"), [("Source", "environment")]))
        let codes = now.keys.filter { $0.hasPrefix("aws.") }
        datums.append(datum("AWSErrors", .count, codes.reduce(0) { $0 + delta($1) }))
        if errorCodeDimension {
            for code in codes.sorted() where delta(code) > 0 {
                datums.append(datum("AWSErrors", .count, delta(code), [("ErrorCode", String(code.dropFirst(4)))]))
            }
        }
        if let secrets = sources.secrets {
            let statuses = secrets.statuses()
            datums.append(datum("StaleSecretsServed", .count, Double(SecretsClient.servedStale(statuses))))
            // A lifecycle finding each (docs/lifecycle.md): what a CloudWatch-only team alarms on.
            datums.append(datum("SecretsNeedingAttention", .count, Double(statuses.filter { !$0.findings.isEmpty }.count)))
        }
        let snapshot = sources.store.snapshot()
        for component in snapshot.components {
            let healthy: Double = component.status(at: snapshot.now) == .unhealthy ? 0 : 1
            datums.append(datum("ComponentHealthy", .none, healthy, [("Component", component.name)]))
            if let name = Self.namedHealthMetrics[component.name] { datums.append(datum(name, .none, healthy)) }
        }
        datums.append(datum("OverallHealthy", .none, snapshot.status == .unhealthy ? 0 : 1))
        // The fewest days any certificate met or served has left (negative once expired): what a CloudWatch-only team alarms on.
        if let earliest = sources.certificates?.earliest {
            datums.append(datum("CertificateDaysLeft", .none, ((earliest - time.seconds) / 86_400 * 100).rounded() / 100))
        }
        for (probe, statistics) in sources.latencies.drain().sorted(by: { $0.key < $1.key }) {
            datums.append(MetricDatum(name: "ProbeLatency", unit: .milliseconds, value: nil, statistics: statistics,
                                      dimensions: dimensions + [("Probe", probe)], timestamp: time))
        }
        previous = now
        return datums
    }

    /// The names the three default components were published under before
    /// `ComponentHealthy{Component}`: kept, so alarms on them keep working.
    static let namedHealthMetrics = ["secrets": "SecretsHealthy", "database": "DatabaseHealthy", "redis": "RedisHealthy"]

    private func counters() -> [String: Int] {
        var counters: [String: Int] = [:]
        if let metrics = sources.secrets?.metrics {
            counters["lookups"] = metrics.lookups.load(ordering: .relaxed)
            counters["hits"] = metrics.hits.load(ordering: .relaxed)
            counters["rotations"] = metrics.rotations.load(ordering: .relaxed)
            counters["fallback.emergency_cache"] = metrics.emergencyFallbacks.load(ordering: .relaxed)
            counters["fallback.environment"] = metrics.environmentFallbacks.load(ordering: .relaxed)
        }
        for (code, count) in sources.aws?.errorsByCode ?? [:] { counters["aws.\(code)"] = count }
        return counters
    }
}
