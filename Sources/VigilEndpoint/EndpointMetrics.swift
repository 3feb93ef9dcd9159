import Prometheus
import VigilPlatform

/// How each endpoint request ended, from a fixed set (the `outcome` label).
public enum EndpointOutcome: String, Sendable, CaseIterable {
    /// A fresh cache entry.
    case hit
    /// Past the TTL while AWS fails.
    case stale
    /// A configured item's environment fallback.
    case environment
    /// Fetched from AWS for this request (a cold read, an idle entry revalidated).
    case miss
    /// Fetched from AWS because the caller asked (`refreshNow`).
    case refresh
    /// Outside the allow-list.
    case denied
    /// Missing or wrong token.
    case badToken = "bad_token"
    /// Bad method, path or parameters, `X-Forwarded-For`, or past the connection limit.
    case badRequest = "bad_request"
    /// AWS could not answer (its error is passed on) or did not in time.
    case error
    /// `/ping`.
    case ping
    /// `/secretsmanager/batch`, whatever each of its secrets came to.
    case batch
}

/// `vigil_endpoint_requests_total{outcome}` and the request latency, every
/// series created at start so `increase()` sees the first request.
final class EndpointMetrics: Sendable {
    private let counters: [EndpointOutcome: Counter]
    private let latency: ValueHistogram?
    /// Requests each token authorised, by its name (`default`: the endpoint's own).
    private let tokens: [String: Counter]

    /// From 100 µs (a cache hit takes ~20 µs in process) to AWS's seconds.
    static let buckets = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]

    init(registry: PrometheusCollectorRegistry?, tokens names: [String]) {
        var counters: [EndpointOutcome: Counter] = [:]
        for outcome in EndpointOutcome.allCases {
            counters[outcome] = registry?.counter("vigil_endpoint_requests_total",
                                                  "Requests to the secrets endpoint, by how they ended.", [("outcome", outcome.rawValue)])
        }
        self.counters = counters
        latency = registry?.histogram("vigil_endpoint_request_duration_seconds",
                                      "Time the secrets endpoint took to answer a request.", buckets: Self.buckets)
        var tokens: [String: Counter] = [:]
        for name in names {
            tokens[name] = registry?.counter("vigil_endpoint_token_requests_total",
                                             "Requests each token authorised, by its name (default: the endpoint's own token).",
                                             [("token", name)])
            tokens[name]?.increment(by: Int64(0))
        }
        self.tokens = tokens
    }

    func authorised(_ token: String) { tokens[token]?.increment() }

    func record(_ outcome: EndpointOutcome, seconds: Double) {
        counters[outcome]?.increment()
        latency?.record(seconds)
    }
}
