import FoundationEssentials
import Logging
import Synchronization
import VigilAWS
import VigilPlatform

/// Cached, outage-tolerant access to AWS Secrets Manager.
///
/// Order of service for a lookup: a fresh cache entry -> the expired value
/// up to the emergency TTL -> the environment fallback, each at once, with
/// any AWS refresh running in the background (stale-while-revalidate). Only
/// a cold miss (nothing to serve) waits for AWS, and no longer than the
/// caller allows. Concurrent misses for one secret make one AWS call.
/// `startRefreshing()` keeps entries fresh ahead of their TTL, so lookups
/// in steady state never see AWS.
public final class SecretsClient: Sendable {
    /// The configuration and its items by name, replaced together on reload.
    let settings: Locked<(configuration: SecretsConfiguration, items: [String: SecretsConfiguration.Item])>
    public var configuration: SecretsConfiguration { settings.withLock { $0.configuration } }
    var items: [String: SecretsConfiguration.Item] { settings.withLock { $0.items } }
    public let metrics: SecretsMetrics
    let api: SecretsRegions?
    private let environment: [String: String]
    let clock: @Sendable () -> UnixTime
    let logger: Logger
    let records: Locked<[String: SecretRecord]>
    let flights = SingleFlight()
    /// Cleared after DescribeSecret is denied: version checks then use GetSecretValue
    /// (a GetSecretValue-only policy is common and must not leave secrets stale).
    let describeAllowed = Atomic<Bool>(true)
    let refresher = Refresher()
    /// Secrets read by id (the endpoint) that are not configured items.
    let reads = Locked(ReadTable())
    /// Called when a secret starts failing, changes failure class, or recovers.
    let stateHandlers = Locked<[@Sendable () -> Void]>([])

    /// `aws` nil means environment fallback only (no AWS access configured).
    /// `replicas`: clients of the regions holding replicas, tried in order
    /// when `aws`'s region fails (`SecretsRegions`), asked `failoverDelay`
    /// seconds into a read the primary has not answered.
    /// `clock` drives TTLs, refresh-ahead, retries and ages; by default
    /// `UnixTime.steady`, which NTP steps do not move (`SecretValue.confirmedAt`
    /// is on it too).
    public init(configuration: SecretsConfiguration, aws: AWSClient?, replicas: [AWSClient] = [], failoverDelay: Double = 1,
                metrics: SecretsMetrics = SecretsMetrics(registry: nil),
                environment: [String: String] = ProcessInfo.processInfo.environment,
                logger: Logger = Logger(label: "vigil.secrets"),
                clock: @escaping @Sendable () -> UnixTime = { UnixTime.steady }) {
        let items = Self.byName(configuration.items)
        settings = Locked((configuration, items))
        self.api = aws.map { SecretsRegions(primary: $0, replicas: replicas, hedgeDelay: failoverDelay, metrics: metrics, logger: logger) }
        self.metrics = metrics
        self.environment = environment
        self.logger = logger
        self.clock = clock
        records = Locked(items.mapValues { _ in SecretRecord() })
        metrics.prepare(secrets: configuration.items.map(\.name))
    }

    private static func byName(_ items: [SecretsConfiguration.Item]) -> [String: SecretsConfiguration.Item] {
        Dictionary(items.map { ($0.name, $0) }) { first, _ in first }
    }

    /// Applies a reloaded configuration: TTLs and backoff at once; an item
    /// whose secret id is unchanged keeps its cached value; a new item, or
    /// one that now names another secret, is loaded in the background.
    public func reconfigure(_ configuration: SecretsConfiguration) {
        let items = Self.byName(configuration.items)
        let previous = settings.withLock { settings in
            defer { settings = (configuration, items) }
            return settings.items
        }
        forgetAliases(to: Set(previous.keys.filter { items[$0]?.secretID != previous[$0]?.secretID }))
        let read = reads.withLock { Set($0.entries.keys) }
        records.withLock { records in
            for (name, item) in items where previous[name]?.secretID != item.secretID { records[name] = SecretRecord() }
            for name in records.keys where items[name] == nil && !read.contains(name) { records.removeValue(forKey: name) }
        }
        metrics.prepare(secrets: configuration.items.map(\.name))
        refresher.poke()
    }

