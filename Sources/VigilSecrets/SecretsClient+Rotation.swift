import VigilAWS
import VigilPlatform

/// A single-user rotation changes the database password (`set_secret`)
/// before it moves AWSCURRENT to the new version (`finish_secret`): in
/// between, every client following AWSCURRENT fails to log in (measured
/// with a rotation whose move came 12 s after the password change, probes
/// every second: 33 of 34 `/health` samples unhealthy). So after a login
/// fails and a forced read finds AWSCURRENT unchanged, the AWSPENDING
/// version stands in for it: served while logins succeed with it and
/// AWSCURRENT stays where it was (confirmed with it at each check, so a
/// rotation stuck for good keeps the login that works), dropped at the
/// first login it fails, and replaced by AWSCURRENT's value once AWSCURRENT
/// moves (checked every `maxBackoff` meanwhile). An alternating-users
/// rotation never gets here: the user in use keeps its password until
/// AWSCURRENT has moved.
extension SecretsClient {
    /// Reads AWSPENDING for `item` when a forced read found AWSCURRENT
    /// unchanged, at most every `refreshNowInterval`; waits for it until `deadline`.
    func tryPending(_ item: SecretsConfiguration.Item, until deadline: ContinuousClock.Instant?) {
        guard let regions = api, item.versionID == nil, item.versionStage == nil, item.store == .secretsManager else { return }
        let now = clock()
        let id = state.withLock { $0.pending(item.name, at: now, interval: Self.refreshNowInterval) }
        guard let id else { return }
        let running = startDetachedThread(name: "secret-pending") { [self] in readPending(item, id: id, regions: regions) }
        guard running else {
            state.update { $0.secrets[item.name]?.threadRefused(id: id, at: now) }
            return
        }
        _ = state.wait(until: deadline) { $0.secrets[item.name]?.pendingFlight == id ? nil : () }
    }

    /// A login succeeded with what `get` served: confirms an AWSPENDING
    /// value standing in for AWSCURRENT (counted once per version).
    public func credentialsAccepted(_ name: String) {
        guard let version = state.withLock({ $0.secrets[name]?.loginSucceeded() }),
              let item = state.withLock({ $0.items[name] }) else { return }
        metrics.pendingUsed(item.label)
        logger.notice("login succeeded with AWSPENDING: served until AWSCURRENT moves",
                      metadata: ["secret": "\(name)", "version": "\(version ?? "-")"])
    }

    /// Asks AWS where AWSCURRENT is (DescribeSecret, while allowed) and for
    /// AWSPENDING, and hands both to the machine (no AWSPENDING, or an AWS
    /// failure, changes nothing: the refresh schedule reports AWS's state).
    private func readPending(_ item: SecretsConfiguration.Item, id: Int, regions: SecretsRegions) {
        let described = state.withLock({ $0.describeAllowed }) ? try? regions.read(failing: false) { api throws(AWSError) in
            try api.currentVersion(item.secretID)
        } : nil
        let current = described.flatMap { answer in answer.value.map { (version: $0, region: answer.region) } }
        let answer = try? regions.read(failing: false) { api throws(AWSError) in
            try api.getSecretValue(item.secretID, stage: "AWSPENDING", binary: item.isRead)
        }
        let now = clock()
        let pending = answer.map { CacheEntry($0.value, region: $0.region, at: now, requiredKeys: item.checkedKeys) }
        let adopted = state.update { state in
            state.poked = true  // AWSCURRENT may have moved: due at once
            return state.secrets[item.name]?.pendingRead(id: id, pending, current: current, at: now, state.policy) ?? false
        }
        guard adopted else { return }
        logger.notice("login failed with AWSCURRENT, which has not moved: trying AWSPENDING (a rotation under way)",
                      metadata: ["secret": "\(item.name)", "version": "\(pending?.versionID ?? "-")"])
        stateChanged()  // another version served: long polls answer, hooks run
    }
}
