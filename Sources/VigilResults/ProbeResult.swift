import FoundationEssentials
import VigilPlatform

/// Why a probe failed, from a fixed set: these become metric labels.
public enum ProbeReason: String, Sendable, CaseIterable {
    case ok, timeout, refused, dns, tls, auth, `protocol`
    case credentialsUnavailable = "credentials_unavailable"
    /// HTTP: an answer outside `expect_status` (and not a refused credential).
    case unexpectedStatus = "unexpected_status"
    /// Secrets: AWS refused access / the secret is gone / AWS unreachable,
    /// throttling or failing; values served past their TTL.
    case accessDenied = "access_denied"
    case notFound = "not_found"
    case unreachable, throttled
    case awsError = "aws_error"
    case stale
    /// Secrets: served from a failover region (`aws.failover_regions`) while the primary fails.
    case replica
    /// Secrets: what DescribeSecret shows will break (`SecretFinding`), while every value is still served.
    case rotationOverdue = "rotation_overdue"
    case rotationStuck = "rotation_stuck"
    case deletionScheduled = "deletion_scheduled"
    case replicaOutOfSync = "replica_out_of_sync"
    /// Secrets: AWSCURRENT lacks keys its item or a probe's login needs.
    case malformed
}

/// The outcome of one probe run: a plain immutable value.
public struct ProbeResult: Sendable, Equatable {
    public var probe: String
    public var reason: ProbeReason
    /// Wall time of the whole run.
    public var latency: Duration
    public var finishedAt: Date
    /// A short human explanation for logs and `/health` details. Never holds
    /// secret values: probes build it from fixed text and server messages.
    public var detail: String
    /// Working, but not as it should (stale secrets, AWS errors).
    public var degraded: Bool
    /// The run failed authentication, refreshed its credentials and tried again.
    public var refreshedCredentials: Bool
    /// Where the time went (`connect`, `query`, `ping`, ...).
    public var phases: [ProbePhase] = []
    /// Figures the peer reported (Redis `INFO`), exported as gauges.
    public var measurements: [ProbeMeasurement] = []
    /// What the run probed: `host:port` (an http target's
    /// `scheme://host:port`), never a credential or a path; nil when not
    /// known yet (no credentials). Rules join the instances that watch the
    /// same dependency on it (`vigil_probe_target_info`).
    public var target: String?
    /// What the run found about each thing it looked at (the secrets
    /// probe: each secret's state, source, region, stage), for
    /// `/health?verbose`: fixed words and names, never values.
    public var facts: [ProbeFact] = []
    /// The peer's TLS certificates as the run's connection met them (at its
    /// handshake, which a kept connection did earlier); nil without TLS.
    public var certificate: CertificateExpiry?

    public var succeeded: Bool { reason == .ok }

    /// Adds fields (nil values left out) to the one fact about `subject`:
    /// `/health?verbose` keys facts by subject.
    public mutating func addFacts(about subject: String, _ fields: [(String, String?)]) {
        let fact = ProbeFact(subject: subject, fields)
        guard !fact.fields.isEmpty else { return }
        if let index = facts.firstIndex(where: { $0.subject == subject }) { facts[index].fields += fact.fields } else { facts.append(fact) }
    }
    /// The component works: the run succeeded, or it serves in a degraded way
    /// (a degraded run may carry a reason, such as secrets served stale
    /// because AWS timed out).
    public var isAvailable: Bool { succeeded || degraded }

    public init(probe: String, reason: ProbeReason, latency: Duration, finishedAt: Date = Date(timeIntervalSince1970: SteadyClock.now), detail: String = "",
                degraded: Bool = false, refreshedCredentials: Bool = false) {
        self.probe = probe
        self.reason = reason
        self.latency = latency
        self.finishedAt = finishedAt
        self.detail = detail
        self.degraded = degraded
        self.refreshedCredentials = refreshedCredentials
    }
}

/// Fields about one subject of a probe run (`ProbeResult.facts`), in order.
public struct ProbeFact: Sendable, Equatable {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) { (self.name, self.value) = (name, value) }
    }

    public var subject: String
    public var fields: [Field]

    /// `fields`: (name, value) pairs; a nil value leaves its field out.
    public init(subject: String, _ fields: [(String, String?)]) {
        self.subject = subject
        self.fields = fields.compactMap { name, value in value.map { Field(name: name, value: $0) } }
    }
}

/// The duration of one step of a probe run.
public struct ProbePhase: Sendable, Equatable {
    public var name: String
    public var duration: Duration

    public init(name: String, duration: Duration) { (self.name, self.duration) = (name, duration) }
}

/// A gauge a probe reports: a fixed metric name, labels from a fixed set.
public struct ProbeMeasurement: Sendable, Equatable {
    public var metric: String
    public var help: String
    public var labels: [String: String]
    public var value: Double

    public init(metric: String, help: String, labels: [String: String], value: Double) {
        self.metric = metric
        self.help = help
        self.labels = labels
        self.value = value
    }
}

/// When the TLS certificates one handshake met (or one listener serves)
/// stop being valid: plain figures for gauges, alerts and CloudWatch.
public struct CertificateExpiry: Sendable, Equatable {
    /// Unix time the leaf certificate's validity ends (its not-after).
    public var leaf: Double
    /// The earliest not-after in the chain, the leaf's included: an
    /// intermediate can expire first.
    public var earliest: Double
    /// The leaf's issuer: its common name (else its organisation), printable
    /// and at most 64 characters, a label from the few CAs a host meets.
    public var issuer: String

    public init(leaf: Double, earliest: Double, issuer: String) {
        (self.leaf, self.earliest, self.issuer) = (leaf, earliest, issuer)
    }
}
