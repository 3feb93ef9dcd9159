import VigilPlatform
import VigilResults
import VigilSecrets

/// Holds a probe's connection between runs: opens one when there is none
/// (or it went bad, or it is an hour old), drops it after any failure so
/// the next run reconnects.
final class ConnectionKeeper<Connection>: Sendable {
    /// Only the probe's own thread uses the connection; the mutex makes that
    /// checkable and lets the keeper be shared with `vigil check`. With the
    /// steady-clock time it was opened.
    private let kept = Locked<(connection: Connection, opened: Double)?>(nil)
    /// A connection is replaced after this long, so its handshake, and the
    /// server certificate it reports, is at most an hour old: a certificate
    /// renewed on the server shows within the hour (PgBouncer's
    /// `server_lifetime` is an hour too). One reconnect an hour costs nothing.
    static var maxAge: Double { 3600 }
    /// Where the last connection went (`host:port`): what a run reports as its target.
    private let address = Locked<String?>(nil)

    init() {}

    /// The kept connection's socket (`descriptor`), or nil when there is
    /// none or a run holds it: never waits for a run.
    func socket(_ descriptor: (Connection) -> Int32) -> Int32? {
        kept.withLockIfAvailable { $0.map { descriptor($0.connection) } } ?? nil
    }

    /// Runs `body` on the kept connection, or on a new one. A kept
    /// connection that fails (the server closed it: a failover, a pooler
    /// restart, an idle reaper) is not the run's failure: the run opens a
    /// fresh one and tries once more within the same deadline. Only a
    /// failure on a fresh connection counts.
    func use(deadline: Deadline, isUsable: (Connection) -> Bool = { _ in true },
             open: () throws(ProbeFailure) -> sending Connection,
             _ body: (Connection) throws(ProbeFailure) -> Void) throws(ProbeFailure) {
        try kept.withLock { (kept: inout (connection: Connection, opened: Double)?) throws(ProbeFailure) in
            if let (current, opened) = kept, isUsable(current), SteadyClock.now - opened < Self.maxAge {
                do throws(ProbeFailure) {
                    try body(current)
                    return
                } catch {
                    kept = nil
                    // Retried unless time is up or the server rejected us: a pooler's
                    // "idle timeout" close reads like a timeout but is the server's doing.
                    guard error.reason != .auth && !deadline.hasPassed else { throw error }
                }
            }
            kept = nil
            let opened = SteadyClock.now
            let fresh = try open()
            try body(fresh)
            if isUsable(fresh) { kept = (fresh, opened) }
        }
    }
}

extension ConnectionKeeper {
    /// The run of a probe that keeps a connection (PostgreSQL, Redis):
    /// connect, timed as `connect`, when no kept connection is usable, then
    /// `check` it; an authentication failure refreshes the credentials by
    /// force and tries once more, all within `timeout`.
    func run<Credentials>(_ probe: some Probe, timeout: Duration, credentials: CredentialsSource<Credentials>,
                          isUsable: (Connection) -> Bool, target: (Credentials) -> HostPort,
                          connect: (Credentials, Deadline) throws(ProbeFailure) -> sending Connection,
                          check: (Connection, Deadline, PhaseTimer) throws(ProbeFailure) -> Void) -> ProbeResult {
        let deadline = Deadline(after: timeout)
        let timer = PhaseTimer()
        var result = probe.measureRefreshingCredentials({ credentials.refresh(deadline.remainingSeconds) },
                                                        accepted: credentials.accepted) { () throws(ProbeFailure) in
            try use(deadline: deadline, isUsable: isUsable) { () throws(ProbeFailure) -> sending Connection in
                let started = ContinuousClock.now
                defer { timer.record("connect", since: started) }  // not `time`: its result could not be `sending`
                let current = try credentials.get(deadline)
                address.withLock { $0 = target(current).text }
                return try connect(current, deadline)
            } _: { (connection) throws(ProbeFailure) in
                try check(connection, deadline, timer)
            }
        }
        result.phases = timer.phases
        result.target = address.withLock { $0 }
        // The secret is malformed: say which earlier version the login holds.
        result.addFacts(about: probe.name, [("login_version", credentials.standIn())])
        return result
    }
}

extension CredentialsSource {
    /// The credentials, or a probe failure saying why there are none. A cold
    /// secrets cache is waited for only until the deadline.
    func get(_ deadline: Deadline) throws(ProbeFailure) -> Credentials {
        do throws(CredentialsError) { return try fetch(deadline.remainingSeconds) } catch {
            throw ProbeFailure(reason: .credentialsUnavailable, detail: error.description)
        }
    }
}
