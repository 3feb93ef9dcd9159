import Prometheus
import VigilPlatform

/// Vigil's AWS series in a swift-prometheus registry. Labels come from fixed
/// sets: service and operation names from code, error codes from
/// `AWSError.metricCode`.
public final class AWSMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Cumulative errors by metric code, for publishers that need deltas (CloudWatch).
    private let errorCounts = Locked<[String: Int]>([:])

    public var errorsByCode: [String: Int] { errorCounts.withLock { $0 } }

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    /// Where each service's calls go, for the fleet rules and dashboards:
    /// instances with the same region and endpoint share an AWS dependency.
    public func describe(region: String, endpoints: EndpointResolver, services: [AWSService]) {
        for service in services {
            registry.gauge("vigil_aws_endpoint_info", "The region and endpoint of each AWS service Vigil calls; the value is always 1.",
                           [("service", service.label), ("region", region),
                            ("endpoint", Self.withoutUserInfo(endpoints.endpoint(for: service, region: region)))])
                .set(to: 1)
        }
    }

    /// An endpoint URL as a label: `https://user:secret@host/` -> `https://host/` (a proxy's credentials never become one).
    static func withoutUserInfo(_ url: String) -> String { URLParts(url)?.withoutUserInfo ?? url }

    func requestSent(_ service: AWSService, _ operation: String, seconds: Double) {
        let labels = [("service", service.label), ("operation", operation)]
        registry.counter("vigil_aws_requests_total", "HTTP requests sent to AWS (every attempt).", labels).increment()
        registry.histogram("vigil_aws_request_duration_seconds", "Duration of AWS HTTP requests.", labels, buckets: buckets)
            .record(seconds)
    }

    func failed(_ service: AWSService, _ operation: String, _ error: AWSError) {
        errorCounts.withLock { $0[error.metricCode, default: 0] += 1 }
        registry.counter("vigil_aws_errors_total", "Failed AWS requests by error code (known AWS codes, Network, Timeout, Other).",
                [("service", service.label), ("operation", operation), ("code", error.metricCode)]).increment()
    }

    func retried(_ service: AWSService, _ operation: String) {
        registry.counter("vigil_aws_retries_total", "AWS requests retried.",
                [("service", service.label), ("operation", operation)]).increment()
    }

    /// Publishes when the current credentials expire (0 for long-term keys).
    public func credentialsExpire(at expiry: UnixTime?) {
        registry.gauge("vigil_aws_credentials_expiry_timestamp_seconds",
                       "Unix time the AWS credentials in use expire; 0 for long-term keys.").set(expiry?.seconds ?? 0)
    }
}
