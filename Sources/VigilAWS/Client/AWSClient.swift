import Dispatch
import FoundationEssentials
import Synchronization
import VigilCurl
import VigilGzip
import VigilPlatform

/// Signed AWS API calls over a blocking transport, with the SDKs' standard
/// retries. The synchronous methods block the calling thread: call them from
/// threads of your own; `async` callers use the `async` overloads, which run
/// the blocking work on a dedicated queue, off Swift's cooperative pool.
public final class AWSClient: Sendable {
    public let region: String
    public let endpoints: EndpointResolver
    public let credentials: any CredentialProvider
    public let retry: RetryPolicy
    let transport: any HTTPTransport
    public let metrics: AWSMetrics?
    /// Seconds allowed for one attempt.
    let attemptTimeout: Double
    let clock: @Sendable () -> UnixTime
    private let signer = SigV4Signer()
    /// Seconds added to the local clock when signing, learnt from the `Date`
    /// of a reply that rejected a request as skewed (a host whose clock is
    /// off by over 5 minutes is otherwise locked out of AWS).
    private let clockOffset = Atomic<Int>(0)
    /// Retry quotas of the services other than Secrets Manager (which uses `retry`'s).
    private let quotas = Locked<[AWSService: RetryPolicy]>([:])

    public init(region: String, credentials: any CredentialProvider, endpoints: EndpointResolver = EndpointResolver(),
                transport: any HTTPTransport = CurlTransport(), retry: RetryPolicy = RetryPolicy(),
                metrics: AWSMetrics? = nil, attemptTimeout: Double = 10,
                clock: @escaping @Sendable () -> UnixTime = { UnixTime.now }) {
        self.region = region
        self.credentials = credentials
        self.endpoints = endpoints
        self.transport = transport
        self.retry = retry
        self.metrics = metrics
        self.attemptTimeout = attemptTimeout
        self.clock = clock
    }

    /// The same identity, transport and settings in another region, for
    /// reading Secrets Manager replicas: its own retry quota (each region
    /// has its own), and Secrets Manager at `endpoint`, else the region's
    /// own endpoint (`AWS_ENDPOINT_URL*` and the configured URL name the
    /// primary's).
    public func inRegion(_ region: String, secretsManagerEndpoint endpoint: String?) -> AWSClient {
        AWSClient(region: region, credentials: credentials,
                  endpoints: EndpointResolver(configured: endpoint.map { [.secretsManager: $0] } ?? [:], environment: [:]),
                  transport: transport, retry: retry.withOwnQuota(), metrics: metrics, attemptTimeout: attemptTimeout, clock: clock)
    }

    /// A JSON-protocol call (Secrets Manager): `X-Amz-Target: <prefix>.<operation>`.
    /// `maxAttempts`: fewer attempts than the retry policy's (1: none
    /// repeated), for a caller whose own schedule is the retry.
    public func json(_ service: AWSService, operation: String, targetPrefix: String, body: [UInt8],
                     maxAttempts: Int? = nil) throws(AWSError) -> [UInt8] {
        try send(service, operation: operation, body: body, headers: [
            (name: "Content-Type", value: "application/x-amz-json-1.1"),
            (name: "X-Amz-Target", value: "\(targetPrefix).\(operation)"),
        ], signBodyHash: false, maxAttempts: maxAttempts)
    }

    /// A JSON-protocol call with a typed request and reply (Secrets Manager,
    /// Parameter Store); an answer that does not decode is `InvalidResponse`, transient.
    public func json<Request: Encodable, Reply: Decodable>(_ service: AWSService, operation: String, targetPrefix: String,
                                                            request: Request, maxAttempts: Int? = nil) throws(AWSError) -> Reply {
        let data = (try? JSONEncoder().encode(request)) ?? Data("{}".utf8)
        let answer = try json(service, operation: operation, targetPrefix: targetPrefix, body: Array(data), maxAttempts: maxAttempts)
        do {
            return try JSONDecoder().decode(Reply.self, from: Data(answer))
        } catch {
            throw AWSError(code: "InvalidResponse", message: "\(operation) answer could not be decoded", kind: .transient)
        }
    }

