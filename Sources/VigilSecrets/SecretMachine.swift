import VigilAWS

/// A value the client can serve: from AWS, or taken over from the
/// environment fallback while AWS could not answer.
struct CacheEntry: Sendable {
    var value: SecretString
    var versionID: String?
    var source: SecretSource
    /// When AWS last confirmed the value (fetch or version check); for the
    /// environment, when the fallback was taken.
    var confirmedAt: UnixTime
    /// What GetSecretValue said besides the value (nil for the environment).
    var document: SecretDocument?
    /// The region AWS answered from (nil for the environment).
    var region: String?
    /// Keys the item requires that the value lacks (`malformed`): names only.
    var missingKeys: [String] = []

    /// AWS confirmed it again, from `region`.
    mutating func confirm(at time: UnixTime, in region: String) {
        confirmedAt = time
        self.region = region
    }
}

extension CacheEntry {
    /// A value GetSecretValue served from `region`, confirmed `now`, checked for the keys the item requires.
    init(_ fetched: SecretsManagerAPI.Fetched, region: String, at now: UnixTime, requiredKeys: [String]) {
        self.init(value: SecretString(fetched.value), versionID: fetched.versionID, source: .aws, confirmedAt: now,
                  document: SecretDocument(fetched), region: region)
        judge(by: requiredKeys)
    }

    /// Sets `missingKeys` to the keys the value lacks of `keys` (none for a binary secret).
    mutating func judge(by keys: [String]) {
        missingKeys = document?.binary == true ? [] : RequiredKeys.missing(in: value.revealed(), keys)
    }
}

/// What a transition needs of the configuration.
struct SecretPolicy: Sendable {
    var ttl: Double
    var emergencyTTL: Double
    var refreshAhead: Double
    var maxBackoff: Double
    /// The region reads go to first (nil without AWS access).
    var primaryRegion: String?
    var rotationWindow: Double
    var rotationGrace: Double

    /// Seconds until an entry AWS just confirmed is refreshed: ahead of its
    /// TTL by `refreshAhead` (less up to 20 % of it, so entries loaded
    /// together spread out); within `maxBackoff` for a `recheck` (a replica's
    /// value, a stand-in), and never past the refresh-ahead time either (a
    /// `max_backoff` longer than the TTL left a stand-in stale between checks).
    func refreshIn(recheck: Bool, jitter: Double) -> Double {
        let ahead = ttl - refreshAhead - 0.2 * jitter * refreshAhead
        return recheck ? min(maxBackoff * (0.8 + 0.2 * jitter), ahead) : ahead
    }

    init(_ configuration: SecretsConfiguration, primaryRegion: String?) {
        (ttl, emergencyTTL, refreshAhead, maxBackoff) =
            (configuration.ttl, configuration.emergencyTTL, configuration.refreshAhead, configuration.maxBackoff)
        (rotationWindow, rotationGrace) = (configuration.rotationWindow, configuration.rotationGrace)
        self.primaryRegion = primaryRegion
    }
}

/// Everything the client knows about one secret, and every way it changes.
///
/// A value: each transition takes an event (an AWS answer or failure, a
/// refresh started or refused a thread, a login's outcome, the clock), the
/// time and, where the schedule is jittered, a random draw in 0..<1, and
/// returns what the shell must do (count, log, notify, wait). No locks,
/// threads, clocks or I/O: `SecretsClient` owns those, and the simulator in
/// the tests drives the same transitions over millions of steps.
struct SecretMachine: Sendable {
    /// One AWS refresh in progress (at most one a secret).
    struct Flight: Sendable, Equatable {
        var id: Int
        var since: UnixTime
        var forced: Bool
    }

    /// What an AWS answer that settled the secret means to the shell.
    struct Settled: Sendable {
        var rotated = false
        /// Recovered, or now read from another region: monitors look at once.
        var changed = false
        var document: SecretDocument?
    }

