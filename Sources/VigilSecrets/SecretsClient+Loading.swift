import VigilAWS
import VigilPlatform

/// Loading and refreshing: what runs in the background so that lookups
/// find fresh entries.
extension SecretsClient {
    /// Loads every configured secret in as few calls as possible:
    /// BatchGetSecretValue by 20, falling back to parallel GetSecretValue
    /// when batch is denied or unknown. Waits at most `maxWait` seconds (the
    /// calls go on in the background past it). Returns the seconds it took.
    @discardableResult
    public func preload(maxWait: Double? = nil) -> Double {
        let started = ContinuousClock.now
        let now = clock()
        let items = configuration.items
        let deadline = maxWait.map { started + .seconds($0) }
        for launch in loadInBatches(items, at: now) { waitFor(launch.item.name, flight: launch.id, until: deadline) }
        let seconds = started.duration(to: .now).timeInterval
        metrics.startup(seconds: seconds)
        publishGauges()
        logger.info("secrets loaded", metadata: ["count": "\(items.count)", "seconds": "\(seconds.decimalString(digits: 3))"])
        return seconds
    }

    /// Claims a refresh of each of `items` not already under way and loads
    /// them with one BatchGetSecretValue per 20, each batch on a thread of
    /// its own; returns the claims, for waiting on.
    func loadInBatches(_ items: [SecretsConfiguration.Item], at now: UnixTime) -> [Launch] {
        guard let api, !items.isEmpty else { return [] }
        let chunks = stride(from: 0, to: items.count, by: 20).map { Array(items[$0..<min($0 + 20, items.count)]) }
        let claims = state.withLock { state in
            chunks.map { chunk in chunk.compactMap { state.launch($0, forced: false, at: now) } }
        }
        for claimed in claims where !claimed.isEmpty {
            let running = startDetachedThread(name: "secret-refresh") { [self] in
                preloadChunk(claimed, regions: api)
            }
            if !running { refused(claimed) }
        }
        return Array(claims.joined())
    }

    /// One tick of the schedule: drops entries past the emergency TTL and
    /// starts the refreshes due (entries within `refreshAhead` of their TTL,
    /// jittered; stale or environment entries and secrets never loaded, each
    /// past its backoff). `wait`: return only when those refreshes ended.
    /// Returns the seconds until the next refresh is due.
    @discardableResult
    public func refreshDue(wait: Bool = true) -> Double {
        let now = clock()
        let (launches, next) = state.withLock { $0.tick(at: now) }
        for launch in launches { start(launch) }
        if wait { for launch in launches { waitFor(launch.item.name, flight: launch.id, until: nil) } }
        publishGauges()
        return next
    }

    /// Starts the client's own schedule on a thread of its own: refresh-ahead,
    /// retries with backoff, the cache gauges and the hit-ratio window, whatever
    /// the probes are set to. Idempotent.
    public func startRefreshing() {
        guard state.withLock({ state in defer { state.scheduling = true }; return !state.scheduling }) else { return }
        startDetachedThread(name: "secrets-refresh") { [self] in
            var windowStart = ContinuousClock.now
            while !state.withLock({ $0.stopped }) {
                let next = refreshDue(wait: false)
                if ContinuousClock.now - windowStart >= .seconds(SecretsMetrics.hitRatioWindow) {
                    metrics.closeHitRatioWindow()
                    windowStart = .now
                }
                // Wake when the next refresh is due, when a refresh ends, and at
                // least every 15 s (gauges follow TTL expiries without a refresh).
                let deadline = ContinuousClock.now + .seconds(min(max(next, 0.05), 15))
                _ = state.wait(until: deadline) { state -> Void? in
                    guard state.poked || state.stopped else { return nil }
                    state.poked = false
                    return ()
                }
            }
        }
    }

    /// Waits until the refreshes running now have ended, at most `timeout`
    /// seconds (nil: no limit); true if they all ended. For shutdown and tests.
    @discardableResult
    public func waitForRefreshes(timeout: Double? = nil) -> Bool {
        let deadline = timeout.map { ContinuousClock.now + .seconds($0) }
        return state.wait(until: deadline) { state in
            state.secrets.values.allSatisfy { $0.flight == nil && $0.pendingFlight == nil } ? () : nil
        } != nil
    }

    /// Ends the background schedule (refreshes in flight finish on their own).
    public func stopRefreshing() { state.update { $0.stopped = true } }

