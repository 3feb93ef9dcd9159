import VigilHTTP
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
        /// Added to every response (`http_server_config.headers`).
        public var headers: [(name: String, value: String)] = []
        /// `POST /-/reload` (Prometheus's lifecycle API, `--web.enable-lifecycle`); nil: 403.
        public var reload: (@Sendable () -> ReloadOutcome)?
        public init() {}
    }

    public enum ShowDetails: Sendable { case always, whenAuthorized, never }

    /// The paths a caller without credentials may read: the health checks,
    /// whose bodies then hold the status words only (a load balancer sends
    /// no credentials, and the details name hosts, ports and secrets).
    public static let openPaths: Set<String> = ["/health", "/health/live", "/health/ready"]
    /// The open paths whose answers are the same for every caller: the
    /// server need not look at their credentials (no bcrypt check there).
    public static let uncheckedPaths: Set<String> = ["/health/live", "/health/ready"]

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
    private let landing, notFound, notAllowed, live, ready, notReady, lifecycleOff, reloadOnly: HTTPResponse

    public init(store: HealthStore, telemetry: Telemetry, options: Options) {
        self.store = store
        self.telemetry = telemetry
        self.options = options
        metricsCache = ResponseCache(maxAge: options.telemetryCacheSeconds)
        func text(_ status: Int, _ body: String, _ headers: [(name: String, value: String)] = []) -> HTTPResponse {
            HTTPResponse(status: status, contentType: "text/plain; charset=utf-8", body: body, headers: headers + options.headers)
        }
        landing = HTTPResponse(status: 200, contentType: "text/html; charset=utf-8",
                               body: LandingPage.html(version: options.version, telemetryPath: options.telemetryPath),
                               headers: options.headers)
        notFound = text(404, "404 page not found\n")
        notAllowed = text(405, "405 method not allowed\n", [(name: "Allow", value: "GET, HEAD")])
        live = text(200, "ok\n")
        ready = text(200, "ready\n")
        notReady = text(503, "not ready\n")
        lifecycleOff = text(403, "Lifecycle API is not enabled (--web.enable-lifecycle).\n")
        reloadOnly = text(405, "405 method not allowed\n", [(name: "Allow", value: "POST, PUT")])
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
        case "/-/reload": "reload"
        default: "other"
        }
        if handler == "reload" { return (handler, reload(request)) }
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
                         headers: [(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")] + options.headers)
        }
    }

    /// Prometheus's `POST|PUT /-/reload`: 200 once the configuration is
    /// applied, 500 with the problems when it is refused (the running one stays).
    private func reload(_ request: HTTPRequest) -> HTTPResponse {
        guard let reload = options.reload else { return lifecycleOff }
        guard request.method == .other("POST") || request.method == .other("PUT") else { return reloadOnly }
        let outcome = reload()
        return HTTPResponse(status: outcome.succeeded ? 200 : 500, contentType: "text/plain; charset=utf-8",
                            body: outcome.message + "\n", headers: options.headers)
    }

    private func health(_ request: HTTPRequest) -> HTTPResponse {
        let form = HealthForm(ietf: request.accept?.contains("application/health+json") == true, detail: detail(for: request))
        return healthCaches[form]!.response(key: store.generation, gzip: false) {
            let snapshot = store.snapshot()
            return HTTPResponse(status: snapshot.status == .unhealthy ? options.unhealthyStatusCode : 200,
                                contentType: form.ietf ? "application/health+json" : "application/json",
                                body: form.ietf ? snapshot.healthJSON(form.detail) : snapshot.json(form.detail),
                                headers: options.headers)
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

/// What a configuration reload came to.
public struct ReloadOutcome: Sendable {
    public var succeeded: Bool
    /// For the caller of `/-/reload`: "configuration reloaded", or the problems.
    public var message: String

    public init(succeeded: Bool, message: String) {
        self.succeeded = succeeded
        self.message = message
    }
}
