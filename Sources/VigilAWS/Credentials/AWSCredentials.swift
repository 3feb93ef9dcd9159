import VigilPlatform

/// AWS credentials. The secret key and session token are `SecretString`s:
/// printing, logging or encoding them shows `<redacted>`.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: SecretString
    public var sessionToken: SecretString?
    /// When temporary credentials stop working; nil for long-term keys.
    public var expiration: UnixTime?
    /// Which provider produced them (`environment`, `profile`, `web_identity`, ...).
    public var source: String

    public init(accessKeyID: String, secretAccessKey: SecretString, sessionToken: SecretString? = nil,
                expiration: UnixTime? = nil, source: String = "static") {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    public var description: String { "AWSCredentials(\(accessKeyID), source: \(source))" }
}