    /// Starts `launch` (if any) on a thread of its own: one AWS round, then
    /// the flight ends whatever happened.
    func start(_ launch: Launch?) {
        guard let launch else { return }
        let running = startDetachedThread(name: "secret-refresh") { [self] in
            refresh(launch.item, force: launch.forced)
            end([launch])
        }
        if !running { refused([launch]) }
    }

    /// The refreshes `launches` are over, their effects performed: their
    /// readers may look, and the schedule takes the next due time.
    private func end(_ launches: [Launch]) {
        state.update { state in
            for launch in launches { state.secrets[launch.item.name]?.ended(id: launch.id) }
            state.poked = true
        }
    }

    /// The system refused threads for `launches` (a pids cgroup, `TasksMax`):
    /// they end at once, and the schedule tries again shortly.
    func refused(_ launches: [Launch]) {
        let now = clock()
        state.update { state in
            for launch in launches { state.secrets[launch.item.name]?.threadRefused(id: launch.id, at: now) }
            state.poked = true
        }
        logger.warning("no thread for a secret refresh; trying again shortly",
                       metadata: ["secrets": "\(launches.map(\.item.name).joined(separator: ","))"])
    }

    /// One AWS round for a secret: a version check when a value is cached
    /// (and not forced), the value only when the version moved (the machine
    /// weighs each answer against what it holds by then).
    func refresh(_ item: SecretsConfiguration.Item, force: Bool) {
        guard let regions = self.api else { return }
        let (checksVersion, failing) = state.withLock { $0.refreshPlan(item, forced: force) }
        if case .parameterStore(let decrypt) = item.store {
            // One call says all: no version check, no replica (parameters are regional).
            do throws(AWSError) {
                let fetched = try ParameterStoreAPI(aws: regions.apis[0].aws)
                    .getParameter(item.secretID, version: item.versionID, label: item.versionStage, decrypt: decrypt)
                return record(item, fetched, region: regions.primaryRegion, forced: force)
            } catch {
                return failed(item, error)
            }
        }
        do throws(AWSError) {
            if checksVersion, let described = try describe(item, regions: regions, failing: failing) {
                if let version = described.value.version(item.versionStage ?? "AWSCURRENT"), settle(item, { machine, now, policy, jitter, _ in
                    machine.confirmed(current: version, region: described.region, at: now, policy, jitter: jitter)
                }) != nil {
                    return
                }
            }
            let fetched = try regions.read(failing: failing) { api throws(AWSError) in
                try api.getSecretValue(item.secretID, versionID: item.versionID, stage: item.versionStage, binary: item.isRead)
            }
            record(item, fetched.value, region: fetched.region, forced: force)
        } catch {
            failed(item, error)
        }
    }

    /// Describes every configured secret now (one DescribeSecret each), for
    /// a command that shows findings before any refresh cycle has run
    /// (`vigil secrets list`); the service learns them from its version checks.
    public func describeItems() {
        guard let regions = self.api else { return }
        for item in state.withLock({ $0.configuration.items }) { _ = try? describe(item, regions: regions, failing: false) }
    }

    /// DescribeSecret: the version the item's stage (AWSCURRENT) points at,
    /// and the secret's life, which the machine keeps; nil (so the value is
    /// fetched) once DescribeSecret is denied.
    @discardableResult
    private func describe(_ item: SecretsConfiguration.Item, regions: SecretsRegions,
                          failing: Bool) throws(AWSError) -> SecretsRegions.Answer<SecretsManagerAPI.Description>? {
        do throws(AWSError) {
            let answer = try regions.read(failing: failing) { api throws(AWSError) in try api.describe(item.secretID) }
            let now = clock()
            state.withLock { $0.secrets[item.name]?.described(answer.value.lifecycle, pending: answer.value.pendingVersion, at: now) }
            return answer
        } catch where SecretsFailure(error) == .accessDenied {
            // One application secret whose policy lacks DescribeSecret says nothing of the items'.
            if item.isRead { return nil }
            if state.withLock({ state in defer { state.describeAllowed = false }; return state.describeAllowed }) {
                logger.notice("DescribeSecret denied; checking versions with GetSecretValue instead",
                              metadata: ["secret": "\(item.name)", "code": "\(error.metricCode)"])
            }
            return nil
        }
    }

    /// Records a value AWS served for the item's stage, judged by the keys
    /// the item requires now (a reload during the fetch may have changed them).
    private func record(_ item: SecretsConfiguration.Item, _ fetched: SecretsManagerAPI.Fetched, region: String, forced: Bool) {
        settle(item) { machine, now, policy, jitter, keys in
            machine.fetched(CacheEntry(fetched, region: region, at: now, requiredKeys: keys), forced: forced, at: now,
                            policy, jitter: jitter)
        }
    }

