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

    /// AWS confirmed it again, from `region`.
    mutating func confirm(at time: UnixTime, in region: String) {
        confirmedAt = time
        self.region = region
    }
}

/// Everything the client knows about one secret: what it can serve and how
/// its AWS refreshes are going. Kept even while nothing was ever loaded, so
/// a secret that never loaded backs off like one that did.
struct SecretRecord: Sendable {
    var entry: CacheEntry?
    /// Consecutive failed AWS attempts.
    var failures = 0
    /// No AWS attempt before this time (bounded backoff while failing).
    var nextAttempt = UnixTime(seconds: 0)
    /// Why the last attempt failed (nil after a success).
    var failure: (reason: SecretsFailure, code: String)?
    /// The last failed attempt's error, for the endpoint's answer (AWS's code, status and message).
    var lastError: AWSError?
    /// A refresh has been running since then (nil when none runs).
    var refreshStarted: UnixTime?
    /// Refresh-ahead: when to renew the entry before its TTL ends (jittered once per load).
    var refreshAt = UnixTime(seconds: 0)
    /// The last forced fetch that found the version already cached (the
    /// server rejects the current value: fetching again cannot help soon).
    var uselessForce: (at: UnixTime, version: String?)?
    /// While `entry` is the AWSPENDING version (a login with AWSCURRENT
    /// failed mid-rotation): the AWSCURRENT entry it stands in for.
    var displaced: CacheEntry?
    /// A login succeeded with the AWSPENDING entry (counted once).
    var pendingConfirmed = false
    /// An AWSPENDING version a login failed with: not tried again.
    var rejectedPending: String?
    /// When AWSPENDING was last asked for (at most every `refreshNowInterval`).
    var pendingCheckedAt: UnixTime?

    func isFresh(at now: UnixTime, ttl: Double) -> Bool { freshEntry(at: now, ttl: ttl) != nil }

    /// The entry while it is fresh (AWS confirmed it within the TTL).
    func freshEntry(at now: UnixTime, ttl: Double) -> CacheEntry? {
        guard let entry, entry.source == .aws, now.seconds - entry.confirmedAt.seconds < ttl else { return nil }
        return entry
    }

    func isWithinEmergency(at now: UnixTime, limit: Double) -> Bool {
        guard let entry, entry.source == .aws else { return false }
        return now.seconds - entry.confirmedAt.seconds < limit
    }

    /// Whether a background refresh should start now.
    func wantsRefresh(at now: UnixTime) -> Bool {
        guard refreshStarted == nil, now >= nextAttempt else { return false }
        guard let entry, entry.source == .aws, failures == 0 else { return true }
        return now >= refreshAt
    }
}
