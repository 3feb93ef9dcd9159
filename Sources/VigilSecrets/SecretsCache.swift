import VigilAWS

/// One cached secret.
struct CacheEntry: Sendable {
    var value: SecretString
    var versionID: String?
    var source: SecretSource
    /// When AWS last confirmed the value (fetch or version check).
    var confirmedAt: UnixTime
    /// Consecutive failed AWS attempts.
    var failures = 0
    /// No AWS attempt before this time (bounded backoff while failing).
    var nextAttempt: UnixTime

    func isFresh(at now: UnixTime, ttl: Double) -> Bool {
        source == .aws && failures == 0 && now.seconds - confirmedAt.seconds < ttl
    }

    func isWithinEmergency(at now: UnixTime, limit: Double) -> Bool {
        source == .aws && now.seconds - confirmedAt.seconds < limit
    }
}
