import FoundationEssentials
import Logging
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
///
/// The client is a shell: each secret's whole life is a `SecretMachine`
/// value, all of them in one `ClientState` behind one lock. The shell feeds
/// them events (lookups, AWS answers, the clock), runs the refreshes they
/// start on threads of their own, and performs what the transitions return.
public final class SecretsClient: Sendable {
    let state: Monitor<ClientState>
    public let metrics: SecretsMetrics
    let api: SecretsRegions?
    let clock: @Sendable () -> UnixTime
    let logger: Logger

    public var configuration: SecretsConfiguration { state.withLock { $0.configuration } }

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
        self.api = aws.map { SecretsRegions(primary: $0, replicas: replicas, hedgeDelay: failoverDelay, metrics: metrics, logger: logger) }
        state = Monitor(ClientState(configuration: configuration, primaryRegion: api?.primaryRegion, environment: environment))
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        metrics.prepare(secrets: configuration.items.map(\.name))
    }

    /// Applies a reloaded configuration: TTLs and backoff at once; an item
    /// whose secret id is unchanged keeps its cached value; a new item, or
    /// one that now names another secret, is loaded in the background.
    public func reconfigure(_ configuration: SecretsConfiguration) {
        state.update { $0.reconfigure(configuration) }
        metrics.prepare(secrets: configuration.items.map(\.name))
    }

    // MARK: Lookups

    /// The secret's current value. Costs no I/O unless nothing can be
    /// served; then waits for AWS at most `maxWait` seconds (nil: until the
    /// AWS call ends, itself bounded by the client's attempt timeouts).
    public func get(_ name: String, maxWait: Double? = nil) throws(SecretsError) -> SecretValue {
        let now = clock()
        guard let lookup = state.withLock({ $0.lookup(name, at: now) }) else {
            throw SecretsError(secret: name, reason: .unknownSecret, detail: "")
        }
        metrics.lookup(hit: lookup.fresh != nil)
        if let fresh = lookup.fresh { return served(lookup.item, fresh, as: .aws) }
        start(lookup.launch)
        if let flight = lookup.wait { waitFor(name, flight: flight, until: maxWait.map { ContinuousClock.now + .seconds($0) }) }
        return try serve(lookup.item, forLogins: true)  // stale or environment: served now, revalidated in the background
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
        let deadline = maxWait.map { ContinuousClock.now + .seconds($0) }
        let now = clock()
        guard let plan = state.withLock({ $0.force(name, failedVersion: failedVersion, at: now, minimumInterval: Self.minimumForceInterval) })
        else { throw SecretsError(secret: name, reason: .unknownSecret, detail: "") }
        let (item, dropped, launched, flight) = (plan.item, plan.dropped, plan.launch, plan.wait)
        if dropped {
            logger.warning("login failed with AWSPENDING: AWSCURRENT served again",
                           metadata: ["secret": "\(name)", "version": "\(failedVersion ?? "-")"])
            stateChanged()
        }
        start(launched)
        if let flight { waitFor(name, flight: flight, until: deadline) }
        tryPending(item, until: deadline)
        return try serve(item, forLogins: true)
    }

    /// Registers `handler` to run (on a refresh thread) whenever a secret
    /// starts failing, fails for another reason, is confirmed by AWS again
    /// or serves another version: a monitor (or a long poll) can look at
    /// once instead of at its next round.
    public func onStateChange(_ handler: @escaping @Sendable () -> Void) {
        state.withLock { $0.handlers.append(handler) }
    }

    func stateChanged() { for handler in state.withLock({ $0.handlers }) { handler() } }

    /// The version logins of `name` use in place of an AWSCURRENT that
    /// lacks keys (the last well-formed one), or nil while they use AWSCURRENT.
    public func loginStandIn(_ name: String) -> String? { state.withLock { $0.secrets[name]?.loginStandIn } }

    /// What the client holds for every configured secret, values left out.
    public func statuses() -> [SecretStatus] {
        let now = clock()
        let (items, secrets, policy) = state.withLock { ($0.configuration.items, $0.secrets, $0.policy) }
        return items.map { item in
            let machine = secrets[item.name] ?? SecretMachine()
            let state = machine.state(at: now, policy)
            let entry = machine.entry
            let aws = entry?.source == .aws
            let missingKeys = aws ? entry?.missingKeys ?? [] : []
            return SecretStatus(name: item.name, secretID: item.secretID, required: item.required, state: state,
                                source: state == .stale ? .emergencyCache : state == .missing ? nil : entry?.source,
                                versionID: aws ? entry?.versionID : nil,
                                age: aws ? entry.map { now.seconds - $0.confirmedAt.seconds } : nil,
                                lastError: machine.failure?.code, failure: machine.failure?.reason,
                                refreshingFor: machine.flight.map { max(0, now.seconds - $0.since.seconds) },
                                region: aws ? entry?.region : nil,
                                fromReplica: aws && entry?.region != nil && entry?.region != policy.primaryRegion,
                                pending: aws && machine.displaced != nil, lifecycle: machine.lifecycle,
                                findings: (machine.lifecycle?.findings(now: now.seconds, rotationWindow: policy.rotationWindow,
                                                                       rotationGrace: policy.rotationGrace) ?? [])
                                    + (missingKeys.isEmpty ? [] : [.malformed]),
                                missingKeys: missingKeys, loginNeeds: !item.loginKeys.isEmpty,
                                loginVersion: machine.loginStandIn)
        }
    }

    /// Sets the cache gauges (entries, served stale) from what the client holds now.
    public func publishGauges() {
        let states = statuses()
        metrics.publish(entries: states.filter { $0.state != .missing }.count, servedStale: Self.servedStale(states))
        metrics.publish(lifecycles: states)
    }

    /// Secrets served past their TTL or from the environment (gauge and CloudWatch alike).
    public static func servedStale(_ statuses: [SecretStatus]) -> Int {
        statuses.filter { $0.state == .stale || $0.state == .fallback }.count
    }

    /// Seconds before a forced fetch is repeated for a version it already found.
    public static let minimumForceInterval = 30.0

    // MARK: Internals

    /// Serves what the cache holds, in order: fresh, emergency cache,
    /// environment fallback. `forLogins`: a malformed AWSCURRENT's last
    /// well-formed version instead (`SecretMachine.forLogins`).
    func serve(_ item: SecretsConfiguration.Item, forLogins: Bool) throws(SecretsError) -> SecretValue {
        let now = clock()
        switch state.withLock({ $0.serve(item, at: now, forLogins: forLogins) }) {
        case .fresh(let entry):
            return served(item, entry, as: .aws)
        case .stale(let entry):
            metrics.fallback(item.label, .emergencyCache)
            return served(item, entry, as: .emergencyCache)
        case .environment(let text):
            metrics.fallback(item.label, .environment)
            return SecretValue(name: item.name, secretID: item.secretID, value: SecretString(text), versionID: nil,
                               source: .environment, confirmedAt: nil)
        case .unavailable(let detail):
            metrics.unavailable(item.label)
            throw SecretsError(secret: item.name, reason: .awsError, detail: detail)
        }
    }

    private func served(_ item: SecretsConfiguration.Item, _ entry: CacheEntry, as source: SecretSource) -> SecretValue {
        SecretValue(name: item.name, secretID: item.secretID, value: entry.value, versionID: entry.versionID,
                    source: source, confirmedAt: entry.confirmedAt)
    }

    /// Waits until the refresh `flight` of `name` has ended, or `deadline`;
    /// the secret counts a reader meanwhile, so it is not evicted under it.
    func waitFor(_ name: String, flight: Int, until deadline: ContinuousClock.Instant?) {
        state.withLock { $0.secrets[name]?.readerWaits(true) }
        _ = state.wait(until: deadline) { $0.secrets[name]?.flight?.id == flight ? nil : () }
        state.withLock { $0.secrets[name]?.readerWaits(false) }
    }
}
