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
        /// Long polls held at once, and the longest `wait` (seconds).
        public var maxWaiters = 1000
        public var maxWait = 300.0
        public init() {}
    }

    /// A token and what it may read: the endpoint's own (`default`, with
    /// `endpoint.allow`) or an application's (`endpoint.tokens`).
    public struct Grant: Sendable {
        public var name: String
        public var token: EndpointToken
        public var allow: AllowList

        public init(name: String, token: EndpointToken, allow: AllowList) {
            (self.name, self.token, self.allow) = (name, token, allow)
        }
    }

    private let secrets: SecretsClient
    private let options: Options
    /// The endpoint's own token first, with `endpoint.allow`, which a reload
    /// replaces (`update(allow:)`: a new `secrets.environment` or
    /// `endpoint.allow` takes effect at once); then each application's.
    private let grants: Locked<[Grant]>
    /// The parameters the endpoint's own token may read (`endpoint.allow_parameters`);
    /// an application's token reads none.
    private let parameters: Locked<AllowList>
    private let metrics: EndpointMetrics
    private let active = Atomic<Int>(0)
    /// Reads waiting for another version (`wait`): suspended, holding no thread.
    private let polls: LongPolls
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
            denied, deniedParameter, tooManyWaiters: HTTPResponse
    }

    /// `grants`: the endpoint's own token first (the list a reload replaces),
    /// then the applications' of `endpoint.tokens`.
    public init(secrets: SecretsClient, grants: [Grant], parameters: AllowList = AllowList([]), options: Options,
                registry: PrometheusCollectorRegistry?) {
        precondition(!grants.isEmpty, "the endpoint's own token comes first")
        self.secrets = secrets
        self.parameters = Locked(parameters)
        tokenHeaders = options.tokenHeaders.map { $0.lowercased() }
        self.options = options
        self.grants = Locked(grants)
        metrics = EndpointMetrics(registry: registry, tokens: grants.map(\.name))
        secrets.prepareReads()
        canned = Canned(healthy: Self.text(200, "healthy"), tooMany: Self.text(429, "Connection limit exceeded"),
                        forwarded: Self.text(400, "Forwarded"), badToken: Self.text(403, "Bad Token"),
                        notAllowed: Self.text(405, "Not allowed"), notFound: Self.text(404, "Not found"),
                        missingID: Self.text(400, "missing parameter secretId"), missingPathID: Self.text(400, "missing secret ID"),
                        badRefresh: Self.text(400, "invalid refreshNow value"), badDecryption: Self.text(400, "invalid withDecryption value"),
                        denied: Self.error(403, "AccessDeniedException", Self.outsideAllowList),
                        deniedParameter: Self.error(403, "AccessDeniedException",
                                                    "the parameter is not in Vigil's endpoint.allow_parameters (read with the endpoint's own token)"),
                        // Past endpoint.max_waiters: a 304 at once would have the client poll in a loop.
                        tooManyWaiters: HTTPResponse(status: 503, contentType: "text/plain; charset=utf-8",
                                                     body: "too many long polls waiting: retry later", headers: [("Retry-After", "5")]))
        polls = LongPolls(limit: options.maxWaiters, registry: registry)
        polls.startSweeping { [self] waiter in current(waiter, expired: true) ?? Self.notModified }
        secrets.onStateChange { [self] in polls.recheck { current($0, expired: false) } }
    }

    /// A long poll whose secret Vigil no longer holds, at its deadline.
    private static let notModified = HTTPResponse(status: 304, body: [], headers: [])

    /// A waiter's answer now: 200 once its secret serves another version
    /// (through the same checks as any read), else its 304 when `expired`
    /// (nil: it goes on waiting).
    private func current(_ waiter: LongPolls.Waiter, expired: Bool) -> HTTPResponse? {
        guard let found = secrets.cachedRead(waiter.read.query) else { return expired ? Self.notModified : nil }
        let (response, _) = checked(waiter.read, found, waiter.allow)
        return response.status == 304 && !expired ? nil : response
    }

    /// Suspends the request until its secret serves another version or
    /// `wait` seconds pass; past `endpoint.max_waiters`, 503 at once.
    private func park(_ read: ReadRequest, _ allow: AllowList, wait: Double) -> HTTPAnswer {
        .parked { [self] answer in
            let waiter = LongPolls.Waiter(read: read, allow: allow, deadline: SteadyClock.monotonicSeconds() + wait, answer: answer)
            guard let id = polls.add(waiter) else { return answer(canned.tooManyWaiters) }
            // A change between the read and `add` told nobody: look once more.
            polls.recheck(only: id) { current($0, expired: false) }
        }
    }

    /// What a reload allows from now on. Answers rendered under the old list
    /// are dropped: they passed a check that may no longer hold.
    public func update(allow list: AllowList, parameters: AllowList) {
        grants.withLock { $0[0].allow = list }
        self.parameters.withLock { $0 = parameters }
        rendered.withLock { $0.removeAll() }
        // Long polls passed the old list: each is answered 304 now, and asks again under the new one.
        polls.recheck { _ in Self.notModified }
    }

    /// The request headers the server must copy for these routes.
    public var requestHeaders: [String] { options.tokenHeaders + ["X-Forwarded-For", "If-None-Match"] }

    /// Answers at once but for a read the cache cannot answer fresh, which
    /// runs later, off libmicrohttpd's event loop (it may wait on AWS).
    public func respond(to request: HTTPRequest) -> HTTPAnswer {
        let started = SteadyClock.monotonicSeconds()
        let count = active.add(1, ordering: .relaxed).newValue
        switch answer(request, concurrent: count) {
        case .now(let response, let outcome):
            finish(outcome, since: started)
            return .now(response)
        case .batch(let ids, let allow):
            return .later(work: { [self] in
                let response = batch(ids, allow)
                finish(.batch, since: started)
                return response
            }, abandoned: { [self] in finish(.error, since: started) })
        case .wait(let read, let allow, let wait, let outcome):
            finish(outcome, since: started)  // counted now: a long poll holds no request slot
            return park(read, allow, wait: wait)
        case .later(let read, let allow):
            return .later(work: { [self] in
                let (response, outcome) = serve(read, allow)
                finish(outcome, since: started)
                return response
            }, abandoned: { [self] in finish(.error, since: started) })
        }
    }

    private enum Answer {
        case now(HTTPResponse, EndpointOutcome)
        /// Past the allow-list (the one of the token presented), not a fresh hit.
        case later(ReadRequest, AllowList)
        /// `/secretsmanager/batch`: these ids, read at once off the event loop.
        case batch([String], AllowList)
        /// A fresh hit the client holds, which asked to wait (seconds) for another version.
        case wait(ReadRequest, AllowList, Double, EndpointOutcome)
    }

    private func finish(_ outcome: EndpointOutcome, since started: Double) {
        active.subtract(1, ordering: .relaxed)
        metrics.record(outcome, seconds: SteadyClock.monotonicSeconds() - started)
    }

    private func answer(_ request: HTTPRequest, concurrent: Int) -> Answer {
        let ping = request.path == "/ping"
        // Two more for health checks, as the agent allows them.
        guard concurrent <= options.maxConnections + (ping ? 2 : 0) else { return .now(canned.tooMany, .badRequest) }
        var allow = AllowList([])
        var ownToken = false
        if !ping {
            guard request.headers["x-forwarded-for"] == nil else { return .now(canned.forwarded, .badRequest) }
            guard let (index, grant) = grants.withLock({ grants in
                grants.enumerated().first { _, grant in tokenHeaders.contains { request.headers[$0].map(grant.token.matches) ?? false } }
            }) else {
                return .now(canned.badToken, .badToken)
            }
            metrics.authorised(grant.name)
            allow = grant.allow
            ownToken = index == 0  // the endpoint's own token (an application's may be named anything)
        }
        guard request.method == .get else { return .now(canned.notAllowed, .badRequest) }
        if ping { return .now(canned.healthy, .ping) }
        if request.path == "/secretsmanager/batch" { return batchRequest(request, allow) }
        let parsed: Result<ReadRequest, ReadRequest.Refusal>
        if request.path == "/secretsmanager/get" {
            parsed = ReadRequest.parse(id: request.query["secretId"], query: request.query, idParameter: "secretId")
        } else if request.path == "/systemsmanager/parameters/get" {
            parsed = ReadRequest.parseParameter(request.query)
            allow = ownToken ? parameters.withLock { $0 } : AllowList([])
        } else if request.path.hasPrefix(options.pathPrefix) {
            parsed = ReadRequest.parse(id: String(request.path.dropFirst(options.pathPrefix.count)), query: request.query,
                                       idParameter: nil)
        } else {
            return .now(canned.notFound, .badRequest)
        }
        switch parsed {
        case .failure(let refusal): return .now(response(for: refusal), .badRequest)
        case .success(var read):
            guard allow.allows(read.query.secretID) else { return .now(denied(read), .denied) }
            read.ifNoneMatch = request.headers["if-none-match"]
            guard !read.refreshNow, let found = secrets.cachedRead(read.query) else { return .later(read, allow) }
            let (response, outcome) = checked(read, found, allow)
            if response.status == 304, let wait = read.wait, wait > 0 { return .wait(read, allow, min(wait, options.maxWait), outcome) }
            return .now(response, outcome)
        }
    }

    /// A read the cache cannot answer fresh: may wait on AWS up to `options.timeout`.
    private func serve(_ read: ReadRequest, _ allow: AllowList) -> (HTTPResponse, EndpointOutcome) {
        do throws(SecretReadError) {
            return checked(read, try secrets.read(read.query, maxWait: options.timeout, refreshNow: read.refreshNow), allow)
        } catch {
            return (Self.error(error.status, error.code, error.message), .error)
        }
    }

    /// `found` as the answer, once the name AWS gave it passes the allow-list
    /// too (each token its own: checked before the rendered answer is
    /// reused, which is while its stamp holds).
    private func checked(_ read: ReadRequest, _ found: SecretRead, _ allow: AllowList) -> (HTTPResponse, EndpointOutcome) {
        let outcome: EndpointOutcome = switch found.source {
        case .cache: .hit
        case .stale: .stale
        case .environment: .environment
        case .aws: read.refreshNow ? .refresh : .miss
        }
        guard Self.allows(found, allow) else { return (denied(read), .denied) }
        if let etag = SecretJSON.etag(found), read.holds(etag) { return (SecretJSON.notModified(found), outcome) }
        let stamp = SecretJSON.Stamp(found)
        if read.jsonKey == nil, let cached = rendered.withLock({ $0[read.query] }), cached.stamp == stamp { return (cached.response, outcome) }
        if let key = read.jsonKey {
            switch JSONKey.value(of: key, in: found.value.revealed(), binary: found.document.binary) {
            case .success(let value): return (JSONKey.response(value, found), outcome)
            case .failure(let refusal): return (JSONKey.response(refusal, secret: read.query.secretID), .badRequest)
            }
        }
        let response = read.query.store == .secretsManager ? SecretJSON.response(found) : ParameterJSON.response(found)
        let limit = renderedLimit
        rendered.withLock { rendered in
            if rendered.count >= limit && rendered[read.query] == nil { rendered.removeAll() }
            rendered[read.query] = (stamp, response)
        }
        return (response, outcome)
    }

    private func denied(_ read: ReadRequest) -> HTTPResponse { read.query.store == .secretsManager ? canned.denied : canned.deniedParameter }

    /// Why an id, or the name AWS gave the secret, is refused.
    private static let outsideAllowList = "the secret is not in Vigil's endpoint.allow"

    /// The name and ARN AWS gave `found` pass `allow` too; without them (an
    /// environment fallback) the id's own check stands.
    private static func allows(_ found: SecretRead, _ allow: AllowList) -> Bool {
        let named = [found.document.name, found.document.arn].compactMap { $0 }
        return named.isEmpty || named.contains(where: allow.allowsName)
    }

    /// Most ids one batch request may name: five BatchGetSecretValue calls.
    static let maxBatch = 100

    /// `GET /secretsmanager/batch?secretId=A&secretId=B...`, checked.
    private func batchRequest(_ request: HTTPRequest, _ allow: AllowList) -> Answer {
        if let unknown = request.query.keys.filter({ $0 != "secretId" }).min() {
            return .now(Self.text(400, "unknown parameter: \(unknown)"), .badRequest)
        }
        var seen = Set<String>()
        let ids = request.values(of: "secretId").filter { seen.insert($0).inserted }  // each once, in order
        guard !ids.isEmpty, !ids.contains(where: \.isEmpty) else { return .now(canned.missingID, .badRequest) }
        guard ids.count <= Self.maxBatch, ids.allSatisfy({ $0.utf8.count <= ReadRequest.maxLength }) else {
            return .now(Self.error(400, "InvalidParameterException", "at most \(Self.maxBatch) secret ids of at most 2048 characters"),
                        .badRequest)
        }
        return .batch(ids, allow)
    }

    /// BatchGetSecretValue's answer for `ids`: the ids outside the allow-list
    /// in `Errors` without an AWS call, the others read together (the cold
    /// ones in one BatchGetSecretValue per 20), each in `SecretValues` as
    /// GetSecretValue's fields or in `Errors` with AWS's code.
    private func batch(_ ids: [String], _ allow: AllowList) -> HTTPResponse {
        let allowed = ids.filter(allow.allows)
        let reads = secrets.readBatch(allowed.map { SecretQuery(secretID: $0, versionID: nil, versionStage: nil) }, maxWait: options.timeout)
        func error(_ id: String, _ code: String, _ message: String) -> String {
            JSONWriter.object([("SecretId", JSONWriter.quote(id)), ("ErrorCode", JSONWriter.quote(code)), ("Message", JSONWriter.quote(message))])
        }
        var values: [String] = [], errors = ids.filter { !allow.allows($0) }.map { error($0, "AccessDeniedException", Self.outsideAllowList) }
        for (id, result) in zip(allowed, reads) {
            switch result {
            case .success(let found):
                if Self.allows(found, allow) { values.append(SecretJSON.body(found)) } else {
                    errors.append(error(id, "AccessDeniedException", Self.outsideAllowList))
                }
            case .failure(let failure): errors.append(error(id, failure.code, failure.message))
            }
        }
        return HTTPResponse(status: 200, contentType: "application/json",
                            body: JSONWriter.object([("SecretValues", "[" + values.joined(separator: ",") + "]"),
                                                     ("Errors", "[" + errors.joined(separator: ",") + "]")]))
    }

    private func response(for refusal: ReadRequest.Refusal) -> HTTPResponse {
        switch refusal {
        case .missingID: canned.missingID
        case .missingPathID: canned.missingPathID
        case .badRefresh: canned.badRefresh
        case .badDecryption: canned.badDecryption
        case .badWait: Self.text(400, "invalid wait value: seconds, or a duration such as 30s")
        case .unknownParameter(let name): Self.text(400, "unknown parameter: \(name)")
        case .tooLong: Self.error(400, "InvalidParameterException", "secret ids and versions are at most 2048 characters")
        case .missingName: Self.text(400, "missing parameter name")
        case .secretReference: Self.error(400, "ValidationException", "read secrets at /secretsmanager/get, not through /aws/reference/secretsmanager/")
        case .badSelector: Self.error(400, "ValidationException", "version must be a number, and version and label cannot both be given")
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
