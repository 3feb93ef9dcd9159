import Synchronization
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
        let pending = configuration.items
        if let api, !pending.isEmpty {
            let chunks = stride(from: 0, to: pending.count, by: 20).map { Array(pending[$0..<min($0 + 20, pending.count)]) }
            let deadline = maxWait.map { started + .seconds($0) }
            let runs = chunks.map { chunk in
                flights.launch(batch: chunk.map(\.name), started: { markRefreshing(chunk, only: $0) }) { [self] claimed in
                    preloadChunk(chunk.filter { claimed.contains($0.name) }, regions: api)
                    refresher.poke()
                }
            }
            for run in runs { run.wait(until: deadline) }
        }
        let seconds = started.duration(to: .now).timeInterval
        metrics.startup(seconds: seconds)
        publishGauges()
        logger.info("secrets loaded", metadata: ["count": "\(pending.count)", "seconds": "\(seconds.decimalString(digits: 3))"])
        return seconds
    }

    /// Starts refreshes for the secrets that need one: entries within
    /// `refreshAhead` of their TTL (jittered), stale or environment entries
    /// and secrets never loaded, each past its backoff. Drops entries past
    /// the emergency TTL. `wait`: return only when those refreshes ended.
    /// Returns the seconds until the next refresh is due.
    @discardableResult
    public func refreshDue(wait: Bool = true) -> Double {
        let now = clock()
        let (configuration, items) = (self.configuration, refreshedItems(at: now))
        let due = records.withLock { records -> [SecretsConfiguration.Item] in
            for (name, record) in records where record.entry?.source == .aws
                && !record.isWithinEmergency(at: now, limit: configuration.emergencyTTL) {
                records[name]?.entry = nil  // past the emergency TTL a value is never served again
            }
            return records.compactMap { name, record in record.wantsRefresh(at: now) ? items[name] : nil }
        }
        let launched = due.compactMap { launchRefresh($0, force: false) }
        if wait { for flight in launched { flight.wait(until: nil) } }
        publishGauges()
        return secondsUntilDue(at: clock(), among: Set(items.keys))
    }

    /// Starts the client's own schedule on a thread of its own: refresh-ahead,
    /// retries with backoff, the cache gauges and the hit-ratio window, whatever
    /// the probes are set to. Idempotent.
    public func startRefreshing() {
        guard !refresher.running.exchange(true, ordering: .acquiringAndReleasing) else { return }
        startDetachedThread(name: "secrets-refresh") { [self] in
            var windowStart = ContinuousClock.now
            while !refresher.stopped.load(ordering: .acquiring) {
                let next = refreshDue(wait: false)
                if ContinuousClock.now - windowStart >= .seconds(SecretsMetrics.hitRatioWindow) {
                    metrics.closeHitRatioWindow()
                    windowStart = .now
                }
                // Wake when the next refresh is due, when a refresh ends, and at
                // least every 15 s (gauges follow TTL expiries without a refresh).
                refresher.sleep(seconds: min(max(next, 0.05), 15))
            }
        }
    }

    /// Waits until the refreshes running now have ended, at most `timeout`
    /// seconds (nil: no limit); true if they all ended. For shutdown and tests.
    @discardableResult
    public func waitForRefreshes(timeout: Double? = nil) -> Bool {
        let deadline = timeout.map { ContinuousClock.now + .seconds($0) }
        return flights.all.allSatisfy { $0.wait(until: deadline) != nil }
    }

    /// Ends the background schedule (refreshes in flight finish on their own).
    public func stopRefreshing() { refresher.stop() }

    /// One refresh on a thread of its own, unless one is running; nil without AWS access.
    @discardableResult
    func launchRefresh(_ item: SecretsConfiguration.Item, force: Bool) -> Flight? {
        guard api != nil else { return nil }
        return flights.launch(item.name, started: { markRefreshing([item], only: [item.name]) }) { [self] in
            refresh(item, force: force)
            dropIfEvicted(item)
            refresher.poke()
        }
    }

    private func markRefreshing(_ chunk: [SecretsConfiguration.Item], only names: [String]) {
        let now = clock()
        records.withLock { records in
            for item in chunk where names.contains(item.name) { records[item.name, default: SecretRecord()].refreshStarted = now }
        }
    }

    private func secondsUntilDue(at now: UnixTime, among names: Set<String>) -> Double {
        guard api != nil else { return 15 }  // nothing to refresh: gauges only
        let ttl = configuration.ttl
        let times = records.withLock { records in
            records.compactMap { name, record -> Double? in
                guard names.contains(name) else { return nil }
                guard record.refreshStarted == nil else { return nil }  // its end pokes the refresher
                guard let entry = record.entry, entry.source == .aws, record.failures == 0 else {
                    return record.nextAttempt.seconds
                }
                return min(record.refreshAt.seconds, entry.confirmedAt.seconds + ttl)
            }
        }
        return (times.min() ?? now.seconds + 15) - now.seconds
    }

    /// One AWS round for a secret: a version check when a value is cached
    /// (and not forced), the value only when the version moved (`record`
    /// and `confirm` weigh the answer against the record as it is by then).
    func refresh(_ item: SecretsConfiguration.Item, force: Bool) {
        guard let regions = self.api else { return }
        let (cached, failing) = records.withLock { ($0[item.name]?.entry, ($0[item.name]?.failures ?? 0) > 0) }
        do throws(AWSError) {
            if !force, cached?.source == .aws, cached?.versionID != nil,
               let current = try currentVersion(item, regions: regions, failing: failing),
               let version = current.value, confirm(item, current: version, region: current.region) {
                return
            }
            let fetched = try regions.read(failing: failing) { api throws(AWSError) in
                try api.getSecretValue(item.secretID, versionID: item.versionID, stage: item.versionStage, binary: item.isRead)
            }
            let rotated = record(item, value: SecretString(fetched.value.value), version: fetched.value.versionID,
                                 document: SecretDocument(fetched.value), region: fetched.region)
            if force && cached?.source == .aws && !rotated {
                let now = clock()
                records.withLock { $0[item.name]?.uselessForce = (now, fetched.value.versionID) }
            }
        } catch {
            failed(item, error)
        }
    }

    /// The version the item's stage (AWSCURRENT) points at, by
    /// DescribeSecret; nil (so the value is fetched) for a pinned version
    /// and once DescribeSecret has been denied.
    private func currentVersion(_ item: SecretsConfiguration.Item, regions: SecretsRegions,
                                failing: Bool) throws(AWSError) -> SecretsRegions.Answer<String?>? {
        guard item.versionID == nil, describeAllowed.load(ordering: .relaxed) else { return nil }
        do throws(AWSError) {
            return try regions.read(failing: failing) { api throws(AWSError) in
                try api.currentVersion(item.secretID, stage: item.versionStage ?? "AWSCURRENT")
            }
        } catch where SecretsFailure(error) == .accessDenied {
            // One application secret whose policy lacks DescribeSecret says nothing of the items'.
            if item.isRead { return nil }
            if describeAllowed.exchange(false, ordering: .relaxed) {
                logger.notice("DescribeSecret denied; checking versions with GetSecretValue instead",
                              metadata: ["secret": "\(item.name)", "code": "\(error.metricCode)"])
            }
            return nil
        }
    }

    /// AWS says the item's stage (AWSCURRENT) is still at `current`: the
    /// value held is confirmed, an AWSPENDING stand-in with the AWSCURRENT
    /// entry it displaced. False when the record holds another version by
    /// now (the value is then fetched).
    func confirm(_ item: SecretsConfiguration.Item, current: String, region: String) -> Bool {
        settle(item, region: region) { record, now in
            if record.displaced?.versionID == current {
                record.displaced?.confirm(at: now, in: region)
            } else if record.displaced == nil, record.entry?.source == .aws, record.entry?.versionID == current {
                record.entry?.confirm(at: now, in: region)
            } else {
                return nil
            }
            return false
        } != nil
    }

    /// Records a value AWS served for the item's stage, weighed against
    /// what the record holds by then (a forced read, an AWSPENDING stand-in
    /// or its drop may have come meanwhile):
    /// - the version an AWSPENDING stand-in displaced: AWSCURRENT has not
    ///   moved, so the stand-in stays and both are confirmed;
    /// - from a replica, a version created before the one held: replication
    ///   lags a rotation, so the newer value held stays;
    /// - anything else is the value from now on.
    /// Returns true when that was a rotation.
    @discardableResult
    func record(_ item: SecretsConfiguration.Item, value: SecretString, version: String?, document: SecretDocument?,
                region: String) -> Bool {
        let primary = api?.primaryRegion
        return settle(item, region: region) { record, now in
            let fresh = CacheEntry(value: value, versionID: version, source: .aws, confirmedAt: now, document: document, region: region)
            let held = record.displaced ?? record.entry
            if let displaced = record.displaced, version != nil, displaced.versionID == version {
                record.displaced = fresh
                record.entry?.confirm(at: now, in: region)
                return false
            }
            if region != primary, let held, held.source == .aws, held.versionID != version,
               let heldDate = held.document?.createdDate, let date = document?.createdDate, date < heldDate {
                record.entry?.confirm(at: now, in: region)  // still the newest known: checked again within maxBackoff
                return false
            }
            record.entry = fresh
            (record.displaced, record.pendingConfirmed) = (nil, false)
            return held?.source == .aws && held?.versionID != nil && held?.versionID != version
        } ?? false
    }

    /// Applies `update` (nil: nothing to apply) to the item's record under the
    /// lock, with a successful AWS read's bookkeeping: failures cleared, the
    /// next refresh scheduled. A value read from a replica, or an AWSPENDING
    /// stand-in, is checked again within `maxBackoff` (the primary may answer
    /// again, AWSCURRENT may move) instead of ahead of its TTL.
    private func settle(_ item: SecretsConfiguration.Item, region: String,
                        _ update: (inout SecretRecord, UnixTime) -> Bool?) -> Bool? {
        let now = clock()
        let configuration = self.configuration
        let jitter = Double.random(in: 0...0.2) * configuration.refreshAhead
        let outcome = records.withLock { records -> (rotated: Bool, changed: Bool, document: SecretDocument?)? in
            var record = records[item.name] ?? SecretRecord()
            let wasFailing = record.failures > 0 || record.entry?.source == .environment
            let region = record.entry?.region
            guard let rotated = update(&record, now) else { return nil }
            let recheck = record.entry?.region != api?.primaryRegion || record.displaced != nil
            record.failures = 0
            record.failure = nil
            record.lastError = nil
            record.nextAttempt = now
            record.refreshStarted = nil
            record.refreshAt = now.adding(recheck ? configuration.maxBackoff * Double.random(in: 0.8...1)
                                          : configuration.ttl - configuration.refreshAhead - jitter)
            records[item.name] = record
            // Recovered, or now read from another region (a replica, the primary again): monitors look at once.
            return (rotated, wasFailing || (region != nil && region != record.entry?.region), record.entry?.document)
        }
        guard let outcome else { return nil }
        // Shown: the wall clock's time. Not for reads by id: the alerts on it are about configured items.
        if !item.isRead { metrics.succeeded(item.label, at: UnixTime.now) }
        if outcome.rotated {
            metrics.rotated(item.label)
            logger.info("secret rotated", metadata: ["secret": "\(item.name)", "version": "\(outcome.document?.versionID ?? "-")"])
        }
        if let document = outcome.document { learnAliases(of: item, document) }
        if outcome.changed {
            logger.info("secret served from AWS", metadata: ["secret": "\(item.name)", "region": "\(region)"])
            stateChanged()
        }
        return outcome.rotated
    }

    func failed(_ item: SecretsConfiguration.Item, _ error: AWSError) {
        let now = clock()
        let reason = SecretsFailure(error)
        let previous = records.withLock { records -> SecretsFailure? in
            var record = records[item.name] ?? SecretRecord()
            let previous = record.failure?.reason
            record.failures += 1
            record.nextAttempt = now.adding(backoff(record.failures))
            record.failure = (reason, error.metricCode)
            record.lastError = error
            record.refreshStarted = nil
            records[item.name] = record
            return previous
        }
        metrics.refreshFailed(item.label, reason)
        if previous != reason {
            logger.warning("cannot refresh secret from AWS", metadata: [
                "secret": "\(item.name)", "reason": "\(reason.rawValue)", "code": "\(error.metricCode)"])
            stateChanged()
        }
    }

    /// Seconds to wait after `failures` consecutive failures: 1, 2, 4, ... up
    /// to `maxBackoff`, ±20 % so secrets that failed together do not retry in lockstep.
    private func backoff(_ failures: Int) -> Double {
        min(configuration.maxBackoff, Double(1 << min(max(0, failures - 1), 30))) * Double.random(in: 0.8...1.2)
    }

    /// One BatchGetSecretValue for up to 20 secrets. If the call itself is
    /// refused (denied by policy, or unknown to an older endpoint) or still
    /// throttled after the AWS client's retries, each secret is fetched with
    /// GetSecretValue, in parallel: BatchGetSecretValue has 100 calls a
    /// second per region, GetSecretValue and DescribeSecret 10,000, so a
    /// fleet starting at once (docs/cost.md) loads its secrets instead of
    /// waiting out a backoff without them.
    private func preloadChunk(_ chunk: [SecretsConfiguration.Item], regions: SecretsRegions) {
        do throws(AWSError) {
            let ids = chunk.map(\.secretID)
            let answer = try regions.read(failing: false) { api throws(AWSError) in try api.batchGetSecretValue(ids) }
            let result = answer.value
            var unanswered: [SecretsConfiguration.Item] = []
            for item in chunk {
                if let fetched = result.values.first(where: { $0.id == item.secretID }) {
                    record(item, value: SecretString(fetched.value), version: fetched.versionID, document: SecretDocument(fetched),
                           region: answer.region)
                } else if answer.region == regions.primaryRegion, let code = result.errors.first(where: { $0.id == item.secretID })?.code {
                    failed(item, AWSError(code: AWSError.normalize(code), message: "", kind: .client))
                } else {
                    // A binary secret, a partial ARN, or an error from a replica (which may lack
                    // that secret): asked for alone, the primary first.
                    unanswered.append(item)
                }
            }
            if !unanswered.isEmpty { loadOneByOne(unanswered) }
        } catch where error.kind == .client || error.kind == .throttling {
            logger.info("BatchGetSecretValue refused, loading one by one", metadata: ["code": "\(error.metricCode)"])
            loadOneByOne(chunk)
        } catch {
            for item in chunk { failed(item, error) }
        }
    }
}

