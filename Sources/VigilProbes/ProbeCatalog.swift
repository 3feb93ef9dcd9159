import VigilSecrets

/// What a probe factory may use beside its target's settings.
public struct ProbeContext: Sendable {
    public var secrets: SecretsClient
    /// Below it (over a window of lookups) the secrets probe is degraded.
    public var minimumHitRatio: Double

    public init(secrets: SecretsClient, minimumHitRatio: Double) {
        self.secrets = secrets
        self.minimumHitRatio = minimumHitRatio
    }
}

/// The table from probe kind to factory, as blackbox_exporter's prober
/// table. A new kind is one file under `Probes/`, one row here and its
/// settings in `VigilConfig.ProbeKind`; nothing else names kinds.
public enum ProbeCatalog {
    public typealias Factory = @Sendable (ProbeTarget, ProbeContext) -> any Probe

    public static let factories: [String: Factory] = [
        "postgres": { PostgresProbe(target: $0, context: $1) },
        "redis": { RedisProbe(target: $0, context: $1) },
        "http": { HTTPProbe(target: $0, context: $1) },
        "tcp": { TCPProbe(target: $0, context: $1) },
        "secrets": { SecretsProbe(target: $0, context: $1) },
    ]

    /// The probe for a target; nil for a kind without a factory (the configuration rejects those).
    public static func probe(for target: ProbeTarget, context: ProbeContext) -> (any Probe)? {
        factories[target.kind].map { $0(target, context) }
    }
}

extension Optional<String> {
    /// nil for an empty setting (`ca_file: ""` means the system's).
    var nonEmpty: String? { flatMap { $0.isEmpty ? nil : $0 } }
}
