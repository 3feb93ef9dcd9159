/// What a probe factory is given about its target: the configuration's
/// `probes.<name>` once checked (vigil maps it; VigilProbes does not read
/// the configuration itself).
public struct ProbeTarget: Sendable {
    public var name: String
    public var kind: String
    /// The `secrets.items` entry its credentials come from.
    public var secret: String?
    /// The kind's settings by name (`url`, `sslmode`, ...), already checked.
    public var settings: [String: String]
    /// HTTP headers; values may hold `${secret:<item>.<key>}` and `${secret:<key>}` (of `secret`).
    public var headers: [(name: String, value: String)]

    public init(name: String, kind: String, secret: String? = nil, settings: [String: String] = [:],
                headers: [(name: String, value: String)] = []) {
        self.name = name
        self.kind = kind
        self.secret = secret
        self.settings = settings
        self.headers = headers
    }
}
