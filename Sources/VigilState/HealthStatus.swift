import FoundationEssentials
import VigilPlatform
import VigilResults

/// Overall and per-component health, as `/health` and `vigil check` report it.
public enum HealthStatus: String, Sendable, CaseIterable, Comparable {
    case healthy, degraded, unhealthy

    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
    private var rank: Int { Self.allCases.firstIndex(of: self)! }

    /// `vigil check`'s exit code for this status.
    public var exitCode: Int32 { Int32(rank) }
}

/// One monitored component: its latest probe result, and whether its
/// failure takes the whole service down.
public struct ComponentHealth: Sendable, Equatable {
    public var name: String
    public var critical: Bool
    public var interval: Duration
    public var latest: ProbeResult?
    /// `services` shows connection words (`connected`, ...) for peers and
    /// status words (`healthy`, ...) for the rest (the secrets client).
    public var reportsConnection: Bool
    /// A successful run slower than this counts as degraded.
    public var latencyThreshold: Duration?
    /// Added by a reload and not run yet: it leaves the overall status
    /// alone until its first result (a new target must not fail a load
    /// balancer's check for the milliseconds before its first run).
    public var awaitingFirstRun = false

    public init(name: String, critical: Bool, interval: Duration, latest: ProbeResult? = nil,
                reportsConnection: Bool = true, latencyThreshold: Duration? = nil) {
        self.name = name
        self.critical = critical
        self.interval = interval
        self.latest = latest
        self.reportsConnection = reportsConnection
        self.latencyThreshold = latencyThreshold
    }

    /// This component's own status, the same whatever its criticality: down
    /// is unhealthy; slow or self-reported trouble is degraded. Criticality
    /// weighs only in the overall status (`contribution`) and in alerts.
    public func status(at now: Date) -> HealthStatus {
        guard isUp(at: now), let latest else { return .unhealthy }
        if latest.degraded { return .degraded }
        if let latencyThreshold, latest.latency > latencyThreshold { return .degraded }
        return .healthy
    }

    /// What this component makes of the overall status: a non-critical one
    /// that fails makes it degraded (still 200), never unhealthy.
    public func contribution(at now: Date) -> HealthStatus {
        if awaitingFirstRun && latest == nil { return .healthy }
        return critical ? status(at: now) : min(status(at: now), .degraded)
    }

    /// Up when the latest result succeeded and is younger than three
    /// intervals (a probe that stopped reporting counts as failed).
    public func isUp(at now: Date) -> Bool {
        guard let latest, latest.isAvailable else { return false }
        return now.timeIntervalSince(latest.finishedAt) <= 3 * interval.timeInterval
    }

    /// The load-balancer-friendly word for `services`.
    public func serviceState(at now: Date) -> String {
        guard let latest else { return "unknown" }
        if !reportsConnection { return status(at: now).rawValue }  // the same word as checks.<name>.status
        if isUp(at: now) { return "connected" }
        switch latest.reason {
        case .auth: return "auth_failed"
        case .timeout: return "timeout"
        default: return latest.isAvailable ? "stale" : "disconnected"
        }
    }
}

/// A consistent view of every component at one moment.
public struct HealthSnapshot: Sendable {
    public var components: [ComponentHealth]
    public var now: Date
    public var startedAt: Date
    public var version: String

    public var status: HealthStatus {
        components.reduce(.healthy) { worst, component in max(worst, component.contribution(at: now)) }
    }
}

extension Date {
    /// A date on the steady clock (probe results, snapshots: SteadyClock) as
    /// the wall clock gives it, for what is shown.
    var shown: Date { Date(timeIntervalSince1970: SteadyClock.wall(timeIntervalSince1970)) }
}