    // MARK: Lookups

    /// The secret's current value. Costs no I/O unless nothing can be
    /// served; then waits for AWS at most `maxWait` seconds (nil: until the
    /// AWS call ends, itself bounded by the client's attempt timeouts).
    public func get(_ name: String, maxWait: Double? = nil) throws(SecretsError) -> SecretValue {
        let (configuration, item) = settings.withLock { ($0.configuration, $0.items[name]) }
        guard let item else { throw SecretsError(secret: name, reason: .unknownSecret, detail: "") }
        let now = clock()
        let record = records.withLock { $0[name] } ?? SecretRecord()
        if let entry = record.entry, record.isFresh(at: now, ttl: configuration.ttl) {
            metrics.lookup(hit: true)
            return served(item, entry, as: .aws)
        }
        metrics.lookup(hit: false)
        let kicked = record.wantsRefresh(at: now) ? launchRefresh(item, force: false) : nil
        if record.isWithinEmergency(at: now, limit: configuration.emergencyTTL) || hasEnvironmentValue(item, record) {
            return try serve(item)  // stale or environment: served now, revalidated in the background
        }
        (kicked ?? flights.running(name))?.wait(until: maxWait.map { ContinuousClock.now + .seconds($0) })
        return try serve(item)
    }

    public func get(_ name: String, maxWait: Double? = nil) async throws(SecretsError) -> SecretValue {
        try await BlockingQueue.run { () throws(SecretsError) in try self.get(name, maxWait: maxWait) }
    }

    /// Fetches the value again, skipping the version check: for callers whose
    /// login just failed with the cached password (a rotation in progress).
    /// Respects the backoff of a failing secret; after a forced fetch found
    /// nothing new, forces again only once the version moved or
    /// `minimumForceInterval` passed: a server that keeps rejecting the
    /// current password costs no AWS call per probe run.
    /// When AWSCURRENT has not moved, the AWSPENDING version (if any) is
    /// served next: a single-user rotation changes the password before it
    /// moves AWSCURRENT (`SecretsClient+Rotation.swift`); `failedVersion`,
    /// the version the failed login used, drops such a stand-in when it is
    /// that one. Waits at most `maxWait`.
    @discardableResult
    public func forceRefresh(_ name: String, maxWait: Double? = nil, failedVersion: String? = nil) throws(SecretsError) -> SecretValue {
        guard let item = items[name] else { throw SecretsError(secret: name, reason: .unknownSecret, detail: "") }
        let deadline = maxWait.map { ContinuousClock.now + .seconds($0) }
        let now = clock()
        if let failedVersion { dropPending(item, version: failedVersion) }
        let allowed = records.withLock { records -> Bool in
            let record = records[name] ?? SecretRecord()
            if record.refreshStarted != nil { return true }
            guard now >= record.nextAttempt else { return false }
            guard let useless = record.uselessForce, useless.version == record.entry?.versionID else { return true }
            return now.seconds - useless.at.seconds >= Self.minimumForceInterval
        }
        if allowed { launchRefresh(item, force: true)?.wait(until: deadline) }
        tryPending(item, until: deadline)
        return try serve(item)
    }

    /// Registers `handler` to run (on a refresh thread) whenever a secret
    /// starts failing, fails for another reason, or is confirmed by AWS again:
    /// a monitor can look at once instead of at its next round.
    public func onStateChange(_ handler: @escaping @Sendable () -> Void) {
        stateHandlers.withLock { $0.append(handler) }
    }

    func stateChanged() { for handler in stateHandlers.withLock({ $0 }) { handler() } }