    /// A query-protocol call (CloudWatch, STS): a form-encoded POST. A body
    /// of `gzipThreshold` bytes or more is sent gzip-compressed, signed over
    /// the compressed bytes (`X-Amz-Content-SHA256`). `budget`: seconds the
    /// whole call (attempts and backoff) may take, for a final flush at exit.
    public func query(_ service: AWSService, action: String, version: String, parameters: [(String, String)],
                      gzipThreshold: Int? = nil, budget: Double? = nil) throws(AWSError) -> [UInt8] {
        var body = Array(URIEncoding.form([("Action", action), ("Version", version)] + parameters).utf8)
        var headers = [(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")]
        let gzip = gzipThreshold.map { body.count >= $0 } ?? false
        if gzip, let compressed = Gzip.compress(body) {
            body = compressed
            headers.append((name: "Content-Encoding", value: "gzip"))
        }
        return try send(service, operation: action, body: body, headers: headers, signBodyHash: gzip,
                        end: budget.map { ContinuousClock.now + .seconds($0) })
    }

    public func json(_ service: AWSService, operation: String, targetPrefix: String, body: [UInt8]) async throws(AWSError) -> [UInt8] {
        try await BlockingQueue.run { () throws(AWSError) in
            try self.json(service, operation: operation, targetPrefix: targetPrefix, body: body)
        }
    }

    /// Fixes what a rejected request says is wrong on our side: a skewed
    /// clock (from the reply's `Date`) or expired credentials (dropped, so
    /// the chain loads new ones). True when the request is worth repeating.
    private func repair(_ error: AWSError, reply: HTTPReply) -> Bool {
        if error.isClockSkew, let serverTime = reply.headers["date"].flatMap(UnixTime.init(httpDate:)) {
            let offset = Int((serverTime.seconds - clock().seconds).rounded())
            return clockOffset.exchange(offset, ordering: .relaxed) != offset
        }
        if error.isExpiredCredentials {
            credentials.invalidate()
            return true
        }
        return false
    }

    /// One attempt's timeout: the client's, cut to what is left before `end`.
    private func timeout(until end: ContinuousClock.Instant?) throws(AWSError) -> Double {
        guard let end else { return attemptTimeout }
        let left = ContinuousClock.now.duration(to: end)
        guard left > .milliseconds(10) else { throw AWSError(transport: .timeout) }
        return min(attemptTimeout, left.timeInterval)
    }

    /// Secrets Manager uses `retry`'s quota, every other service one of its own.
    func retryPolicy(for service: AWSService) -> RetryPolicy {
        guard service != .secretsManager else { return retry }
        return quotas.withLock { quotas in
            if let policy = quotas[service] { return policy }
            let policy = retry.withOwnQuota()
            quotas[service] = policy
            return policy
        }
    }

    private func send(_ service: AWSService, operation: String, body: [UInt8], headers: [(name: String, value: String)],
                      signBodyHash: Bool, end: ContinuousClock.Instant? = nil, maxAttempts: Int? = nil) throws(AWSError) -> [UInt8] {
        let endpoint = endpoints.endpoint(for: service, region: region)
        guard let url = URLComponents(string: endpoint), let host = url.host else {
            throw AWSError(code: "InvalidEndpoint", message: "endpoint for \(service.label) is not a URL", kind: .configuration)
        }
        let hostHeader = url.port.map { "\(host):\($0)" } ?? host
        let path = url.path.isEmpty ? "/" : url.path
        let retry = retryPolicy(for: service)
        var attempt = 1
        var lastKind: AWSError.Kind?
        var repaired = false
        while true {
            let credentials = try self.credentials.credentials()
            var request = SignableRequest(method: "POST", path: path,
                                          headers: [(name: "Host", value: hostHeader)] + headers, body: body)
            var options = SigV4Signer.Options()
            options.signBodyHash = signBodyHash
            signer.sign(&request, credentials: credentials, region: region, service: service.signingName,
                        date: clock().adding(Double(clockOffset.load(ordering: .relaxed))), options: options)
            let started = UnixTime.now
            let outcome = transport.perform(HTTPRequestSpec(method: "POST", url: url.path.isEmpty ? endpoint + "/" : endpoint,
                                                            headers: request.headers,
                                                            body: body, timeout: try timeout(until: end)))
            metrics?.requestSent(service, operation, seconds: UnixTime.now.seconds - started.seconds)
            let error: AWSError
            switch outcome {
            case .success(let reply) where (200..<300).contains(reply.status):
                retry.recordSuccess(attempts: attempt, lastErrorKind: lastKind)
                return reply.body
            case .success(let reply):
                error = AWSError(reply: reply)
                // One immediate retry, outside the quota, when the cause is ours to fix.
                if !repaired && repair(error, reply: reply) {
                    metrics?.failed(service, operation, error)
                    repaired = true
                    continue
                }
            case .failure(let failure): error = AWSError(transport: failure)
            }
            metrics?.failed(service, operation, error)
            guard attempt < maxAttempts ?? .max, let delay = retry.retryDelay(after: attempt, error: error),
                  end.map({ ContinuousClock.now + .seconds(delay) < $0 }) ?? true else { throw error }
            metrics?.retried(service, operation)
            retry.sleep(delay)
            attempt += 1
            lastKind = error.kind
        }
    }
}
