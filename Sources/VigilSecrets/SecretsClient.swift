import FoundationEssentials
import Logging
import Synchronization
import VigilAWS

/// Cached, outage-tolerant access to AWS Secrets Manager.
///
/// Order of service for a lookup: a fresh cache entry (no I/O) -> AWS
/// (a version check first when a cached value exists) -> the expired value
/// up to the emergency TTL -> the environment fallback -> `SecretsError`.
/// Concurrent misses for one secret make one AWS call. Lookups that need
/// AWS block the calling thread: call the synchronous API from your own
/// threads, or the `async` one from tasks.
public final class SecretsClient: Sendable {
    public let configuration: SecretsConfiguration
    public let metrics: SecretsMetrics
    let api: SecretsManagerAPI?
    private let environment: [String: String]
    let clock: @Sendable () -> UnixTime
    let logger: Logger
    let entries = Mutex<[String: CacheEntry]>([:])
    let flights = SingleFlight()
    /// AWS errors seen since the last `takeAWSErrorCount()` (for the secrets probe).
    let awsErrors = Atomic<Int>(0)
    let items: [String: SecretsConfiguration.Item]
    /// The AWS error code of each secret's last failed attempt (cleared on success).
    private let lastErrors = Mutex<[String: String]>([:])

    /// `aws` nil means environment fallback only (no AWS access configured).
    public init(configuration: SecretsConfiguration, aws: AWSClient?, metrics: SecretsMetrics = SecretsMetrics(registry: nil),
                environment: [String: String] = ProcessInfo.processInfo.environment,
                logger: Logger = Logger(label: "vigil.secrets"),
                clock: @escaping @Sendable () -> UnixTime = { UnixTime.now }) {
        self.configuration = configuration
        self.api = aws.map(SecretsManagerAPI.init)
        self.metrics = metrics
        self.environment = environment
        self.logger = logger
        self.clock = clock
        items = Dictionary(configuration.items.map { ($0.name, $0) }) { first, _ in first }
    }

    // MARK: Lookups

    /// The secret's current value. Costs no I/O when the cache is fresh.
    public func get(_ name: String) throws(SecretsError) -> SecretValue {
        guard let item = items[name] else { throw SecretsError(secret: name, reason: .unknownSecret, detail: "") }
        let now = clock()
        let entry = entries.withLock { $0[name] }
        if let entry, entry.isFresh(at: now, ttl: configuration.ttl) {
            metrics.lookup(hit: true)
            return served(item, entry, as: .aws)
        }
        metrics.lookup(hit: false)
        if entry == nil || now >= entry!.nextAttempt {
            flights.run(name) { refresh(item, force: false) }
        }
        return try serve(item)
    }

    public func get(_ name: String) async throws(SecretsError) -> SecretValue {
        try await BlockingQueue.run { () throws(SecretsError) in try self.get(name) }
    }

    /// Fetches the value again, skipping the version check: for callers whose
    /// login just failed with the cached password (a rotation in progress).
    @discardableResult
    public func forceRefresh(_ name: String) throws(SecretsError) -> SecretValue {
        guard let item = items[name] else { throw SecretsError(secret: name, reason: .unknownSecret, detail: "") }
        flights.run(name) { refresh(item, force: true) }
        return try serve(item)
    }

    /// What the client holds for every configured secret, values left out.
    public func statuses() -> [SecretStatus] {
        let now = clock()
        let snapshot = entries.withLock { $0 }
        let errors = lastErrors.withLock { $0 }
        return configuration.items.map { item in
            guard let entry = snapshot[item.name] else {
                return SecretStatus(name: item.name, secretID: item.secretID, required: item.required, state: .missing,
                                    source: nil, versionID: nil, age: nil, lastError: errors[item.name])
            }
            let state: SecretState = entry.source == .environment ? .fallback
                : entry.isFresh(at: now, ttl: configuration.ttl) ? .fresh
                : entry.isWithinEmergency(at: now, limit: configuration.emergencyTTL) ? .stale : .missing
            return SecretStatus(name: item.name, secretID: item.secretID, required: item.required, state: state,
                                source: state == .stale ? .emergencyCache : entry.source, versionID: entry.versionID,
                                age: entry.source == .aws ? now.seconds - entry.confirmedAt.seconds : nil,
                                lastError: errors[item.name])
        }
    }

    /// AWS errors since the previous call.
    public func takeAWSErrorCount() -> Int { awsErrors.exchange(0, ordering: .relaxed) }

    public func publishGauges() {
        let states = statuses()
        metrics.publish(entries: entries.withLock { $0.count },
                        servedStale: states.filter { $0.state == .stale || $0.state == .fallback }.count,
                        hitRatio: metrics.hitRatioSinceLastCall())
    }

