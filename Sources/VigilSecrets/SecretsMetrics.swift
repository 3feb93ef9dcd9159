import Prometheus
import Synchronization
import VigilAWS
import VigilPlatform

/// The secrets client's counters. Cumulative totals are kept here (atomics,
/// cheap on the hit path) and mirrored into a swift-prometheus registry
/// when one is given. `secret` labels are logical names from configuration.
public final class SecretsMetrics: Sendable {
    /// Vigil's own lookups (its probes' and its library callers'), not the
    /// endpoint's reads: the hit-ratio window and CloudWatch's CacheHitRate
    /// judge Vigil's cache, which an application's cold reads say nothing of.
    public let lookups = Atomic<Int>(0)
    public let hits = Atomic<Int>(0)
    public let rotations = Atomic<Int>(0)
    public let emergencyFallbacks = Atomic<Int>(0)
    public let environmentFallbacks = Atomic<Int>(0)
    private let registry: PrometheusCollectorRegistry?
    private let lookupsCounter: Counter?
    private let hitsCounter: Counter?
    /// Cumulative (lookups, hits) at the previous `hitRatioSinceLastCall`,
    /// and the lookups and ratio of the window it closed.
    private let window = Locked<(lookups: Int, hits: Int, ratio: Double, windowLookups: Int)>((0, 0, 1, 0))

    /// The lookups and hit ratio of the last closed window.
    public var lastWindow: (lookups: Int, ratio: Double) { window.withLock { ($0.windowLookups, $0.ratio) } }

    public init(registry: PrometheusCollectorRegistry?) {
        self.registry = registry
        lookupsCounter = registry?.counter("vigil_secrets_cache_lookups_total", "Secret lookups.")
        hitsCounter = registry?.counter("vigil_secrets_cache_hits_total", "Secret lookups answered from a fresh cache entry.")
    }

    /// A lookup; `own`: Vigil's, not an endpoint read (the counters take both).
    func lookup(hit: Bool, own: Bool = true) {
        lookupsCounter?.increment()
        if hit { hitsCounter?.increment() }
        guard own else { return }
        lookups.add(1, ordering: .relaxed)
        if hit { hits.add(1, ordering: .relaxed) }
    }

    /// The `secret` label of every secret read through the endpoint that is not a configured item.
    public static let otherLabel = "_other"

    /// Seconds of lookups one hit-ratio window covers.
    public static let hitRatioWindow = 60.0

    /// Closes the hit-ratio window (the client's schedule does, every
    /// `hitRatioWindow`); with no lookups in it, the previous ratio stands.
    func closeHitRatioWindow() {
        let lookups = self.lookups.load(ordering: .relaxed), hits = self.hits.load(ordering: .relaxed)
        let ratio = window.withLock { window in
            let deltaLookups = lookups - window.lookups
            if deltaLookups > 0 { window.ratio = Double(hits - window.hits) / Double(deltaLookups) }
            window.windowLookups = deltaLookups
            window.lookups = lookups
            window.hits = hits
            return window.ratio
        }
        registry?.gauge("vigil_secrets_cache_hit_ratio", "Cache hit ratio over the last window of lookups (0-1).").set(ratio)
    }

    /// Creates every per-secret series at 0, so `increase()` sees the first event.
    func prepare(secrets: [String]) {
        for secret in secrets {
            for source in [SecretSource.emergencyCache, .environment] { fallbackCounter(secret, source)?.increment(by: Int64(0)) }
            rotationsCounter(secret)?.increment(by: Int64(0))
            pendingCounter(secret)?.increment(by: Int64(0))
            unavailableCounter(secret)?.increment(by: Int64(0))
            for reason in SecretsFailure.allCases { failuresCounter(secret, reason)?.increment(by: Int64(0)) }
        }
        registry?.gauge("vigil_secrets_cache_hit_ratio", "Cache hit ratio over the last window of lookups (0-1).").set(to: 1.0)
    }

    func fallback(_ secret: String, _ source: SecretSource) {
        if source == .environment {
            environmentFallbacks.add(1, ordering: .relaxed)
        } else {
            emergencyFallbacks.add(1, ordering: .relaxed)
        }
        fallbackCounter(secret, source)?.increment()
    }

    func refreshFailed(_ secret: String, _ reason: SecretsFailure) { failuresCounter(secret, reason)?.increment() }

    func rotated(_ secret: String) {
        rotations.add(1, ordering: .relaxed)
        rotationsCounter(secret)?.increment()
    }

    /// Creates each region's series at 0.
    func prepare(regions: [String]) {
        for region in regions {
            for outcome in RegionOutcome.all { regionReadsCounter(region, outcome)?.increment(by: Int64(0)) }
        }
    }

    /// One AWS read in `region` ended (`success`, or a `SecretsFailure` class).
    func regionRead(_ region: String, _ outcome: String) { regionReadsCounter(region, outcome)?.increment() }

    /// A login with AWSCURRENT failed and one with AWSPENDING succeeded: the pending value is served.
    func pendingUsed(_ secret: String) { pendingCounter(secret)?.increment() }

