import FoundationEssentials
import VigilConfig
import VigilPlatform
import VigilResults
import VigilSecrets

/// Secrets probe: reads what the secrets client holds (never calls AWS, so
/// it cannot hang) and reports: failed when a required secret cannot be
/// served; degraded, with the reason, when AWS has not answered a refresh
/// within the probe's timeout, when the last refresh failed (`access_denied`,
/// `not_found`, `throttled`, ...), when a value was read from a failover
/// region (`replica`), when a value is served stale or from the
/// environment, or when the cache hit ratio is below its floor.
public final class SecretsProbe: KindProbe {
    public static let name = "secrets"
    public static let summary = "The secrets client: every required secret available, and from AWS within its TTL."
    public static let defaultCritical = false
    public static let settings: [KindSetting] = []
    public static let reportsConnection = false
    public static let followsSecrets = true

    public static func read(_ values: KindValues) -> NoSettings? { NoSettings() }

    public let name: String
    public let failureReasons = [ProbeReason.credentialsUnavailable, .timeout, .malformed]
    private let client: SecretsClient
    private let minimumHitRatio: Double
    /// Fewer lookups than this in a window say nothing about the ratio.
    static let minimumLookups = 20

    public init(name: String = "secrets", client: SecretsClient, minimumHitRatio: Double = 0) {
        self.name = name
        self.client = client
        self.minimumHitRatio = minimumHitRatio
    }

    public convenience init(target: ProbeTarget<NoSettings>, context: ProbeContext) {
        self.init(name: target.name, client: context.secrets, minimumHitRatio: context.minimumHitRatio)
    }

    public func run(timeout: Duration) -> ProbeResult {
        var trouble: (reason: ProbeReason, detail: String)?
        var facts: [ProbeFact] = []
        var result = measure { () throws(ProbeFailure) in
            let statuses = client.statuses()
            facts = statuses.map(Self.fact)
            let missing = statuses.filter { $0.required && $0.state == .missing }
            if !missing.isEmpty {
                throw ProbeFailure(reason: .credentialsUnavailable, detail: missing.map { status in
                    "\(status.name) unavailable" + (status.failure.map { " (\($0.rawValue))" } ?? "")
                }.joined(separator: ", "))
            }
            // A version a probe cannot log in with: the logins keep the last one that could, but
            // the next restart, failover or rotation has nothing to use.
            let malformed = statuses.filter { $0.loginNeeds && $0.findings.contains(.malformed) }
            if !malformed.isEmpty {
                throw ProbeFailure(reason: .malformed, detail: malformed.map(Self.malformedDetail).joined(separator: "; "))
            }
            trouble = Self.trouble(statuses, timeout: timeout.timeInterval)
                ?? lowHitRatio().map { (.ok, "cache hit ratio \($0.decimalString(digits: 2))") }
        }
        if let trouble, result.succeeded {
            result.degraded = true
            result.reason = trouble.reason
            result.detail = trouble.detail
        }
        result.facts = facts
        return result
    }

    /// A secret's state, source, region and stage for `/health?verbose`, and
    /// its findings with what they are about (a date, replica regions).
    static func fact(_ status: SecretStatus) -> ProbeFact {
        let life = status.lifecycle
        let date = { (seconds: Double?) in seconds.map { Date(timeIntervalSince1970: $0).formatted(.iso8601) } }
        let outOfSync = life?.replicas.filter { !$0.inSync }.map(\.region) ?? []
        return ProbeFact(subject: status.name, [
            ("state", status.state.rawValue), ("source", status.source?.rawValue), ("region", status.region),
            ("replica", status.fromReplica ? "true" : nil), ("stage", status.pending ? "AWSPENDING" : nil),
            ("failure", status.failure?.rawValue),
            ("findings", status.findings.isEmpty ? nil : status.findings.map(\.rawValue).joined(separator: ",")),
            ("deletion", date(life?.deletion)), ("pending_since", date(life?.pending?.since)),
            ("next_rotation", status.findings.contains(.rotationOverdue) ? date(life?.nextRotation) : nil),
            ("out_of_sync", outOfSync.isEmpty ? nil : outOfSync.joined(separator: ",")),
            ("missing_keys", status.missingKeys.isEmpty ? nil : status.missingKeys.joined(separator: ",")),
            ("login_version", status.loginVersion),
        ])
    }

    /// "database lacks host, port: logins keep version v1", names only.
    static func malformedDetail(_ status: SecretStatus) -> String {
        "\(status.name) lacks \(status.missingKeys.joined(separator: ", ")): "
            + (status.loginVersion.map { "logins keep version \($0)" } ?? "no earlier version had every key")
    }

    /// The worst thing about secrets that are still served: a hung refresh,
    /// then the gravest failure class, then values served stale. A refresh
    /// still running after an earlier failure (retrying a refused endpoint
    /// takes seconds of backoff) reports that failure, not `timeout`.
    static func trouble(_ statuses: [SecretStatus], timeout: Double) -> (reason: ProbeReason, detail: String)? {
        let hung = statuses.filter { ($0.refreshingFor ?? 0) > timeout && $0.failure == nil }
        if !hung.isEmpty {
            return (.timeout, "AWS has not answered for over \(timeout.decimalString(digits: 1)) s: "
                + hung.map(\.name).joined(separator: ", "))
        }
        if let worst = statuses.compactMap(\.failure).min() {
            let names = statuses.filter { $0.failure == worst }.map(\.name).joined(separator: ", ")
            let served = statuses.filter { $0.state != .fresh }.map { "\($0.name) \($0.state.rawValue)" }
            return (ProbeReason(worst), ([worst.rawValue + ": " + names] + served).joined(separator: "; "))
        }
        if let finding = SecretFinding.allCases.first(where: { finding in statuses.contains { $0.findings.contains(finding) } }) {
            return (ProbeReason(finding), statuses.filter { !$0.findings.isEmpty }
                .map { "\($0.name) \($0.findings.map(\.rawValue).joined(separator: ","))" }.joined(separator: "; "))
        }
        let replicas = statuses.filter(\.fromReplica)
        if !replicas.isEmpty {
            return (.replica, "served from a failover region, the primary failing: "
                + replicas.map { "\($0.name) \($0.region ?? "-")" }.joined(separator: ", "))
        }
        let notFresh = statuses.filter { $0.state != .fresh }
        guard !notFresh.isEmpty else { return nil }
        return (.stale, notFresh.map { "\($0.name) \($0.state.rawValue)" }.joined(separator: ", "))
    }

    private func lowHitRatio() -> Double? {
        let window = client.metrics.lastWindow
        return window.lookups >= Self.minimumLookups && window.ratio < minimumHitRatio ? window.ratio : nil
    }
}

extension ProbeReason {
    init(_ finding: SecretFinding) {
        switch finding {
        case .rotationOverdue: self = .rotationOverdue
        case .rotationStuck: self = .rotationStuck
        case .deletionScheduled: self = .deletionScheduled
        case .replicaOutOfSync: self = .replicaOutOfSync
        case .malformed: self = .malformed
        }
    }

    init(_ failure: SecretsFailure) {
        switch failure {
        case .accessDenied: self = .accessDenied
        case .notFound: self = .notFound
        case .authentication: self = .auth
        case .timeout: self = .timeout
        case .unreachable: self = .unreachable
        case .throttled: self = .throttled
        case .awsError: self = .awsError
        }
    }
}
