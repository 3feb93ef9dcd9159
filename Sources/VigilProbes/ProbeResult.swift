import FoundationEssentials
import VigilPlatform
import VigilSecrets

/// Why a probe failed, from a fixed set: these become metric labels.
public enum ProbeReason: String, Sendable, CaseIterable {
    case ok, timeout, refused, dns, tls, auth, `protocol`
    case credentialsUnavailable = "credentials_unavailable"
    /// HTTP: an answer outside `expect_status` (and not a refused credential).
    case unexpectedStatus = "unexpected_status"
    /// Secrets: AWS refused access / the secret is gone / AWS unreachable,
    /// throttling or failing; values served past their TTL.
    case accessDenied = "access_denied"
    case notFound = "not_found"
    case unreachable, throttled
    case awsError = "aws_error"
    case stale
    /// Secrets: served from a failover region (`aws.failover_regions`) while the primary fails.
    case replica
}

/// The outcome of one probe run: a plain immutable value.
public struct ProbeResult: Sendable, Equatable {
    public var probe: String
    public var reason: ProbeReason
    /// Wall time of the whole run.
    public var latency: Duration
    public var finishedAt: Date
    /// A short human explanation for logs and `/health` details. Never holds
    /// secret values: probes build it from fixed text and server messages.
    public var detail: String
    /// Working, but not as it should (stale secrets, AWS errors).
    public var degraded: Bool
    /// The run failed authentication, refreshed its credentials and tried again.
    public var refreshedCredentials: Bool
    /// Where the time went (`connect`, `query`, `ping`, ...).
    public var phases: [ProbePhase] = []
    /// Figures the peer reported (Redis `INFO`), exported as gauges.
    public var measurements: [ProbeMeasurement] = []
    /// What the run probed: `host:port` (an http target's
    /// `scheme://host:port`), never a credential or a path; nil when not
    /// known yet (no credentials). Rules join the instances that watch the
    /// same dependency on it (`vigil_probe_target_info`).
    public var target: String?
    /// What the run found about each thing it looked at (the secrets
    /// probe: each secret's state, source, region, stage), for
    /// `/health?verbose`: fixed words and names, never values.
    public var facts: [ProbeFact] = []

    public var succeeded: Bool { reason == .ok }
    /// The component works: the run succeeded, or it serves in a degraded way
    /// (a degraded run may carry a reason, such as secrets served stale
    /// because AWS timed out).
    public var isAvailable: Bool { succeeded || degraded }

    public init(probe: String, reason: ProbeReason, latency: Duration, finishedAt: Date = Date(timeIntervalSince1970: SteadyClock.now), detail: String = "",
                degraded: Bool = false, refreshedCredentials: Bool = false) {
        self.probe = probe
        self.reason = reason
        self.latency = latency
        self.finishedAt = finishedAt
        self.detail = detail
        self.degraded = degraded
        self.refreshedCredentials = refreshedCredentials
    }
}

/// Fields about one subject of a probe run (`ProbeResult.facts`), in order.
public struct ProbeFact: Sendable, Equatable {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    public var subject: String
    public var fields: [Field]

    /// `fields`: (name, value) pairs; a nil value leaves its field out.
    public init(subject: String, _ fields: [(String, String?)]) {
        self.subject = subject
        self.fields = fields.compactMap { name, value in value.map { Field(name: name, value: $0) } }
    }
}

/// The duration of one step of a probe run.
public struct ProbePhase: Sendable, Equatable {
    public var name: String
    public var duration: Duration
}

/// A gauge a probe reports: a fixed metric name, labels from a fixed set.
public struct ProbeMeasurement: Sendable, Equatable {
    public var metric: String
    public var help: String
    public var labels: [String: String]
    public var value: Double

    public init(metric: String, help: String, labels: [String: String], value: Double) {
        self.metric = metric
        self.help = help
        self.labels = labels
        self.value = value
    }
}

