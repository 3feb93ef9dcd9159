import VigilPlatform

/// An HTTP request for the transport: a full URL and raw bytes.
public struct HTTPRequestSpec: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Bound on the whole exchange, in seconds.
    public var timeout: Double

    public init(method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
                timeout: Double = 10) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

public struct HTTPReply: Sendable {
    public var status: Int
    /// Lower-cased names.
    public var headers: [String: String]
    public var body: [UInt8]
    /// Connections opened for this exchange: 0 when a kept-alive one was reused.
    public var newConnections: Int
    /// With `Options.reportsCertificates`, when this exchange shook hands
    /// over TLS: the PEM of each certificate the server sent, leaf first.
    public var peerCertificates: [String] = []

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = [], newConnections: Int = 0) {
        self.status = status
        self.headers = headers
        self.body = body
        self.newConnections = newConnections
    }
}

/// Why no HTTP response arrived. Texts are libcurl's, never request data.
public enum TransportError: Error, Sendable, Equatable {
    case timeout, dns, responseTooLarge
    /// Nothing listens on the port (or a firewall rejects): ECONNREFUSED.
    case refused
    case tls(String)
    case network(String)
}

/// Something that performs HTTP exchanges, blocking the calling thread.
public protocol HTTPTransport: Sendable {
    func perform(_ request: HTTPRequestSpec) -> Result<HTTPReply, TransportError>
}

/// HTTPS over libcurl: a pool of easy handles (each keeps its connections
/// alive), TLS verification on, proxy variables honoured (libcurl reads
/// `https_proxy`/`no_proxy` itself). Calls block: run them on threads of
/// your own, never on Swift's cooperative pool (`AWSClient` does this).
public final class CurlTransport: HTTPTransport {
    public struct Options: Sendable {
        public var connectTimeout: Double = 3
        /// A CA bundle for private endpoints; nil = the system's.
        public var caBundle: String?
        /// Connect through this Unix socket instead of to the URL's host.
        public var unixSocket: String?
        public var maxResponseBytes = 8 << 20
        /// Past `maxResponseBytes`: true answers with the status and the body
        /// cut there (a probe wants the status), false fails `responseTooLarge`.
        public var truncatesBody = false
        public var maxIdleHandles = 8
        /// Collect the server's certificates at each handshake (`peerCertificates`).
        public var reportsCertificates = false
        public init() {}
    }

    private let options: Options
    private let idle = Locked<[PooledHandle]>([])

    public init(options: Options = Options()) {
        _ = curlGlobalInit
        self.options = options
    }

    public func perform(_ request: HTTPRequestSpec) -> Result<HTTPReply, TransportError> {
        guard let pooled = idle.withLock({ $0.popLast() }) ?? CurlEasy().map(PooledHandle.init) else {
            return .failure(.network("cannot create a libcurl handle"))
        }
        let result = pooled.easy.perform(request, options: options)
        idle.withLock { handles in
            if handles.count < options.maxIdleHandles { handles.append(pooled) }
        }
        return result
    }
}

/// A handle at rest in the pool, used by one thread at a time.
private final class PooledHandle: @unchecked Sendable {
    let easy: CurlEasy
    init(_ easy: CurlEasy) { self.easy = easy }
}