    /// The entry served: AWSCURRENT, or AWSPENDING standing in for it.
    private(set) var entry: CacheEntry?
    /// While `entry` is the AWSPENDING stand-in: the AWSCURRENT entry it displaced.
    private(set) var displaced: CacheEntry?
    /// A login succeeded with the stand-in (counted once).
    private(set) var pendingConfirmed = false
    /// An AWSPENDING version a login failed with: not tried again.
    private(set) var rejectedPending: String?
    /// When AWSPENDING was last asked for.
    private(set) var pendingCheckedAt: UnixTime?
    /// Consecutive failed AWS attempts.
    private(set) var failures = 0
    /// No AWS attempt before this time (bounded backoff while failing).
    private(set) var nextAttempt = UnixTime(seconds: 0)
    /// Why the last attempt failed (nil after a success).
    private(set) var failure: (reason: SecretsFailure, code: String)?
    /// The last failed attempt's error, for the endpoint's answer.
    private(set) var lastError: AWSError?
    /// Refresh-ahead: when to renew the entry before its TTL ends (jittered once per load).
    private(set) var refreshAt = UnixTime(seconds: 0)
    /// The last forced fetch that found the version already cached (the
    /// server rejects the current value: fetching again cannot help soon).
    private(set) var uselessForce: (at: UnixTime, version: String?)?
    private(set) var flight: Flight?
    /// An AWSPENDING read in progress (its id).
    private(set) var pendingFlight: Int?
    /// When the last `refreshNow` was let through to AWS.
    private(set) var lastRefreshNow: UnixTime?
    /// What DescribeSecret last said of the secret's life (nil until a version check, or while it is denied).
    private(set) var lifecycle: SecretLifecycle?
    /// While AWSCURRENT lacks keys the item requires: the last version that
    /// had them all, which logins keep using (the endpoint serves AWSCURRENT).
    private(set) var wellFormed: CacheEntry?
    /// Readers waiting for this secret's refresh: the entry is not evicted under them.
    private(set) var waiting = 0

    /// After a refresh could not get a thread: try again this soon.
    static let threadRetry = 1.0

    // MARK: Queries

    /// The version logins use in place of AWSCURRENT while AWSCURRENT lacks
    /// keys (the last well-formed one); nil while they use AWSCURRENT.
    var loginStandIn: String? {
        guard let entry, entry.source == .aws, !entry.missingKeys.isEmpty else { return nil }
        return wellFormed?.versionID
    }

    /// The entry while it is fresh (AWS confirmed it within the TTL).
    /// `served` as logins use it: while it lacks required keys, the last
    /// well-formed version's value and id in its place (fresh as `served` is).
    func forLogins(_ served: CacheEntry) -> CacheEntry {
        guard !served.missingKeys.isEmpty, served.source == .aws, let wellFormed else { return served }
        var substitute = served
        (substitute.value, substitute.versionID, substitute.document, substitute.missingKeys)
            = (wellFormed.value, wellFormed.versionID, wellFormed.document, [])
        return substitute
    }

    func freshEntry(at now: UnixTime, ttl: Double) -> CacheEntry? {
        guard let entry, entry.source == .aws, now.seconds - entry.confirmedAt.seconds < ttl else { return nil }
        return entry
    }

    func isFresh(at now: UnixTime, ttl: Double) -> Bool { freshEntry(at: now, ttl: ttl) != nil }

    func isWithinEmergency(at now: UnixTime, limit: Double) -> Bool {
        guard let entry, entry.source == .aws else { return false }
        return now.seconds - entry.confirmedAt.seconds < limit
    }

    /// Whether a background refresh should start now.
    func wantsRefresh(at now: UnixTime) -> Bool {
        guard flight == nil, now >= nextAttempt else { return false }
        guard let entry, entry.source == .aws, failures == 0 else { return true }
        return now >= refreshAt
    }

    /// When the schedule must look at this secret next; nil while a refresh
    /// runs (its end is the next event). Never in the past unless due now.
    func nextWake(ttl: Double) -> UnixTime? {
        guard flight == nil else { return nil }
        guard let entry, entry.source == .aws, failures == 0 else { return nextAttempt }
        return max(nextAttempt, min(refreshAt, entry.confirmedAt.adding(ttl)))
    }

    /// A reader waits for a refresh of this secret, or is done waiting
    /// (never below none: a reload may have replaced the machine meanwhile).
    mutating func readerWaits(_ waits: Bool) { waiting = max(0, waiting + (waits ? 1 : -1)) }

