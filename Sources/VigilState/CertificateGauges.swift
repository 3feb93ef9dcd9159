import Prometheus
import VigilPlatform
import VigilResults

/// When each TLS certificate Vigil meets (a probe's peer) or serves (a
/// listener) stops being valid: `vigil_tls_not_after_timestamp_seconds`,
/// the leaf's and the earliest in its chain, labelled with the leaf's
/// issuer. A renewal by another CA replaces the series rather than adding
/// one, so no alert keeps firing on a certificate no longer in use.
public final class CertificateGauges: Sendable {
    /// Who holds a certificate: the probe that met it, or the listener serving it.
    public enum Holder: Hashable, Sendable {
        case probe(String)
        case listener(String)

        var labels: [(String, String)] {
            switch self {
            case .probe(let name): [("probe", name)]
            case .listener(let name): [("listener", name)]
            }
        }
    }

    static let name = "vigil_tls_not_after_timestamp_seconds"
    static let help = "Unix time a TLS certificate stops being valid: the leaf's (certificate=\"leaf\") and the earliest in its chain "
        + "(certificate=\"earliest\"), by the probe that met it or the listener that serves it, with the leaf's issuer."

    private let registry: PrometheusCollectorRegistry
    private let held = Locked<[Holder: CertificateExpiry]>([:])

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    /// Sets a holder's series; nil (a listener without TLS) removes them.
    public func record(_ expiry: CertificateExpiry?, of holder: Holder) {
        held.withLock { held in
            let previous = held[holder]
            if let previous, previous.issuer != expiry?.issuer {
                for labels in Self.labels(previous, holder) { registry.unregisterGauge(registry.gauge(Self.name, Self.help, labels.labels)) }
            }
            held[holder] = expiry
            guard let expiry else { return }
            for labels in Self.labels(expiry, holder) { registry.gauge(Self.name, Self.help, labels.labels).set(labels.value) }
        }
    }

    /// Drops the series of probes a reload removed.
    func forget(probes: [String]) {
        for probe in probes { record(nil, of: .probe(probe)) }
    }

    /// The soonest not-after of every certificate held, or nil without any:
    /// CloudWatch's `CertificateDaysLeft`.
    public var earliest: Double? { held.withLock { $0.values.map(\.earliest).min() } }

    private static func labels(_ expiry: CertificateExpiry, _ holder: Holder) -> [(labels: [(String, String)], value: Double)] {
        [("leaf", expiry.leaf), ("earliest", expiry.earliest)].map { certificate, value in
            (holder.labels + [("certificate", certificate), ("issuer", expiry.issuer)], value)
        }
    }
}
