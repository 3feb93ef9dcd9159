/// What DescribeSecret says of a secret's life beside its versions: rotation,
/// deletion, replication. Read with the version check each refresh already
/// makes (no call of its own), kept per configured secret, and turned into
/// findings (`SecretFinding`) that say what will break before it does.
public struct SecretLifecycle: Sendable, Equatable {
    public var rotationEnabled = false
    /// `RotationRules.AutomaticallyAfterDays`, when set.
    public var rotationDays: Int?
    /// Unix seconds, as AWS sends them.
    public var lastRotated: Double?
    public var nextRotation: Double?
    public var lastChanged: Double?
    /// When the secret will be deleted: set while it is scheduled for deletion.
    public var deletion: Double?
    /// Each replica region's `ReplicationStatus` (`InSync`, `Failed`, `InProgress`).
    public var replicas: [Replica] = []
    /// The version AWSPENDING labels while it is not AWSCURRENT's, and since
    /// when Vigil has seen it so (a rotation under way, or one that stopped).
    public var pending: Pending?

    public struct Replica: Sendable, Equatable {
        public var region: String
        public var status: String

        /// AWS's `ReplicationStatusType`: the `status` label's fixed set.
        static let statuses = ["InSync", "InProgress", "Failed"]
        /// `status`, or `Failed` for a word AWS may add later.
        var fixedStatus: String { Self.statuses.contains(status) ? status : "Failed" }
        /// A failover to this region would serve AWSCURRENT's value.
        public var inSync: Bool { status == "InSync" }
    }

    public struct Pending: Sendable, Equatable {
        public var version: String
        /// Unix seconds.
        public var since: Double
    }

    public init() {}

    /// What needs someone's attention, `now` (Unix seconds): each finding a fixed reason.
    public func findings(now: Double, rotationWindow: Double, rotationGrace: Double) -> [SecretFinding] {
        var findings: [SecretFinding] = []
        if let nextRotation, rotationEnabled, now - nextRotation > rotationGrace { findings.append(.rotationOverdue) }
        if let pending, now - pending.since > rotationWindow { findings.append(.rotationStuck) }
        if deletion != nil { findings.append(.deletionScheduled) }
        if replicas.contains(where: { !$0.inSync }) { findings.append(.replicaOutOfSync) }
        return findings
    }
}

/// What a secret's description (or its value) shows will break, from a
/// fixed set: metric labels and `/health` reasons.
public enum SecretFinding: String, Sendable, CaseIterable {
    /// Rotation is on and `NextRotationDate` passed more than the grace ago.
    case rotationOverdue = "rotation_overdue"
    /// AWSPENDING has stood on another version than AWSCURRENT longer than the rotation window.
    case rotationStuck = "rotation_stuck"
    /// `DeleteSecret` with a recovery window: GetSecretValue fails from now on, the cached value is all there is.
    case deletionScheduled = "deletion_scheduled"
    /// A replica's `ReplicationStatus` is not `InSync`: a failover there serves an old value or none.
    case replicaOutOfSync = "replica_out_of_sync"
    /// AWSCURRENT lacks keys the item requires (a manual update that replaced
    /// the whole JSON): logins keep the last version that had them.
    case malformed
}
