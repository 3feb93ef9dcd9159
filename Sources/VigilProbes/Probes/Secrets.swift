import VigilPlatform
import VigilSecrets

/// Secrets probe: drives the client's refresh-ahead (so lookups never wait
/// on AWS) and reports: healthy when every secret is fresh and AWS answered;
/// degraded when some secret is stale or from the environment, or AWS failed
/// since the last run; failed when a required secret cannot be served.
public final class SecretsProbe: Probe {
    public let name = "secrets"
    private let client: SecretsClient
    private let minimumHitRatio: Double
    /// Fewer lookups than this in an interval say nothing about the ratio.
    static let minimumLookups = 20

    public init(client: SecretsClient, minimumHitRatio: Double = 0) {
        self.client = client
        self.minimumHitRatio = minimumHitRatio
    }

    public func run(timeout: Duration) -> ProbeResult {
        var degraded = false
        var detail = ""
        var result = measure { () throws(ProbeFailure) in
            client.refreshDue()
            let statuses = client.statuses()
            let awsErrors = client.takeAWSErrorCount()
            let missing = statuses.filter { $0.required && $0.state == .missing }
            if !missing.isEmpty {
                throw ProbeFailure(reason: .credentialsUnavailable, detail: missing.map { status in
                    "\(status.name) unavailable" + (status.lastError.map { " (\($0))" } ?? "")
                }.joined(separator: ", "))
            }
            let notFresh = statuses.filter { $0.state != .fresh && $0.state != .missing }
            let window = client.metrics.lastWindow
            let lowHits = window.lookups >= Self.minimumLookups && window.ratio < minimumHitRatio
            degraded = !notFresh.isEmpty || awsErrors > 0 || lowHits
            detail = (notFresh.map { "\($0.name) \($0.state.rawValue)" }
                + (awsErrors > 0 ? ["\(awsErrors) AWS error\(awsErrors == 1 ? "" : "s")"] : [])
                + (lowHits ? ["cache hit ratio \(window.ratio.decimalString(digits: 2))"] : [])).joined(separator: ", ")
        }
        result.degraded = degraded
        if result.succeeded { result.detail = detail }
        return result
    }
}
