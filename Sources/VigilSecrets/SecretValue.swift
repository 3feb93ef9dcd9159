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
