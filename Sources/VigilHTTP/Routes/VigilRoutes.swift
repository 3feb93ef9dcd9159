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
        public init() {}
    }

    private let store: HealthStore
    private let telemetry: Telemetry
    private let options: Options
    private let metricsCache: ResponseCache
    /// `/health`, `/health?verbose` and the `application/health+json` form.
    private let healthCaches = (plain: ResponseCache(maxAge: 1), verbose: ResponseCache(maxAge: 1), ietf: ResponseCache(maxAge: 1))
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
        let ietf = request.accept?.contains("application/health+json") == true
        let verbose = request.query["verbose"] != nil
        let cache = ietf ? healthCaches.ietf : verbose ? healthCaches.verbose : healthCaches.plain
        return cache.response(key: store.generation, gzip: false) {
            let snapshot = store.snapshot()
            return HTTPResponse(status: snapshot.status == .unhealthy ? options.unhealthyStatusCode : 200,
                                contentType: ietf ? "application/health+json" : "application/json",
                                body: ietf ? snapshot.healthJSON() : snapshot.json(verbose: verbose))
        }
    }
}