    // MARK: Internals

    /// Serves what the cache holds after a refresh attempt, in order:
    /// fresh, emergency cache, environment fallback.
    private func serve(_ item: SecretsConfiguration.Item) throws(SecretsError) -> SecretValue {
        let now = clock()
        let entry = entries.withLock { $0[item.name] }
        if let entry, entry.isFresh(at: now, ttl: configuration.ttl) { return served(item, entry, as: .aws) }
        if let entry, entry.isWithinEmergency(at: now, limit: configuration.emergencyTTL) {
            metrics.fallback(item.name, .emergencyCache)
            return served(item, entry, as: .emergencyCache)
        }
        if let variable = item.fallbackVariable, let text = environment[variable], !text.isEmpty {
            metrics.fallback(item.name, .environment)
            entries.withLock { entries in
                guard entries[item.name]?.source != .environment else { return }
                // The environment takes over from an expired AWS entry (keeping its backoff), or
                // from nothing, AWS having just failed: next attempt after the first backoff step.
                let expired = entries[item.name]
                entries[item.name] = CacheEntry(value: SecretString(text), source: .environment, confirmedAt: now,
                                                failures: expired?.failures ?? 1,
                                                nextAttempt: expired?.nextAttempt ?? now.adding(backoff(1)))
            }
            return SecretValue(name: item.name, secretID: item.secretID, value: SecretString(text), versionID: nil,
                               source: .environment, confirmedAt: nil)
        }
        metrics.unavailable(item.name)
        let code = lastErrors.withLock { $0[item.name] } ?? (api == nil ? "no AWS access configured" : "no answer yet")
        throw SecretsError(secret: item.name, reason: .awsError, detail: code)
    }

    private func served(_ item: SecretsConfiguration.Item, _ entry: CacheEntry, as source: SecretSource) -> SecretValue {
        SecretValue(name: item.name, secretID: item.secretID, value: entry.value, versionID: entry.versionID,
                    source: source, confirmedAt: entry.confirmedAt)
    }

    /// One AWS round for a secret: a version check when a value is cached
    /// (and not forced), the value only when the version moved.
    func refresh(_ item: SecretsConfiguration.Item, force: Bool) {
        guard let api else { return }
        let cached = entries.withLock { $0[item.name] }
        do throws(AWSError) {
            if !force, let cached, cached.source == .aws, let version = cached.versionID,
               try api.currentVersion(item.secretID) == version {
                record(item, value: cached.value, version: version, rotated: false)
                return
            }
            let fetched = try api.getSecretValue(item.secretID)
            let rotated = cached?.source == .aws && cached?.versionID != nil && cached?.versionID != fetched.versionID
            record(item, value: SecretString(fetched.value), version: fetched.versionID, rotated: rotated)
        } catch {
            failed(item, error)
        }
    }

    func record(_ item: SecretsConfiguration.Item, value: SecretString, version: String?, rotated: Bool) {
        let now = clock()
        let recovered = entries.withLock { entries -> Bool in
            let wasFailing = (entries[item.name]?.failures ?? 0) > 0 || entries[item.name]?.source == .environment
            entries[item.name] = CacheEntry(value: value, versionID: version, source: .aws, confirmedAt: now, nextAttempt: now)
            return wasFailing
        }
        lastErrors.withLock { $0[item.name] = nil }
        metrics.succeeded(item.name, at: now)
        if rotated {
            metrics.rotated(item.name)
            logger.info("secret rotated", metadata: ["secret": "\(item.name)", "version": "\(version ?? "-")"])
        }
        if recovered { logger.info("secret served from AWS again", metadata: ["secret": "\(item.name)"]) }
    }

    func failed(_ item: SecretsConfiguration.Item, _ error: AWSError) {
        awsErrors.add(1, ordering: .relaxed)
        let now = clock()
        lastErrors.withLock { $0[item.name] = error.code }
        let failures = entries.withLock { entries -> Int in
            guard var entry = entries[item.name] else { return 1 }
            entry.failures += 1
            entry.nextAttempt = now.adding(backoff(entry.failures))
            entries[item.name] = entry
            return entry.failures
        }
        if failures == 1 {
            logger.warning("cannot refresh secret from AWS", metadata: [
                "secret": "\(item.name)", "code": "\(error.metricCode)", "kind": "\(error.kind.rawValue)"])
        }
    }

    /// Seconds to wait after `failures` consecutive failures: 1, 2, 4, ... up to `maxBackoff`.
    private func backoff(_ failures: Int) -> Double {
        min(configuration.maxBackoff, Double(1 << min(max(0, failures - 1), 30)))
    }
}
