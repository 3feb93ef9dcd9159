import VigilState

/// Vigil's endpoints. Every handler reads memory only: probe results from
/// the `HealthStore`, metrics from the registry. Nothing here waits on a
/// network peer.
public final class VigilRoutes: Sendable {
    public struct Options: Sendable {
        public var telemetryPath = "/metrics"
        public var unhealthyStatusCode = 503
        /// Scrapes within this many seconds share one rendering.
        public var telemetryCacheSeconds = 1.0
        public var version = "dev"
        /// Who sees `/health`'s details beyond the status words.
        public var showDetails = ShowDetails.whenAuthorized
        public init() {}
    }

    public enum ShowDetails: Sendable { case always, whenAuthorized, never }

    /// The paths a caller without credentials may read: the health checks,
    /// whose bodies then hold the status words only (a load balancer sends
    /// no credentials, and the details name hosts, ports and secrets).
    public static let openPaths: Set<String> = ["/health", "/health/live", "/health/ready"]

    private let store: HealthStore
    private let telemetry: Telemetry
    private let options: Options
    private let metricsCache: ResponseCache
    /// One per form of `/health`: JSON or `application/health+json`, by detail.
    private let healthCaches: [HealthForm: ResponseCache] = Dictionary(uniqueKeysWithValues: HealthDetail.allCases.flatMap { detail in
        [false, true].map { (HealthForm(ietf: $0, detail: detail), ResponseCache(maxAge: 1)) }
    })

    private struct HealthForm: Hashable {
        var ietf: Bool
        var detail: HealthDetail
    }
    private let landing: HTTPResponse
    private let notFound = HTTPResponse(status: 404, contentType: "text/plain; charset=utf-8", body: "404 page not found\n")
    private let notAllowed = HTTPResponse(status: 405, contentType: "text/plain; charset=utf-8", body: "405 method not allowed\n",
                                          headers: [(name: "Allow", value: "GET, HEAD")])
    private let live = HTTPResponse(status: 200, contentType: "text/plain; charset=utf-8", body: "ok\n")
    private let ready = HTTPResponse(status: 200, contentType: "text/plain; charset=utf-8", body: "ready\n")
    private let notReady = HTTPResponse(status: 503, contentType: "text/plain; charset=utf-8", body: "not ready\n")

    public init(store: HealthStore, telemetry: Telemetry, options: Options) {
        self.store = store
        self.telemetry = telemetry
        self.options = options
        metricsCache = ResponseCache(maxAge: options.telemetryCacheSeconds)
        landing = HTTPResponse(status: 200, contentType: "text/html; charset=utf-8",
                               body: LandingPage.html(version: options.version, telemetryPath: options.telemetryPath))
    }

    /// The server's handler: routes, answers and counts.
    public func respond(to request: HTTPRequest) -> HTTPResponse {
        let (handler, response) = route(request)
        telemetry.countRequest(handler: handler, code: response.status)
        return response
    }

    private func route(_ request: HTTPRequest) -> (handler: String, HTTPResponse) {
        let handler = switch request.path {
        case options.telemetryPath: "metrics"
        case "/health": "health"
        case "/health/live": "live"
        case "/health/ready": "ready"
        case "/": "landing"
        default: "other"
        }
        guard request.method == .get || request.method == .head else { return (handler, notAllowed) }
        switch handler {
        case "metrics": return (handler, metrics(request))
        case "health": return (handler, health(request))
        case "live": return (handler, live)
        case "ready": return (handler, store.isReady && store.snapshot().status != .unhealthy ? ready : notReady)
        case "landing": return (handler, landing)
        default: return (handler, notFound)
        }
    }

    private func metrics(_ request: HTTPRequest) -> HTTPResponse {
        metricsCache.response(key: 0, gzip: request.acceptsGzip) {
            HTTPResponse(status: 200, body: telemetry.exposition(),
                         headers: [(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")])
        }
    }

    private func health(_ request: HTTPRequest) -> HTTPResponse {
        let form = HealthForm(ietf: request.accept?.contains("application/health+json") == true, detail: detail(for: request))
        return healthCaches[form]!.response(key: store.generation, gzip: false) {
            let snapshot = store.snapshot()
            return HTTPResponse(status: snapshot.status == .unhealthy ? options.unhealthyStatusCode : 200,
                                contentType: form.ietf ? "application/health+json" : "application/json",
                                body: form.ietf ? snapshot.healthJSON(form.detail) : snapshot.json(form.detail))
        }
    }

    private func detail(for request: HTTPRequest) -> HealthDetail {
        let shown = switch options.showDetails {
        case .always: true
        case .whenAuthorized: request.authorized
        case .never: false
        }
        guard shown else { return .statusOnly }
        return request.query["verbose"] != nil ? .verbose : .full
    }
}
