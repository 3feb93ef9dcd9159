import Dispatch
import VigilAWS
import VigilPlatform

/// Loading and refreshing: what runs in the background so that lookups
/// find fresh entries.
extension SecretsClient {
    /// Loads every configured secret in as few calls as possible:
    /// BatchGetSecretValue by 20, falling back to parallel GetSecretValue
    /// when batch is denied or unknown. Returns the seconds it took.
    @discardableResult
    public func preload() -> Double {
        let started = UnixTime.now
        let pending = configuration.items
        if let api, !pending.isEmpty {
            let chunks = stride(from: 0, to: pending.count, by: 20).map { Array(pending[$0..<min($0 + 20, pending.count)]) }
            DispatchQueue.concurrentPerform(iterations: chunks.count) { index in
                preloadChunk(chunks[index], api: api)
            }
        }
        let seconds = UnixTime.now.seconds - started.seconds
        metrics.startup(seconds: seconds)
        logger.info("secrets loaded", metadata: ["count": "\(pending.count)", "seconds": "\(seconds.decimalString(digits: 3))"])
        return seconds
    }

    /// Refreshes entries whose TTL ends within `refreshAhead` (with jitter)
    /// or that are being served stale, and drops entries past the emergency
    /// TTL. Callers then never wait on AWS in steady state.
    public func refreshDue() {
        let now = clock()
        let due = entries.withLock { entries -> [String] in
            // Past the emergency TTL a value is never served again: drop it.
            entries = entries.filter { _, entry in
                entry.source != .aws || entry.isWithinEmergency(at: now, limit: configuration.emergencyTTL)
            }
            return entries.compactMap { name, entry in
                let jitter = Double.random(in: 0...0.2) * configuration.refreshAhead
                let refreshAt = entry.confirmedAt.seconds + configuration.ttl - configuration.refreshAhead - jitter
                let wanted = entry.failures > 0 || entry.source != .aws || now.seconds >= refreshAt
                return wanted && now >= entry.nextAttempt ? name : nil
            }
        }
        for name in due { if let item = items[name] { flights.run(name) { refresh(item, force: false) } } }
        for item in configuration.items where entries.withLock({ $0[item.name] }) == nil {
            flights.run(item.name) { refresh(item, force: false) }
        }
        publishGauges()
    }

    /// One BatchGetSecretValue for up to 20 secrets. If the call itself is
    /// refused (denied by policy, or unknown to an older endpoint), each
    /// secret is fetched with GetSecretValue, in parallel.
    private func preloadChunk(_ chunk: [SecretsConfiguration.Item], api: SecretsManagerAPI) {
        do throws(AWSError) {
            let result = try api.batchGetSecretValue(chunk.map(\.secretID))
            for item in chunk {
                if let fetched = result.values.first(where: { $0.id == item.secretID }) {
                    record(item, value: SecretString(fetched.value), version: fetched.versionID, rotated: false)
                } else {
                    let code = result.errors.first { $0.id == item.secretID }?.code ?? "ResourceNotFoundException"
                    failed(item, AWSError(code: AWSError.normalize(code), message: "", kind: .client))
                }
            }
        } catch where error.kind == .client {
            logger.info("BatchGetSecretValue refused, loading one by one", metadata: ["code": "\(error.metricCode)"])
            DispatchQueue.concurrentPerform(iterations: chunk.count) { index in
                flights.run(chunk[index].name) { refresh(chunk[index], force: false) }
            }
        } catch {
            for item in chunk { failed(item, error) }
        }
    }

}
