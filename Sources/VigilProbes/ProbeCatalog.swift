import VigilConfig
import VigilSecrets

/// What a probe may use beside its target's settings.
public struct ProbeContext: Sendable {
    public var secrets: SecretsClient
    /// Below it (over a window of lookups) the secrets probe is degraded.
    public var minimumHitRatio: Double

    public init(secrets: SecretsClient, minimumHitRatio: Double) {
        self.secrets = secrets
        self.minimumHitRatio = minimumHitRatio
    }
}

/// A probe kind with its run: one type, in one file under `Probes/`, that
/// declares its settings (typed), its credentials and the reasons it can
/// fail with, and builds its probe from a target's typed settings.
public protocol KindProbe: Probe, ProbeKind {
    init(target: ProbeTarget<Settings>, context: ProbeContext)
}

/// The one list of probe kinds, as blackbox_exporter's prober table: the
/// configuration is loaded against it (`VigilConfig.load(kinds:)`) and
/// probes are built from it. A new kind is one file under `Probes/` and
/// one entry here.
public enum ProbeCatalog {
    public static let kinds: [any KindProbe.Type] = [PostgresProbe.self, RedisProbe.self, HTTPProbe.self, TCPProbe.self,
                                                     SMTPProbe.self, SecretsProbe.self]

    /// The probe for a configured target; nil for a kind not in `kinds` (a
    /// configuration loaded against other kinds).
    public static func probe(for target: VigilConfig.Probe, context: ProbeContext) -> (any Probe)? {
        (target.kind as? any KindProbe.Type)?.make(target, context: context)
    }
}

extension KindProbe {
    /// The configuration built `settings` with this kind's `read`.
    fileprivate static func make(_ target: VigilConfig.Probe, context: ProbeContext) -> Self? {
        guard let settings = target.settings as? Settings else { return nil }
        return Self(target: ProbeTarget(name: target.name, secret: target.secret, settings: settings), context: context)
    }
}

/// `ca_file`'s help, for the kinds that verify a server's certificate.
let caFileHelp = "CA file to verify the server's certificate (libpq `sslrootcert` for postgres); empty = the system's."