    /// A refresh, an AWSPENDING read or a reader is under way: not evicted.
    var busy: Bool { flight != nil || pendingFlight != nil || waiting > 0 }

    var holdsEnvironment: Bool { entry?.source == .environment }

    /// Whether a forced read (a login failed) may go to AWS now: not within a
    /// failing secret's backoff; after one that found nothing new, only once
    /// the version moved or `minimumInterval` passed.
    func forcePermitted(at now: UnixTime, minimumInterval: Double) -> Bool {
        if flight != nil { return true }
        guard now >= nextAttempt else { return false }
        guard let useless = uselessForce, useless.version == entry?.versionID else { return true }
        return now.seconds - useless.at.seconds >= minimumInterval
    }

    func state(at now: UnixTime, _ policy: SecretPolicy) -> SecretState {
        if entry?.source == .environment { return .fallback }
        if isFresh(at: now, ttl: policy.ttl) { return .fresh }
        if isWithinEmergency(at: now, limit: policy.emergencyTTL) { return .stale }
        return .missing
    }

    // MARK: Transitions

    /// Starts a refresh unless one runs; true when this one started.
    mutating func launch(id: Int, forced: Bool, at now: UnixTime) -> Bool {
        guard flight == nil else { return false }
        flight = Flight(id: id, since: now, forced: forced)
        return true
    }

    /// The refresh (or AWSPENDING read) `id` could not get a thread: it
    /// ends, and the schedule tries again after `threadRetry`.
    mutating func threadRefused(id: Int, at now: UnixTime) {
        if flight?.id == id {
            flight = nil
            nextAttempt = max(nextAttempt, now.adding(Self.threadRetry))
        }
        if pendingFlight == id { pendingFlight = nil }
    }

    /// The refresh `id` is over (its answer or failure applied, the effects
    /// performed): readers waiting for it look again.
    mutating func ended(id: Int) {
        if flight?.id == id { flight = nil }
    }

    /// AWS says the stage (AWSCURRENT) is still at `current`: the value held
    /// is confirmed, an AWSPENDING stand-in with the AWSCURRENT entry it
    /// displaced (a rotation stuck before AWSCURRENT moves keeps the login
    /// that works). Nil when the secret holds another version (fetch it).
    mutating func confirmed(current: String, region: String, at now: UnixTime, _ policy: SecretPolicy,
                            jitter: Double) -> Settled? {
        let previousRegion = entry?.region
        if displaced?.versionID == current, entry != nil {
            displaced?.confirm(at: now, in: region)
            entry?.confirm(at: now, in: region)
        } else if displaced == nil, entry?.source == .aws, entry?.versionID == current {
            entry?.confirm(at: now, in: region)
        } else {
            return nil
        }
        return settle(at: now, policy, jitter: jitter, previousRegion: previousRegion, rotated: false)
    }

    /// A reload changed the keys the item requires (its `keys`, or the probes
    /// that log in with it): the value held is judged again at once, not at
    /// its next version. A version that now has them all ends any stand-in;
    /// one that now lacks some keeps the stand-in it had, if any (no earlier
    /// version was judged by these keys: without one, logins keep it).
    mutating func requiredKeysChanged(to keys: [String]) {
        guard entry?.source == .aws else { return }
        entry?.judge(by: keys)
        if entry?.missingKeys.isEmpty == true { wellFormed = nil }
    }