/// Times the phases of one probe run.
final class PhaseTimer {
    private(set) var phases: [ProbePhase] = []

    func time<T>(_ name: String, _ body: () throws(ProbeFailure) -> T) throws(ProbeFailure) -> T {
        let started = ContinuousClock.now
        defer { record(name, since: started) }
        return try body()
    }

    func record(_ name: String, since started: ContinuousClock.Instant) {
        phases.append(ProbePhase(name: name, duration: ContinuousClock.now - started))
    }
}

/// One probe: blocking, bounded by `timeout`, run on a thread of its own
/// (never on Swift's cooperative pool). Implementations may keep a
/// connection between runs; the scheduler never runs one probe twice at once.
public protocol Probe: AnyObject, Sendable {
    var name: String { get }
    /// The reasons a failed run of this kind can give (a run past its
    /// timeout is also `timeout`): their counters exist at 0 from the start.
    var failureReasons: [ProbeReason] { get }
    func run(timeout: Duration) -> ProbeResult
    /// The socket of the connection kept between runs, which the scheduler
    /// watches for the server closing it (or sending what nobody asked
    /// for): nil when the kind keeps none, none is open, or a run is using it.
    var keptSocket: Int32? { get }
}

extension Probe {
    public var keptSocket: Int32? { nil }
}

extension ProbeReason {
    /// What a probe that connects and logs in (PostgreSQL, Redis) can fail with.
    public static let connectionFailures: [ProbeReason] = [.timeout, .refused, .dns, .tls, .auth, .protocol, .credentialsUnavailable]
}

/// Where a probe gets its credentials: from the secrets client, with a way
/// to force a refresh when the server rejects them (a rotation happened),
/// taking the seconds the caller can still wait, and a word back when
/// refreshed credentials logged in (the client keeps an AWSPENDING stand-in then).
public struct CredentialsSource<Credentials: Sendable>: Sendable {
    public var fetch: @Sendable (_ maxWait: Double) throws(CredentialsError) -> Credentials
    public var refresh: @Sendable (_ maxWait: Double) -> Void
    public var accepted: @Sendable () -> Void

    public init(fetch: @escaping @Sendable (_ maxWait: Double) throws(CredentialsError) -> Credentials,
                refresh: @escaping @Sendable (_ maxWait: Double) -> Void = { _ in },
                accepted: @escaping @Sendable () -> Void = {}) {
        self.fetch = fetch
        self.refresh = refresh
        self.accepted = accepted
    }
}

/// A failure inside a probe, carried to the result.
struct ProbeFailure: Error {
    var reason: ProbeReason
    var detail: String
}

extension Probe {
    /// Runs `attempt`; after an authentication failure, refreshes the
    /// credentials once and tries again within the same deadline, calling
    /// `accepted` when that one succeeds.
    func measureRefreshingCredentials(_ refresh: () -> Void, accepted: () -> Void = {},
                                      _ attempt: () throws(ProbeFailure) -> Void) -> ProbeResult {
        let first = measure(attempt)
        guard first.reason == .auth else { return first }
        refresh()
        var second = measure(attempt)
        if second.succeeded { accepted() }
        second.latency += first.latency
        second.refreshedCredentials = true
        // A refresh that used up the timeout (AWS slow during a rotation)
        // leaves the retry no time: the login failure is the news, not the
        // timeout (VigilRotationLoginsFailing needs reason="auth").
        guard second.reason == .timeout else { return second }
        var refused = first
        refused.latency = second.latency
        refused.refreshedCredentials = true
        refused.detail += "; the credentials refresh took the rest of the timeout"
        return refused
    }

    /// Times `body` and turns its outcome into a result.
    func measure(_ body: () throws(ProbeFailure) -> Void) -> ProbeResult {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            try body()
            return ProbeResult(probe: name, reason: .ok, latency: clock.now - start)
        } catch {
            return ProbeResult(probe: name, reason: error.reason, latency: clock.now - start, detail: error.detail)
        }
    }
}