extension SecretsClient {
    /// GetSecretValue for each secret, in parallel, from within a batch run
    /// (which holds their single-flight slots, so the calls are made here).
    private func loadOneByOne(_ items: [SecretsConfiguration.Item]) {
        guard api != nil else { return }
        let runs = items.map { item in
            let done = Flight()
            startDetachedThread(name: "secret-refresh") { [self] in
                refresh(item, force: true)
                done.finish()
            }
            return done
        }
        for run in runs { run.wait(until: nil) }
    }
}

/// The background schedule's thread state.
final class Refresher: Sendable {
    let running = Atomic<Bool>(false)
    let stopped = Atomic<Bool>(false)
    private let wake = Condition()
    /// A poke arrived since the last sleep (guarded by `wake`'s lock), so none is lost.
    private nonisolated(unsafe) var poked = false

    /// Sleeps up to `seconds`, less if poked or stopped.
    func sleep(seconds: Double) {
        let deadline = ContinuousClock.now + .seconds(seconds)
        wake.withLock {
            if !poked && !stopped.load(ordering: .acquiring) { wake.wait(until: deadline) }
            poked = false
        }
    }

    /// Wakes the schedule early (a refresh ended: the next due time moved).
    func poke() {
        wake.withLock {
            poked = true
            wake.broadcast()
        }
    }

    func stop() {
        wake.withLock {
            stopped.store(true, ordering: .releasing)
            wake.broadcast()
        }
    }
}