    /// Applies a successful read's transition (nil: nothing to apply) under
    /// the lock, then its effects: the success counted, a rotation counted
    /// and logged, the names AWS gave learnt, monitors told of a recovery.
    @discardableResult
    private func settle(_ item: SecretsConfiguration.Item,
                        _ transition: (inout SecretMachine, UnixTime, SecretPolicy, Double, _ keys: [String]) -> SecretMachine.Settled?)
        -> SecretMachine.Settled? {
        let now = clock()
        let jitter = Double.random(in: 0..<1)
        let outcome = state.update { state -> (SecretMachine.Settled, region: String?)? in
            let keys = state.items[item.name]?.checkedKeys ?? item.checkedKeys
            guard var machine = state.secrets[item.name], let settled = transition(&machine, now, state.policy, jitter, keys) else {
                return nil
            }
            state.secrets[item.name] = machine
            if let document = settled.document { state.reads.learnAliases(of: item, document) }
            return (settled, machine.entry?.region)
        }
        guard let (settled, region) = outcome else { return nil }
        // Shown: the wall clock's time. Not for reads by id: the alerts on it are about configured items.
        if !item.isRead { metrics.succeeded(item.label, at: UnixTime.now) }
        if settled.rotated {
            metrics.rotated(item.label)
            logger.info("secret rotated", metadata: ["secret": "\(item.name)", "version": "\(settled.document?.versionID ?? "-")"])
        }
        if settled.changed {
            logger.info("secret served from AWS", metadata: ["secret": "\(item.name)", "region": "\(region ?? "-")"])
        }
        // Another version served: the endpoint's long polls on it are answered now.
        if settled.changed || settled.rotated { stateChanged() }
        return settled
    }

    func failed(_ item: SecretsConfiguration.Item, _ error: AWSError) {
        let now = clock()
        let jitter = Double.random(in: 0..<1)
        let reason = SecretsFailure(error)
        let previous = state.update { state -> SecretsFailure?? in
            guard state.secrets[item.name] != nil else { return nil }
            return .some(state.secrets[item.name]?.failed(error, at: now, state.policy, jitter: jitter))
        }
        guard let previous else { return }
        metrics.refreshFailed(item.label, reason)
        if previous != reason {
            logger.warning("cannot refresh secret from AWS", metadata: [
                "secret": "\(item.name)", "reason": "\(reason.rawValue)", "code": "\(error.metricCode)"])
            stateChanged()
        }
    }

    /// One BatchGetSecretValue for up to 20 secrets, each claimed as a
    /// refresh (`claimed`; each ends when its answer or failure is recorded,
    /// or when its own GetSecretValue does). If the call itself is refused
    /// (denied by policy, or unknown to an older endpoint) or still
    /// throttled after the AWS client's retries, each secret is fetched with
    /// GetSecretValue, in parallel: BatchGetSecretValue has 100 calls a
    /// second per region, GetSecretValue and DescribeSecret 10,000, so a
    /// fleet starting at once (docs/cost.md) loads its secrets instead of
    /// waiting out a backoff without them.
    private func preloadChunk(_ claimed: [Launch], regions: SecretsRegions) {
        do throws(AWSError) {
            let ids = claimed.map(\.item.secretID)
            let answer = try regions.read(failing: false) { api throws(AWSError) in try api.batchGetSecretValue(ids) }
            let result = answer.value
            var unanswered: [Launch] = []
            for launch in claimed {
                let item = launch.item
                if let fetched = result.values.first(where: { $0.id == item.secretID }) {
                    record(item, fetched, region: answer.region, forced: false)
                } else if answer.region == regions.primaryRegion, let code = result.errors.first(where: { $0.id == item.secretID })?.code {
                    failed(item, AWSError(code: AWSError.normalize(code), message: "", kind: .client))
                } else {
                    // A binary secret, a partial ARN, or an error from a replica (which may lack
                    // that secret): asked for alone, the primary first.
                    unanswered.append(launch)
                }
            }
            end(claimed.filter { launch in !unanswered.contains { $0.id == launch.id } })
            for launch in unanswered { start(Launch(item: launch.item, id: launch.id, forced: true)) }
        } catch where error.kind == .client || error.kind == .throttling {
            logger.info("BatchGetSecretValue refused, loading one by one", metadata: ["code": "\(error.metricCode)"])
            for launch in claimed { start(Launch(item: launch.item, id: launch.id, forced: true)) }
        } catch {
            for launch in claimed { failed(launch.item, error) }
            end(claimed)
        }
    }
}
