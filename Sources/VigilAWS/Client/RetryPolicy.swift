import Glibc
import VigilPlatform

/// The SDKs' "standard" retry mode: up to `maxAttempts` attempts, full
/// jitter exponential backoff (`rand(0,1) * min(base * 2^(n-1), 20 s)`), and
/// a shared retry quota so an outage does not turn into a retry storm: each
/// retry spends 5 tokens (10 after a timeout), a success gives some back,
/// and with the bucket empty no more retries are made.
public final class RetryPolicy: Sendable {
    public let maxAttempts: Int
    public let baseDelay: Double
    public let maxBackoff: Double
    public let quotaCapacity: Int
    private let tokens: Locked<Int>
    /// How the policy waits; tests pass one that records instead of sleeping.
    let sleep: @Sendable (Double) -> Void

    static let retryCost = 5
    static let timeoutCost = 10
    static let noRetryIncrement = 1

    public init(maxAttempts: Int = 3, baseDelay: Double = 1, maxBackoff: Double = 20, quota: Int = 500,
                sleep: @escaping @Sendable (Double) -> Void = { seconds in
                    if seconds > 0 { usleepSeconds(seconds) }
                }) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxBackoff = maxBackoff
        self.quotaCapacity = quota
        self.tokens = Locked(quota)
        self.sleep = sleep
    }

    /// The same settings with a quota of its own: each service gets one, so
    /// a CloudWatch outage cannot drain the retries Secrets Manager needs.
    func withOwnQuota() -> RetryPolicy {
        RetryPolicy(maxAttempts: maxAttempts, baseDelay: baseDelay, maxBackoff: maxBackoff, quota: quotaCapacity, sleep: sleep)
    }

    /// `AWS_MAX_ATTEMPTS` when set to a positive number, else 3.
    public static func maxAttempts(from environment: [String: String]) -> Int {
        environment["AWS_MAX_ATTEMPTS"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil } ?? 3
    }

    /// Tokens left in the retry quota.
    public var availableTokens: Int { tokens.withLock { $0 } }

    /// Decides about a retry after `attempt` (1-based) failed with `error`:
    /// returns the delay to wait, or nil to give up. Takes the quota's tokens.
    func retryDelay(after attempt: Int, error: AWSError) -> Double? {
        guard error.isRetryable, attempt < maxAttempts else { return nil }
        let cost = error.kind == .timeout ? Self.timeoutCost : Self.retryCost
        let granted = tokens.withLock { tokens -> Bool in
            guard tokens >= cost else { return false }
            tokens -= cost
            return true
        }
        guard granted else { return nil }
        return Double.random(in: 0...1) * min(baseDelay * Double(1 << min(attempt - 1, 30)), maxBackoff)
    }

    /// Called after a success: refunds the last retry's cost, or a little
    /// when no retry was needed.
    func recordSuccess(attempts: Int, lastErrorKind: AWSError.Kind?) {
        let refund = attempts > 1 ? (lastErrorKind == .timeout ? Self.timeoutCost : Self.retryCost) : Self.noRetryIncrement
        tokens.withLock { $0 = min(quotaCapacity, $0 + refund) }
    }
}

/// Sleeps the calling thread (retry backoff runs on transport threads, never on Swift's cooperative pool).
public func usleepSeconds(_ seconds: Double) {
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 { request = remaining }
}