    /// A value AWS served for the stage, weighed against what is held by now
    /// (a forced read, a stand-in or its drop may have come meanwhile):
    /// - the version a stand-in displaced: AWSCURRENT has not moved, so the
    ///   stand-in stays and both are confirmed;
    /// - from a replica, a version created before the one held: replication
    ///   lags a rotation, so the newer value held stays;
    /// - anything else is the value from now on.
    /// `forced`: a forced fetch that finds the held version is remembered
    /// (`uselessForce`).
    mutating func fetched(_ fresh: CacheEntry, forced: Bool, at now: UnixTime, _ policy: SecretPolicy,
                          jitter: Double) -> Settled {
        let previousRegion = entry?.region
        let held = displaced ?? entry
        var rotated = false
        if let current = displaced, entry != nil, fresh.versionID != nil, current.versionID == fresh.versionID {
            displaced = fresh
            entry?.confirm(at: now, in: fresh.region ?? "")
        } else if fresh.region != policy.primaryRegion, let held, held.source == .aws, held.versionID != fresh.versionID,
                  let heldDate = held.document?.createdDate, let date = fresh.document?.createdDate, date < heldDate {
            entry?.confirm(at: now, in: fresh.region ?? "")  // still the newest known: checked again within maxBackoff
        } else {
            entry = fresh
            (displaced, pendingConfirmed) = (nil, false)
            rotated = held?.source == .aws && held?.versionID != nil && held?.versionID != fresh.versionID
            // A version that lacks required keys (a manual update that replaced the whole
            // JSON) does not replace the last one that had them, for logins.
            if fresh.missingKeys.isEmpty { wellFormed = nil }
            else if let held, held.source == .aws, held.missingKeys.isEmpty { wellFormed = held }
        }
        if forced && held?.source == .aws && !rotated { uselessForce = (now, fresh.versionID) }
        return settle(at: now, policy, jitter: jitter, previousRegion: previousRegion, rotated: rotated)
    }

    /// A successful read's bookkeeping: failures cleared, the refresh ended,
    /// the next one scheduled. A value read from a replica, or a stand-in, is
    /// checked again within `maxBackoff` (the primary may answer again,
    /// AWSCURRENT may move) instead of ahead of its TTL.
    private mutating func settle(at now: UnixTime, _ policy: SecretPolicy, jitter: Double, previousRegion: String?,
                                 rotated: Bool) -> Settled {
        let wasFailing = failures > 0 || holdsEnvironment
        let recheck = entry?.region != policy.primaryRegion || displaced != nil
        (failures, failure, lastError, nextAttempt) = (0, nil, nil, now)
        refreshAt = now.adding(policy.refreshIn(recheck: recheck, jitter: jitter))
        let moved = previousRegion != nil && previousRegion != entry?.region
        return Settled(rotated: rotated, changed: wasFailing || moved, document: entry?.document)
    }

    /// An AWS attempt failed: backoff 1, 2, 4, ... s up to `maxBackoff`,
    /// ±20 % (`jitter`) so secrets that failed together do not retry in
    /// lockstep. Returns the previous failure's class (a change is logged).
    mutating func failed(_ error: AWSError, at now: UnixTime, _ policy: SecretPolicy, jitter: Double) -> SecretsFailure? {
        let previous = failure?.reason
        failures += 1
        let backoff = min(policy.maxBackoff, Double(1 << min(max(0, failures - 1), 30))) * (0.8 + 0.4 * jitter)
        nextAttempt = now.adding(backoff)
        failure = (SecretsFailure(error), error.metricCode)
        lastError = error
        return previous
    }

    /// Past the emergency TTL a value is never served again; a stand-in
    /// goes with the entry it displaced (both are confirmed together).
    mutating func expire(at now: UnixTime, _ policy: SecretPolicy) {
        guard entry?.source == .aws, !isWithinEmergency(at: now, limit: policy.emergencyTTL) else { return }
        (entry, displaced, pendingConfirmed) = (nil, nil, false)
    }

    /// The environment fallback is served: held from now on, so it is
    /// served at once until AWS answers.
    mutating func tookEnvironment(_ value: SecretString, at now: UnixTime) {
        guard entry?.source != .environment else { return }
        entry = CacheEntry(value: value, versionID: nil, source: .environment, confirmedAt: now)
    }

    /// `refreshNow`: whether it joins a refresh that began after it arrived
    /// (`arrival`: the id the next flight gets at arrival), starts one now
    /// (the last one let through `interval` ago and none running), or waits
    /// until `at` for its turn. Never answered from before the request.
    enum RefreshNow: Equatable {
        case join(Int)
        case launch
        case wait(until: UnixTime?)
    }

    func refreshNow(arrival: Int, at now: UnixTime, interval: Double) -> RefreshNow {
        if let flight {
            return flight.id >= arrival ? .join(flight.id) : .wait(until: nil)
        }
        if let last = lastRefreshNow, now < last.adding(interval) { return .wait(until: last.adding(interval)) }
        return .launch
    }

