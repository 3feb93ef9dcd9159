import VigilAWS

/// Where a served value came from.
public enum SecretSource: String, Sendable {
    case aws
    case emergencyCache = "emergency_cache"
    case environment
}

/// The freshness of what the client holds for a secret.
public enum SecretState: String, Sendable {
    /// From AWS, within the TTL.
    case fresh
    /// Past the TTL, AWS failing: the cached value is served (up to the emergency TTL).
    case stale
    /// From the environment fallback.
    case fallback
    /// Nothing to serve.
    case missing
}

/// A secret as served: the value (redacted when printed) and where it came from.
public struct SecretValue: Sendable, Equatable {
    public var name: String
    public var secretID: String
    public var value: SecretString
    public var versionID: String?
    public var source: SecretSource
    /// When AWS last confirmed this value (nil for the environment fallback).
    public var confirmedAt: UnixTime?

    public init(name: String, secretID: String, value: SecretString, versionID: String?, source: SecretSource,
                confirmedAt: UnixTime?) {
        self.name = name
        self.secretID = secretID
        self.value = value
        self.versionID = versionID
        self.source = source
        self.confirmedAt = confirmedAt
    }
}

/// What the client knows about one configured secret, without its value:
/// for `vigil secrets list`, the secrets probe and metrics.
public struct SecretStatus: Sendable, Equatable {
    public var name: String
    public var secretID: String
    public var required: Bool
    public var state: SecretState
    public var source: SecretSource?
    public var versionID: String?
    /// Seconds since AWS last confirmed the value.
    public var age: Double?
    /// The AWS error code of the last failed attempt, if the last attempt failed.
    public var lastError: String?
    /// The class of the last failure, if the last attempt failed.
    public var failure: SecretsFailure?
    /// Seconds a refresh has been waiting for AWS, if one is running.
    public var refreshingFor: Double?
    /// The region the value was read from (nil when not from AWS).
    public var region: String? = nil
    /// Read from a failover region: the primary failed.
    public var fromReplica = false
    /// The AWSPENDING version is served: a login failed with AWSCURRENT and succeeded with it (a rotation under way).
    public var pending = false
    /// What DescribeSecret last said of its rotation, deletion and replicas (nil: not yet, or DescribeSecret denied).
    public var lifecycle: SecretLifecycle? = nil
    /// What that shows will break, by the configured rotation window and grace, and `malformed`.
    public var findings: [SecretFinding] = []
    /// The keys AWSCURRENT lacks (names, never values), when `malformed`.
    public var missingKeys: [String] = []
    /// Needed by a probe's login (its kind declares keys for it).
    public var loginNeeds = false
    /// While malformed: the version logins keep using, if one had every key.
    public var loginVersion: String? = nil
}

/// Why AWS could not confirm a secret, from a fixed set (metric labels,
/// `/health` reasons). Revoked access and a deleted secret are told apart
/// from an outage: they need a different person, and waiting does not fix them.
public enum SecretsFailure: String, Sendable, CaseIterable, Comparable {
    /// The policy does not allow the call (access revoked, wrong role).
    case accessDenied = "access_denied"
    /// The secret does not exist or is scheduled for deletion.
    case notFound = "not_found"
    /// AWS rejected the credentials or the signature (expired token, clock skew, unknown key).
    case authentication
    /// AWS did not answer in time.
    case timeout
    /// No HTTP answer: refused, reset, DNS, TLS.
    case unreachable
    /// AWS asked Vigil to slow down.
    case throttled
    /// AWS answered with another error (5xx, an unreadable answer, a binary secret).
    case awsError = "aws_error"

    public init(_ error: AWSError) {
        switch error.kind {
        case .timeout: self = .timeout
        case .network: self = .unreachable
        case .throttling: self = .throttled
        case .configuration: self = .authentication
        case .transient: self = .awsError
        case .client:
            switch error.code {
            case "AccessDenied", "AccessDeniedException": self = .accessDenied
            case "ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound": self = .notFound
            // "You can't perform this operation on the secret because it was marked for deletion."
            case "InvalidRequestException" where error.message.contains("deletion"): self = .notFound
            case _ where AWSError.authenticationCodes.contains(error.code): self = .authentication
            default: self = .awsError
            }
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
    private var rank: Int { Self.allCases.firstIndex(of: self)! }
}

/// Why a secret cannot be served. Names the secret and the reason; never the value.
public struct SecretsError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        case unknownSecret = "unknown_secret"
        case awsError = "aws_error"
        case malformed
    }

    public var secret: String
    public var reason: Reason
    /// An AWS error code or a short explanation.
    public var detail: String

    public var description: String {
        switch reason {
        case .unknownSecret: "secret \"\(secret)\" is not configured"
        case .awsError: "secret \"\(secret)\" is unavailable: AWS answered \(detail), no cached value within the emergency TTL and no environment fallback"
        case .malformed: "secret \"\(secret)\" is malformed: \(detail)"
        }
    }
}
