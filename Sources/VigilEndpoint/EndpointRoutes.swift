import Prometheus
import Synchronization
import VigilHTTP
import VigilPlatform
import VigilSecrets

/// The AWS Secrets Manager Agent's HTTP API over Vigil's secrets client.
/// Checks run in the agent's order: the connection limit, `X-Forwarded-For`
/// and the token (not for `/ping`), the method, then the route; the
/// server's own refusals are plain text as the agent's are, AWS's errors
/// its JSON. Every answer of a read says how it was served
/// (`X-Vigil-Source`, `Age`).
public final class EndpointRoutes: Sendable {
    public struct Options: Sendable {
        public var pathPrefix = "/v1/"
        public var tokenHeaders = ["X-Aws-Parameters-Secrets-Token", "X-Vault-Token"]
        public var maxConnections = 800
        /// Seconds a read waits for AWS.
        public var timeout = 5.0
        public var allow = AllowList([])
        public init() {}
    }

    private let secrets: SecretsClient
    private let token: EndpointToken
    private let options: Options
    /// `options.allow`, replaced by a reload (`update(allow:)`): a new
    /// `secrets.environment` or `endpoint.allow` takes effect at once.
    private let allow: Locked<AllowList>
    private let metrics: EndpointMetrics
    private let active = Atomic<Int>(0)
    private let canned: Canned
    /// The last answer per read, reused while it would be rendered the same:
    /// rendering and handing a new response to libmicrohttpd cost warm reads
    /// half their throughput (29,800 req/s against 55,900 for `/ping` on
    /// the same listener). Bounded like the cache it mirrors.
    private let rendered = Locked<[SecretQuery: (stamp: SecretJSON.Stamp, response: HTTPResponse)]>([:])
    /// Bounded like the cache it mirrors: `endpoint.cache_size` and the items, as a reload leaves them.
    private var renderedLimit: Int {
        let configuration = secrets.configuration
        return configuration.readCapacity + configuration.items.count
    }
    /// `options.tokenHeaders` as `HTTPRequest.headers` keys them.
    private let tokenHeaders: [String]

    /// The answers that never change, built once.
    private struct Canned {
        let healthy, tooMany, forwarded, badToken, notAllowed, notFound, missingID, missingPathID, badRefresh, badDecryption,
            denied: HTTPResponse
    }

    public init(secrets: SecretsClient, token: EndpointToken, options: Options, registry: PrometheusCollectorRegistry?) {
        self.secrets = secrets
        tokenHeaders = options.tokenHeaders.map { $0.lowercased() }
        self.token = token
        self.options = options
        allow = Locked(options.allow)
        metrics = EndpointMetrics(registry: registry)
        secrets.prepareReads()
        canned = Canned(healthy: Self.text(200, "healthy"), tooMany: Self.text(429, "Connection limit exceeded"),
                        forwarded: Self.text(400, "Forwarded"), badToken: Self.text(403, "Bad Token"),
                        notAllowed: Self.text(405, "Not allowed"), notFound: Self.text(404, "Not found"),
                        missingID: Self.text(400, "missing parameter secretId"), missingPathID: Self.text(400, "missing secret ID"),
                        badRefresh: Self.text(400, "invalid refreshNow value"), badDecryption: Self.text(400, "invalid withDecryption value"),
                        denied: Self.error(403, "AccessDeniedException", "the secret is not in Vigil's endpoint.allow"))
    }

    /// What a reload allows from now on. Answers rendered under the old list
    /// are dropped: they passed a check that may no longer hold.
    public func update(allow list: AllowList) {
        allow.withLock { $0 = list }
        rendered.withLock { $0.removeAll() }
    }

    /// The request headers the server must copy for these routes.
    public var requestHeaders: [String] { options.tokenHeaders + ["X-Forwarded-For"] }

    /// Answers at once but for a read the cache cannot answer fresh, which
    /// runs later, off libmicrohttpd's event loop (it may wait on AWS).
    public func respond(to request: HTTPRequest) -> HTTPAnswer {
        let started = SteadyClock.monotonicSeconds()
        let count = active.add(1, ordering: .relaxed).newValue
        switch answer(request, concurrent: count) {
        case .now(let response, let outcome):
            finish(outcome, since: started)
            return .now(response)
        case .later(let read):
            return .later(work: { [self] in
                let (response, outcome) = serve(read)
                finish(outcome, since: started)
                return response
            }, abandoned: { [self] in finish(.error, since: started) })
        }
    }

    private enum Answer {
        case now(HTTPResponse, EndpointOutcome)
        /// Past the allow-list, not a fresh hit.
        case later(ReadRequest)
    }

