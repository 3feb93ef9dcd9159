import VigilPlatform

/// What the secrets client serves and how long it trusts what it has.
public struct SecretsConfiguration: Sendable {
    /// One secret the application uses, by a short logical name.
    public struct Item: Sendable, Equatable {
        /// Logical name: `database`, `redis`, `api-key`. Used in metric labels.
        public var name: String
        /// The Secrets Manager id (name or ARN).
        public var secretID: String
        /// JSON keys that must be present (checked when typed credentials are read).
        public var requiredKeys: [String]
        /// Keys the probes that log in with it need (their kinds declare them):
        /// a version lacking these or `requiredKeys` is `malformed`, and logins
        /// keep the last version that had them.
        public var loginKeys: [String] = []
        /// Every key a version must hold.
        var checkedKeys: [String] { (requiredKeys + loginKeys).uniqued }
        /// Environment variable holding the same JSON or a connection URL,
        /// used when AWS and the emergency cache cannot serve.
        public var fallbackVariable: String?
        /// A required secret that is unavailable makes the secrets component unhealthy.
        public var required: Bool
        /// A pinned version (an endpoint read with `versionId`).
        public var versionID: String?
        /// The stage followed; nil is AWSCURRENT. For a parameter, its label.
        public var versionStage: String?
        /// Secrets Manager, or Parameter Store for an endpoint read of a parameter.
        public var store: ValueStore = .secretsManager
        /// Read through the endpoint and not configured: such reads share
        /// one metric label (`SecretsMetrics.otherLabel`), labels stay a fixed set.
        var isRead = false
        /// The `secret` label of its metrics.
        var label: String { isRead ? SecretsMetrics.otherLabel : name }

        public init(name: String, secretID: String, requiredKeys: [String] = [], fallbackVariable: String? = nil,
                    required: Bool = true) {
            self.name = name
            self.secretID = secretID
            self.requiredKeys = requiredKeys
            self.fallbackVariable = fallbackVariable
            self.required = required
        }
    }

    public var items: [Item]
    /// A cached value is served without asking AWS for this long (seconds).
    public var ttl: Double
    /// Past the TTL, a cached value may still be served while AWS fails, up to this age.
    public var emergencyTTL: Double
    /// Entries are refreshed in the background this long before their TTL ends.
    public var refreshAhead: Double
    /// Longest pause between two AWS attempts for a failing secret.
    public var maxBackoff: Double
    /// Secrets read by id (the endpoint) held besides the items, the least
    /// recently read evicted past it. Values are at most 64 KiB (AWS's
    /// limit), so this bounds the bytes too.
    public var readCapacity = 1000
    /// AWSPENDING on another version than AWSCURRENT longer than this is a stuck rotation (seconds).
    public var rotationWindow: Double = 3600
    /// `NextRotationDate` passed by more than this is an overdue rotation (seconds).
    public var rotationGrace: Double = 86_400

    public init(items: [Item], ttl: Double = 3600, emergencyTTL: Double = 86_400, refreshAhead: Double = 300,
                maxBackoff: Double = 60) {
        self.items = items
        self.ttl = ttl
        self.emergencyTTL = emergencyTTL
        self.refreshAhead = min(refreshAhead, ttl / 2)
        self.maxBackoff = maxBackoff
    }

    /// `<prefix>/<environment>/database/credentials` and `.../redis/credentials`,
    /// falling back to `DATABASE_URL` and `REDIS_URL`.
    public static func standardItems(prefix: String, environment: String) -> [Item] {
        [
            Item(name: "database", secretID: "\(prefix)/\(environment)/database/credentials",
                 requiredKeys: ["username", "password"], fallbackVariable: "DATABASE_URL"),
            Item(name: "redis", secretID: "\(prefix)/\(environment)/redis/credentials",
                 requiredKeys: ["password"], fallbackVariable: "REDIS_URL"),
        ]
    }
}