    func unavailable(_ secret: String) {
        unavailableCounter(secret)?.increment()
    }

    func succeeded(_ secret: String, at time: UnixTime) {
        registry?.gauge("vigil_secrets_last_success_timestamp_seconds", "Unix time AWS last confirmed the secret.",
                        [("secret", secret)]).set(time.seconds)
    }

    func publish(entries: Int, servedStale: Int) {
        registry?.gauge("vigil_secrets_cache_entries", "Entries in the secrets cache.").set(Double(entries))
        registry?.gauge("vigil_secrets_served_stale",
                        "Secrets currently served past their TTL (emergency cache or environment).").set(Double(servedStale))
    }

    /// Each configured secret's life as DescribeSecret told it (0: not set or
    /// not known yet; `vigil_secrets_lifecycle_known` says which) and its
    /// findings, every finding's series present.
    func publish(lifecycles statuses: [SecretStatus]) {
        for status in statuses {
            let secret = [("secret", status.name)], life = status.lifecycle
            let timestamps: [(String, String, Double?)] = [
                ("vigil_secrets_last_rotated_timestamp_seconds", "Unix time of the secret's last rotation (DescribeSecret LastRotatedDate).",
                 life?.lastRotated),
                ("vigil_secrets_next_rotation_timestamp_seconds", "Unix time of the secret's next scheduled rotation (NextRotationDate).",
                 life?.nextRotation),
                ("vigil_secrets_last_changed_timestamp_seconds", "Unix time the secret last changed (LastChangedDate).", life?.lastChanged),
                ("vigil_secrets_deletion_timestamp_seconds", "Unix time the secret is scheduled to be deleted (DeletedDate); 0 when not scheduled.",
                 life?.deletion),
                ("vigil_secrets_pending_since_timestamp_seconds",
                 "Unix time since which AWSPENDING has labelled another version than AWSCURRENT; 0 when it does not.", life?.pending?.since),
            ]
            for (name, help, value) in timestamps { registry?.gauge(name, help, secret).set(value ?? 0) }
            registry?.gauge("vigil_secrets_lifecycle_known", "1 once DescribeSecret has described the secret (a version check), else 0.",
                            secret).set(life == nil ? 0.0 : 1.0)
            registry?.gauge("vigil_secrets_rotation_enabled", "1 if rotation is enabled for the secret (DescribeSecret RotationEnabled).",
                            secret).set(life?.rotationEnabled == true ? 1.0 : 0.0)
            for status in SecretLifecycle.Replica.statuses {
                let count = life?.replicas.filter { $0.fixedStatus == status }.count ?? 0
                registry?.gauge("vigil_secrets_replicas", "The secret's replica regions by ReplicationStatus (InSync, InProgress, Failed).",
                                secret + [("status", status)]).set(Double(count))
            }
            for finding in SecretFinding.allCases {
                registry?.gauge("vigil_secrets_finding", "1 while the finding holds for the secret (rotation_overdue, rotation_stuck, "
                                    + "deletion_scheduled, replica_out_of_sync, malformed), else 0.",
                                secret + [("finding", finding.rawValue)]).set(status.findings.contains(finding) ? 1.0 : 0.0)
            }
        }
    }

    func startup(seconds: Double) {
        registry?.gauge("vigil_secrets_startup_duration_seconds", "Time the start-up load of all secrets took.").set(seconds)
    }

    private func fallbackCounter(_ secret: String, _ source: SecretSource) -> Counter? {
        registry?.counter("vigil_secrets_fallback_total", "Secret values served from a fallback, by source.",
                          [("secret", secret), ("source", source.rawValue)])
    }

    private func rotationsCounter(_ secret: String) -> Counter? {
        registry?.counter("vigil_secrets_rotations_total", "Rotations detected (AWSCURRENT moved to a new version).", [("secret", secret)])
    }

    private func pendingCounter(_ secret: String) -> Counter? {
        registry?.counter("vigil_secrets_pending_used_total",
                          "Times a login failed with AWSCURRENT and succeeded with AWSPENDING, which was then served until AWSCURRENT moved.",
                          [("secret", secret)])
    }

    private func regionReadsCounter(_ region: String, _ outcome: String) -> Counter? {
        registry?.counter("vigil_secrets_region_reads_total",
                          "Secrets Manager calls (a call and its retries count once) by region and outcome: success or the failure class.",
                          [("region", region), ("outcome", outcome)])
    }

    private func unavailableCounter(_ secret: String) -> Counter? {
        registry?.counter("vigil_secrets_unavailable_total", "Lookups that could not be served at all.", [("secret", secret)])
    }

    private func failuresCounter(_ secret: String, _ reason: SecretsFailure) -> Counter? {
        registry?.counter("vigil_secrets_refresh_failures_total", "Failed AWS refreshes of a secret, by reason.",
                          [("secret", secret), ("reason", reason.rawValue)])
    }
}

/// The `outcome` label of `vigil_secrets_region_reads_total`: a fixed set.
enum RegionOutcome {
    static let success = "success"
    static let all = [success] + SecretsFailure.allCases.map(\.rawValue)
}