    /// What the client holds for every configured secret, values left out.
    public func statuses() -> [SecretStatus] {
        let configuration = self.configuration
        let now = clock()
        let snapshot = records.withLock { $0 }
        return configuration.items.map { item in
            let record = snapshot[item.name] ?? SecretRecord()
            let state: SecretState =
                if record.entry?.source == .environment { .fallback }
                else if record.isFresh(at: now, ttl: configuration.ttl) { .fresh }
                else if record.isWithinEmergency(at: now, limit: configuration.emergencyTTL) { .stale }
                else { .missing }
            let aws = record.entry?.source == .aws
            return SecretStatus(name: item.name, secretID: item.secretID, required: item.required, state: state,
                                source: state == .stale ? .emergencyCache : state == .missing ? nil : record.entry?.source,
                                versionID: aws ? record.entry?.versionID : nil,
                                age: aws ? record.entry.map { now.seconds - $0.confirmedAt.seconds } : nil,
                                lastError: record.failure?.code, failure: record.failure?.reason,
                                refreshingFor: record.refreshStarted.map { max(0, now.seconds - $0.seconds) },
                                region: aws ? record.entry?.region : nil,
                                fromReplica: aws && record.entry?.region != nil && record.entry?.region != api?.primaryRegion,
                                pending: aws && record.displaced != nil)
        }
    }

    /// Sets the cache gauges (entries, served stale) from what the client holds now.
    public func publishGauges() {
        let states = statuses()
        metrics.publish(entries: states.filter { $0.state != .missing }.count, servedStale: Self.servedStale(states))
    }

    /// Secrets served past their TTL or from the environment (gauge and CloudWatch alike).
    public static func servedStale(_ statuses: [SecretStatus]) -> Int {
        statuses.filter { $0.state == .stale || $0.state == .fallback }.count
    }

    /// Seconds before a forced fetch is repeated for a version it already found.
    public static let minimumForceInterval = 30.0

    // MARK: Internals

    /// The environment is a fallback: it serves at once only after AWS failed
    /// for this secret, or once it has been served (a first lookup that
    /// waited out `maxWait` on a hung refresh); on a first lookup AWS is asked.
    private func hasEnvironmentValue(_ item: SecretsConfiguration.Item, _ record: SecretRecord) -> Bool {
        if record.entry?.source == .environment { return true }
        return (record.failures > 0 || api == nil) && item.fallbackVariable.map { environment[$0]?.isEmpty == false } == true
    }

    /// Serves what the cache holds, in order: fresh, emergency cache,
    /// environment fallback.
    func serve(_ item: SecretsConfiguration.Item) throws(SecretsError) -> SecretValue {
        let configuration = self.configuration
        let now = clock()
        let record = records.withLock { $0[item.name] } ?? SecretRecord()
        if let entry = record.entry, record.isFresh(at: now, ttl: configuration.ttl) { return served(item, entry, as: .aws) }
        if let entry = record.entry, record.isWithinEmergency(at: now, limit: configuration.emergencyTTL) {
            metrics.fallback(item.label, .emergencyCache)
            return served(item, entry, as: .emergencyCache)
        }
        if let variable = item.fallbackVariable, let text = environment[variable], !text.isEmpty {
            metrics.fallback(item.label, .environment)
            records.withLock { records in
                guard records[item.name]?.entry?.source != .environment else { return }
                records[item.name, default: SecretRecord()].entry = CacheEntry(
                    value: SecretString(text), versionID: nil, source: .environment, confirmedAt: now)
            }
            return SecretValue(name: item.name, secretID: item.secretID, value: SecretString(text), versionID: nil,
                               source: .environment, confirmedAt: nil)
        }
        metrics.unavailable(item.label)
        let detail = record.failure.map { "\($0.code) (\($0.reason.rawValue))" }
            ?? (api == nil ? "no AWS access configured" : record.refreshStarted != nil ? "no answer yet" : "not loaded")
        throw SecretsError(secret: item.name, reason: .awsError, detail: detail)
    }

    private func served(_ item: SecretsConfiguration.Item, _ entry: CacheEntry, as source: SecretSource) -> SecretValue {
        SecretValue(name: item.name, secretID: item.secretID, value: entry.value, versionID: entry.versionID,
                    source: source, confirmedAt: entry.confirmedAt)
    }
}
