/// What a probe is built from: its target's name, secret item and its
/// kind's settings, typed, as the configuration checked them.
public struct ProbeTarget<Settings: Sendable>: Sendable {
    public var name: String
    /// The `secrets.items` entry its credentials come from.
    public var secret: String?
    public var settings: Settings

    public init(name: String, secret: String? = nil, settings: Settings) {
        self.name = name
        self.secret = secret
        self.settings = settings
    }
}
