import Logging
import VigilAWS
import VigilPlatform

/// Secrets Manager in the primary region, then in each region holding
/// replicas (`aws.failover_regions`), in order.
///
/// A read goes to the primary. One the primary fails with an outage class
/// (timeout, unreachable, throttled, 5xx) goes on to the next region at
/// once; one the primary has not answered after `hedgeDelay` is sent to the
/// next region as well (a hedged read), so a cold start during a regional
/// outage waits about `hedgeDelay`, not the primary's every attempt
/// (3 x `aws.timeout` and backoff: over 30 s at the defaults). While the
/// primary is failing, the next region is asked at once beside it and the
/// primary gets one attempt a read; the first answer wins, the primary's
/// when both are in. Anything but an outage from the primary (denied, not
/// found, a decryption failure, rejected credentials) is an answer and ends
/// the read; from a replica it only ends that region's part.
final class SecretsRegions: Sendable {
    struct Answer<Value: Sendable>: Sendable {
        var value: Value
        var region: String
    }

    /// Primary first.
    let apis: [SecretsManagerAPI]
    let hedgeDelay: Double
    private let metrics: SecretsMetrics
    private let logger: Logger
    /// The primary's last read failed with an outage class, or a replica beat
    /// it past the delay; and how many answers the primary has given (a
    /// replica beating it marks it failing only if none came since that
    /// read began: a slower read must not undo a newer answer).
    private let primaryState = Locked<(failing: Bool, answers: Int)>((false, 0))

    var primaryRegion: String { apis[0].region }
    var regions: [String] { apis.map(\.region) }

    init(primary: AWSClient, replicas: [AWSClient], hedgeDelay: Double, metrics: SecretsMetrics, logger: Logger) {
        apis = [SecretsManagerAPI(aws: primary)]
            + replicas.map { SecretsManagerAPI(aws: $0, primaryRegion: primary.region) }
        self.hedgeDelay = hedgeDelay
        self.metrics = metrics
        self.logger = logger
        metrics.prepare(regions: apis.map(\.region))
    }

    /// Runs `operation` against the regions as described above. `failing`:
    /// the secret is already failing, so every region gets one attempt (its
    /// backoff schedule is the retry).
    func read<Value: Sendable>(failing: Bool,
                               _ operation: @escaping @Sendable (SecretsManagerAPI) throws(AWSError) -> Value)
        throws(AWSError) -> Answer<Value> {
        let (primaryDown, answers) = primaryState.withLock { ($0.failing, $0.answers) }
        let apis = self.apis.enumerated().map { index, api in failing || (index == 0 && primaryDown) ? api.singleAttempt : api }
        guard apis.count > 1 else {
            return Answer(value: try attempt(apis[0], operation).get(), region: apis[0].region)
        }
        let race = Race<Value>()
        var started = 0
        func launch() {
            let (index, api) = (started, apis[started])
            started += 1
            let running = startDetachedThread(name: "secrets-region") { [self] in race.post(index, attempt(api, operation)) }
            if !running { race.post(index, .failure(AWSError(code: "Other", message: "no thread for the read", kind: .transient))) }
        }
        launch()
        if primaryDown { launch() }
        var seen = 0
        while true {
            let results = race.wait(beyond: seen, until: started < apis.count ? .now + .seconds(hedgeDelay) : nil)
            let arrived = results.count > seen
            seen = results.count
            for index in 0..<started {
                guard case .success(let value)? = results[index] else { continue }
                // A replica answered while the primary still has not, past the delay: the primary counts as failing
                // (both asked at once, its retries spared) until it answers.
                if index > 0 && results[0] == nil { primaryBeaten(since: answers) }
                return Answer(value: value, region: apis[index].region)
            }
            if case .failure(let error)? = results[0], !error.isOutage { throw error }
            let lastDone = results[started - 1] != nil
            if started < apis.count && (!arrived || lastDone) {
                launch()  // the last region asked failed, or has not answered within the delay
            } else if results.count == started && started == apis.count, case .failure(let error)? = results[0] {
                throw error  // every region failed: the primary's error is the one to report
            }
        }
    }

    /// One region's part of a read, counted by region and outcome; tracks
    /// whether the primary is failing.
    private func attempt<Value>(_ api: SecretsManagerAPI,
                                _ operation: (SecretsManagerAPI) throws(AWSError) -> Value) -> Result<Value, AWSError> {
        let result: Result<Value, AWSError>
        do throws(AWSError) { result = .success(try operation(api)) } catch { result = .failure(error) }
        var outcome = RegionOutcome.success
        if case .failure(let error) = result { outcome = SecretsFailure(error).rawValue }
        metrics.regionRead(api.region, outcome)
        if api.region == primaryRegion && apis.count > 1 {
            var error: AWSError?
            if case .failure(let failure) = result { error = failure }
            primaryAnswered(error)
        }
        return result
    }

    /// The primary answered (`error` nil, or one that is not an outage) or
    /// failed with an outage class.
    private func primaryAnswered(_ error: AWSError?) {
        let outage = error?.isOutage ?? false
        let changed = primaryState.withLock { state -> Bool in
            if !outage { state.answers += 1 }
            defer { state.failing = outage }
            return state.failing != outage
        }
        if changed { logPrimary(failing: outage, why: error?.metricCode ?? "") }
    }

    /// A replica answered a read begun after the primary's `answers`th answer,
    /// while the primary had not, past the delay.
    private func primaryBeaten(since answers: Int) {
        let changed = primaryState.withLock { state -> Bool in
            guard state.answers == answers, !state.failing else { return false }
            state.failing = true
            return true
        }
        if changed { logPrimary(failing: true, why: "no answer within aws.failover_delay") }
    }

    private func logPrimary(failing: Bool, why: String) {
        if failing {
            logger.warning("primary region failing: secrets are read from the failover regions too", metadata: [
                "region": "\(primaryRegion)", "why": "\(why)", "failover": "\(regions.dropFirst().joined(separator: ","))"])
        } else {
            logger.info("primary region answers again", metadata: ["region": "\(primaryRegion)"])
        }
    }
}

extension AWSError {
    /// An outage, which another region may not share: no answer in time,
    /// none at all, throttling, 5xx.
    var isOutage: Bool { [.timeout, .network, .throttling, .transient].contains(kind) }
}

/// A secret's id as a replica region knows it: a primary-region ARN
/// (`arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf`) with
/// the replica's region in it, as AWS names replicas; names, and ARNs of
/// other regions, unchanged.
public enum ReplicaID {
    public static func of(_ id: String, primary: String, replica: String) -> String {
        guard id.hasPrefix("arn:") else { return id }
        var fields = id.split(separator: ":", maxSplits: 6, omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 7, fields[2] == "secretsmanager", fields[3] == primary else { return id }
        fields[3] = replica
        return fields.joined(separator: ":")
    }
}

/// The parts of one read, by region index, as they end.
private final class Race<Value: Sendable>: Sendable {
    private let condition = Condition()
    private nonisolated(unsafe) var results: [Int: Result<Value, AWSError>] = [:]  // guarded by `condition`

    func post(_ index: Int, _ result: Result<Value, AWSError>) {
        condition.withLock {
            results[index] = result
            condition.broadcast()
        }
    }

    /// The results once there are more than `seen`, or at `deadline` (nil: no limit).
    func wait(beyond seen: Int, until deadline: ContinuousClock.Instant?) -> [Int: Result<Value, AWSError>] {
        condition.withLock {
            while results.count <= seen {
                if let deadline {
                    if !condition.wait(until: deadline) { break }
                } else {
                    condition.wait()
                }
            }
            return results
        }
    }
}
