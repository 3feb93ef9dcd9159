import FoundationEssentials
import VigilPlatform
import VigilResults
import VigilSecrets

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
    /// The version the last credentials came from when it stands in for an
    /// AWSCURRENT that lacks keys (the secret is `malformed`); else nil.
    public var standIn: @Sendable () -> String?

    public init(fetch: @escaping @Sendable (_ maxWait: Double) throws(CredentialsError) -> Credentials,
                refresh: @escaping @Sendable (_ maxWait: Double) -> Void = { _ in },
                accepted: @escaping @Sendable () -> Void = {}, standIn: @escaping @Sendable () -> String? = { nil }) {
        self.fetch = fetch
        self.refresh = refresh
        self.accepted = accepted
        self.standIn = standIn
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
