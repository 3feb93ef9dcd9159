import VigilAWS
import VigilPlatform

/// A single-user rotation changes the database password (`set_secret`)
/// before it moves AWSCURRENT to the new version (`finish_secret`): in
/// between, every client following AWSCURRENT fails to log in (measured
/// with a rotation whose move came 12 s after the password change, probes
/// every second: 33 of 34 `/health` samples unhealthy). So after a login
/// fails and a forced read finds AWSCURRENT unchanged, the AWSPENDING
/// version stands in for it: served while logins succeed with it and
/// AWSCURRENT stays where it was, dropped at the first login it fails, and
/// replaced by AWSCURRENT's value once AWSCURRENT moves (checked every
/// `maxBackoff` meanwhile). An alternating-users rotation never gets here:
/// the user in use keeps its password until AWSCURRENT has moved.
extension SecretsClient {
    /// Reads AWSPENDING for `item` when a forced read found AWSCURRENT
    /// unchanged (its version is `uselessForce`), at most every
    /// `refreshNowInterval`; waits for it until `deadline`.
    func tryPending(_ item: SecretsConfiguration.Item, until deadline: ContinuousClock.Instant?) {
        guard api != nil, item.versionID == nil, item.versionStage == nil else { return }
        let now = clock()
        let due = records.withLock { records -> Bool in
            guard var record = records[item.name], let entry = record.entry, entry.source == .aws, record.displaced == nil,
                  record.uselessForce?.version == entry.versionID else { return false }
            if let checked = record.pendingCheckedAt, now.seconds - checked.seconds < Self.refreshNowInterval { return false }
            record.pendingCheckedAt = now
            records[item.name] = record
            return true
        }
        guard due else { return }
        flights.launch(item.name + "\u{0}AWSPENDING") { [self] in readPending(item) }.wait(until: deadline)
    }

    /// A login succeeded with what `get` served: confirms an AWSPENDING
    /// value standing in for AWSCURRENT (counted once per version).
    public func credentialsAccepted(_ name: String) {
        let version = records.withLock { records -> String?? in
            guard let record = records[name], record.displaced != nil, !record.pendingConfirmed else { return nil }
            records[name]?.pendingConfirmed = true
            return .some(record.entry?.versionID)
        }
        guard let version, let item = items[name] else { return }
        metrics.pendingUsed(item.label)
        logger.notice("login succeeded with AWSPENDING: served until AWSCURRENT moves",
                      metadata: ["secret": "\(name)", "version": "\(version ?? "-")"])
    }

    /// A login failed with the AWSPENDING value standing in for AWSCURRENT,
    /// `version` (a rotation rolled back, a stale AWSPENDING): AWSCURRENT's
    /// value is served again, and that AWSPENDING version is not tried again.
    func dropPending(_ item: SecretsConfiguration.Item, version: String) {
        let rejected = records.withLock { records -> String?? in
            guard var record = records[item.name], let current = record.displaced, record.entry?.versionID == version else {
                return nil
            }
            let pending = record.entry?.versionID
            record.rejectedPending = pending
            record.entry = current
            (record.displaced, record.pendingConfirmed) = (nil, false)
            records[item.name] = record
            return .some(pending)
        }
        guard let rejected else { return }
        logger.warning("login failed with AWSPENDING: AWSCURRENT served again",
                       metadata: ["secret": "\(item.name)", "version": "\(rejected ?? "-")"])
    }

    /// Stands the AWSPENDING version in for AWSCURRENT when there is one
    /// that is neither AWSCURRENT's nor already rejected. No AWSPENDING
    /// (ResourceNotFound) or an AWS failure changes nothing: the refresh
    /// schedule reports AWS's state.
    private func readPending(_ item: SecretsConfiguration.Item) {
        guard let regions = api,
              let answer = try? regions.read(failing: false, { api throws(AWSError) in
                  try api.getSecretValue(item.secretID, stage: "AWSPENDING", binary: item.isRead)
              }) else { return }
        let fetched = answer.value
        let now = clock()
        let recheck = configuration.maxBackoff
        let adopted = records.withLock { records -> Bool in
            guard var record = records[item.name], let current = record.entry, current.source == .aws,
                  record.displaced == nil, fetched.versionID != current.versionID,
                  fetched.versionID != record.rejectedPending else { return false }
            record.displaced = current
            record.entry = CacheEntry(value: SecretString(fetched.value), versionID: fetched.versionID, source: .aws,
                                      confirmedAt: now, document: SecretDocument(fetched), region: answer.region)
            record.refreshAt = now.adding(recheck)
            records[item.name] = record
            return true
        }
        guard adopted else { return }
        logger.notice("login failed with AWSCURRENT, which has not moved: trying AWSPENDING (a rotation under way)",
                      metadata: ["secret": "\(item.name)", "version": "\(fetched.versionID ?? "-")"])
    }
}