    /// AWS answered for this secret since `arrival`: a value confirmed
    /// since, or a failure (said in the answer: stale, or AWS's error); no
    /// refresh runs. A refresh that got no thread answered nothing.
    func answered(since arrival: UnixTime) -> Bool {
        guard flight == nil else { return false }
        guard let entry, entry.source == .aws else { return true }
        return entry.confirmedAt >= arrival || failure != nil
    }

    /// A `refreshNow` read went to AWS now (as flight `id`).
    mutating func launchRefreshNow(id: Int, at now: UnixTime) -> Bool {
        guard launch(id: id, forced: true, at: now) else { return false }
        lastRefreshNow = now
        return true
    }

    /// After a forced read found AWSCURRENT unchanged (the version held is
    /// `uselessForce`'s): whether to ask for AWSPENDING now (at most every
    /// `interval`); marks it asked, as read `id`.
    mutating func startPending(id: Int, at now: UnixTime, interval: Double) -> Bool {
        guard pendingFlight == nil, let entry, entry.source == .aws, displaced == nil,
              uselessForce?.version == entry.versionID else { return false }
        if let checked = pendingCheckedAt, now.seconds - checked.seconds < interval { return false }
        (pendingCheckedAt, pendingFlight) = (now, id)
        return true
    }

    /// DescribeSecret answered (with a version check): its rotation,
    /// deletion and replicas are kept, and the version AWSPENDING labels
    /// apart from AWSCURRENT's with the time it was first seen.
    mutating func described(_ answer: SecretLifecycle, pending version: String?, at now: UnixTime) {
        let seen = lifecycle?.pending.flatMap { $0.version == version ? $0 : nil }
        lifecycle = answer
        lifecycle?.pending = version.map { seen ?? SecretLifecycle.Pending(version: $0, since: now.seconds) }
    }

    /// AWS answered the AWSPENDING read `id` (nil: none, or a failure, which
    /// changes nothing: the refresh schedule reports AWS's state), with the
    /// version AWSCURRENT is at (nil: unknown, DescribeSecret denied). Stands
    /// it in for AWSCURRENT when AWSCURRENT is still the version held and it
    /// is neither that one nor rejected; true when it did. AWSCURRENT moved
    /// meanwhile (a rotation that finished while a forced read was held
    /// back): the new value is fetched at once instead.
    mutating func pendingRead(id: Int, _ pending: CacheEntry?, current: (version: String, region: String)?, at now: UnixTime,
                              _ policy: SecretPolicy) -> Bool {
        guard pendingFlight == id else { return false }
        pendingFlight = nil
        if let current, entry?.source == .aws {
            guard current.version == (displaced ?? entry)?.versionID else {
                refreshAt = now
                return false
            }
            // AWSCURRENT confirmed where it is, by the region that said so: its entry is
            // as fresh as the answer. (Confirming it in AWSPENDING's region, "" when there
            // was none, showed every failed login as "served from a failover region".)
            if displaced != nil { displaced?.confirm(at: now, in: current.region) } else { entry?.confirm(at: now, in: current.region) }
        }
        guard let pending, let current = entry, current.source == .aws, displaced == nil,
              pending.versionID != current.versionID, pending.versionID != rejectedPending else { return false }
        (displaced, entry) = (current, pending)
        refreshAt = now.adding(policy.refreshIn(recheck: true, jitter: 1))
        return true
    }

    /// A login succeeded with what was served: confirms a stand-in (once);
    /// returns its version the first time.
    mutating func loginSucceeded() -> String?? {
        guard displaced != nil, !pendingConfirmed else { return nil }
        pendingConfirmed = true
        return .some(entry?.versionID)
    }

    /// A login failed with the stand-in `version` (a rotation rolled back, a
    /// stale AWSPENDING): AWSCURRENT's value is served again, and that version
    /// is not tried again. True when a stand-in was dropped.
    /// AWSCURRENT's entry is refreshed ahead of its own TTL (the stand-in's
    /// schedule followed the stand-in's).
    mutating func loginFailed(version: String, _ policy: SecretPolicy) -> Bool {
        guard let current = displaced, entry?.versionID == version else { return false }
        rejectedPending = version
        (entry, displaced, pendingConfirmed) = (current, nil, false)
        refreshAt = min(refreshAt, current.confirmedAt.adding(policy.refreshIn(recheck: false, jitter: 0)))
        return true
    }
}