    private func finish(_ outcome: EndpointOutcome, since started: Double) {
        active.subtract(1, ordering: .relaxed)
        metrics.record(outcome, seconds: SteadyClock.monotonicSeconds() - started)
    }

    private func answer(_ request: HTTPRequest, concurrent: Int) -> Answer {
        let ping = request.path == "/ping"
        // Two more for health checks, as the agent allows them.
        guard concurrent <= options.maxConnections + (ping ? 2 : 0) else { return .now(canned.tooMany, .badRequest) }
        if !ping {
            guard request.headers["x-forwarded-for"] == nil else { return .now(canned.forwarded, .badRequest) }
            guard tokenHeaders.contains(where: { request.headers[$0].map(token.matches) ?? false }) else {
                return .now(canned.badToken, .badToken)
            }
        }
        guard request.method == .get else { return .now(canned.notAllowed, .badRequest) }
        if ping { return .now(canned.healthy, .ping) }
        let parsed: Result<ReadRequest, ReadRequest.Refusal>
        if request.path == "/secretsmanager/get" {
            parsed = ReadRequest.parse(id: request.query["secretId"], query: request.query, idParameter: "secretId")
        } else if request.path.hasPrefix(options.pathPrefix) {
            parsed = ReadRequest.parse(id: String(request.path.dropFirst(options.pathPrefix.count)), query: request.query,
                                       idParameter: nil)
        } else {
            return .now(canned.notFound, .badRequest)
        }
        switch parsed {
        case .failure(let refusal): return .now(response(for: refusal), .badRequest)
        case .success(let read):
            guard allow.withLock({ $0.allows(read.query.secretID) }) else { return .now(canned.denied, .denied) }
            guard !read.refreshNow, let found = secrets.cachedRead(read.query) else { return .later(read) }
            let (response, outcome) = checked(read, found)
            return .now(response, outcome)
        }
    }

    /// A read the cache cannot answer fresh: may wait on AWS up to `options.timeout`.
    private func serve(_ read: ReadRequest) -> (HTTPResponse, EndpointOutcome) {
        do throws(SecretReadError) {
            return checked(read, try secrets.read(read.query, maxWait: options.timeout, refreshNow: read.refreshNow))
        } catch {
            return (Self.error(error.status, error.code, error.message), .error)
        }
    }

    /// `found` as the answer, once the name AWS gave it passes the allow-list
    /// too; the rendered answer is reused while its stamp holds (it passed
    /// that check when it was rendered: the stamp holds the names).
    private func checked(_ read: ReadRequest, _ found: SecretRead) -> (HTTPResponse, EndpointOutcome) {
        let outcome: EndpointOutcome = switch found.source {
        case .cache: .hit
        case .stale: .stale
        case .environment: .environment
        case .aws: read.refreshNow ? .refresh : .miss
        }
        let stamp = SecretJSON.Stamp(found)
        if read.jsonKey == nil, let cached = rendered.withLock({ $0[read.query] }), cached.stamp == stamp { return (cached.response, outcome) }
        let named = [found.document.name, found.document.arn].compactMap { $0 }
        // Without a name from AWS (an environment fallback) the id's own check above stands.
        guard named.isEmpty || allow.withLock({ allow in named.contains(where: allow.allowsName) }) else { return (canned.denied, .denied) }
        if let key = read.jsonKey {
            switch JSONKey.value(of: key, in: found.value.revealed(), binary: found.document.binary) {
            case .success(let value): return (JSONKey.response(value, found), outcome)
            case .failure(let refusal): return (JSONKey.response(refusal, secret: read.query.secretID), .badRequest)
            }
        }
        let response = SecretJSON.response(found)
        let limit = renderedLimit
        rendered.withLock { rendered in
            if rendered.count >= limit && rendered[read.query] == nil { rendered.removeAll() }
            rendered[read.query] = (stamp, response)
        }
        return (response, outcome)
    }

    private func response(for refusal: ReadRequest.Refusal) -> HTTPResponse {
        switch refusal {
        case .missingID: canned.missingID
        case .missingPathID: canned.missingPathID
        case .badRefresh: canned.badRefresh
        case .badDecryption: canned.badDecryption
        case .unknownParameter(let name): Self.text(400, "unknown parameter: \(name)")
        case .tooLong: Self.error(400, "InvalidParameterException", "secret ids and versions are at most 2048 characters")
        }
    }

    private static func text(_ status: Int, _ body: String) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "text/plain; charset=utf-8", body: body)
    }

    static func error(_ status: Int, _ code: String, _ message: String) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json",
                     body: JSONWriter.object([("__type", JSONWriter.quote(code)), ("message", JSONWriter.quote(message))]))
    }
}
