import Dispatch
import FoundationEssentials
import VigilGzip

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

    /// A JSON-protocol call (Secrets Manager): `X-Amz-Target: <prefix>.<operation>`.
    public func json(_ service: AWSService, operation: String, targetPrefix: String, body: [UInt8]) throws(AWSError) -> [UInt8] {
        try send(service, operation: operation, body: body, headers: [
            (name: "Content-Type", value: "application/x-amz-json-1.1"),
            (name: "X-Amz-Target", value: "\(targetPrefix).\(operation)"),
        ], signBodyHash: false)
    }

    /// A query-protocol call (CloudWatch, STS): a form-encoded POST. A body
    /// of `gzipThreshold` bytes or more is sent gzip-compressed, signed over
    /// the compressed bytes (`X-Amz-Content-SHA256`).
    public func query(_ service: AWSService, action: String, version: String, parameters: [(String, String)],
                      gzipThreshold: Int? = nil) throws(AWSError) -> [UInt8] {
        var body = Array(URIEncoding.form([("Action", action), ("Version", version)] + parameters).utf8)
        var headers = [(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")]
        let gzip = gzipThreshold.map { body.count >= $0 } ?? false
        if gzip, let compressed = Gzip.compress(body) {
            body = compressed
            headers.append((name: "Content-Encoding", value: "gzip"))
        }
        return try send(service, operation: action, body: body, headers: headers, signBodyHash: gzip)
    }

    public func json(_ service: AWSService, operation: String, targetPrefix: String, body: [UInt8]) async throws(AWSError) -> [UInt8] {
        try await BlockingQueue.run { () throws(AWSError) in
            try self.json(service, operation: operation, targetPrefix: targetPrefix, body: body)
        }
    }

    private func send(_ service: AWSService, operation: String, body: [UInt8], headers: [(name: String, value: String)],
                      signBodyHash: Bool) throws(AWSError) -> [UInt8] {
        let endpoint = endpoints.endpoint(for: service, region: region)
        guard let url = URLComponents(string: endpoint), let host = url.host else {
            throw AWSError(code: "InvalidEndpoint", message: "endpoint for \(service.label) is not a URL", kind: .configuration)
        }
        let hostHeader = url.port.map { "\(host):\($0)" } ?? host
        let path = url.path.isEmpty ? "/" : url.path
        var attempt = 1
        var lastKind: AWSError.Kind?
        while true {
            let credentials = try self.credentials.credentials()
            var request = SignableRequest(method: "POST", path: path,
                                          headers: [(name: "Host", value: hostHeader)] + headers, body: body)
            var options = SigV4Signer.Options()
            options.signBodyHash = signBodyHash
            signer.sign(&request, credentials: credentials, region: region, service: service.signingName,
                        date: clock(), options: options)
            let started = UnixTime.now
            let outcome = transport.perform(HTTPRequestSpec(method: "POST", url: url.path.isEmpty ? endpoint + "/" : endpoint,
                                                            headers: request.headers,
                                                            body: body, timeout: attemptTimeout))
            metrics?.requestSent(service, operation, seconds: UnixTime.now.seconds - started.seconds)
            let error: AWSError
            switch outcome {
            case .success(let reply) where (200..<300).contains(reply.status):
                retry.recordSuccess(attempts: attempt, lastErrorKind: lastKind)
                return reply.body
            case .success(let reply): error = AWSError(reply: reply)
            case .failure(let failure): error = AWSError(transport: failure)
            }
            metrics?.failed(service, operation, error)
            guard let delay = retry.retryDelay(after: attempt, error: error) else { throw error }
            metrics?.retried(service, operation)
            retry.sleep(delay)
            attempt += 1
            lastKind = error.kind
        }
    }
}
