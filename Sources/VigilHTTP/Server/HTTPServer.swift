import CMicroHTTPD
import VigilPlatform
#if canImport(Glibc)
import Glibc
#endif

/// The HTTP server: libmicrohttpd with an epoll thread pool, owned by this
/// one type. Routes are a plain Swift function from request to response and
/// run on libmicrohttpd's threads, so they must never block on the network.
public final class HTTPServer: Sendable {
    public struct Options: Sendable {
        public var threads: Int = 4
        public var connectionLimit: Int = 1024
        /// Connections from one client address (0: no limit).
        public var perAddressLimit: Int = 128
        public var idleTimeoutSeconds: Int = 60
        /// Per-connection memory: also bounds the request line and headers;
        /// libmicrohttpd answers 414/431 past it without calling a route.
        public var connectionMemoryLimit: Int = 32 * 1024
        /// PEM key and certificate: serve HTTPS.
        public var tls: (key: String, certificate: String)?
        /// Basic auth users; nil lets everyone in.
        public var users: BasicAuthUsers?
        /// Paths answered without credentials too (the handler sees
        /// `authorized` false): health checks, since load balancers send none.
        public var openPaths: Set<String> = []
        public init() {}
    }

    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    private let context: RequestContext
    private let daemon: Locked<Daemon?>
    /// The address actually bound (port 0 resolved).
    public let boundAddress: ListenAddress

    /// Starts serving at once; throws if the address cannot be bound.
    public init(address: ListenAddress, options: Options = Options(), handler: @escaping Handler) throws(HTTPServerError) {
        let context = RequestContext(handler: handler, users: options.users, openPaths: options.openPaths)
        let flags = MHD_USE_EPOLL_INTERNAL_THREAD.rawValue | MHD_USE_ITC.rawValue
            | MHD_USE_TURBO.rawValue
        // `:PORT` is IPv4 and IPv6 where the host has IPv6, else IPv4 alone.
        var started: OpaquePointer?
        for dualStack in address.host.isEmpty ? [true, false] : [false] where started == nil {
            started = try address.withSocketAddress(dualStack: dualStack) { addr throws(HTTPServerError) in
            let family = Int32(addr.pointee.sa_family)
            return vigil_mhd_start(
                flags | (dualStack ? MHD_USE_DUAL_STACK.rawValue : family == AF_INET6 ? MHD_USE_IPv6.rawValue : 0), addr,
                onRequest, Unmanaged.passUnretained(context).toOpaque(),
                onCompleted, Unmanaged.passUnretained(context).toOpaque(),
                UInt32(max(1, options.threads)), UInt32(options.idleTimeoutSeconds),
                UInt32(options.connectionLimit), UInt32(options.perAddressLimit), options.connectionMemoryLimit,
                options.tls?.key, options.tls?.certificate)
            }
        }
        guard let started else { throw .cannotListen(address.description) }
        self.context = context
        self.daemon = Locked(Daemon(handle: started))
        self.boundAddress = ListenAddress(host: address.host, port: Self.boundPort(of: started) ?? address.port)
    }

    /// Stops accepting, lets in-flight requests finish (up to `grace`
    /// seconds), then closes every connection. Idempotent.
    public func stop(grace: Double = 4) {
        daemon.withLock { daemon in
            guard let running = daemon?.handle else { return }
            let listenFD = MHD_quiesce_daemon(running)
            if listenFD >= 0 { close(listenFD) }
            let deadline = monotonicSeconds() + grace
            while context.inFlight.load(ordering: .acquiring) > 0 && monotonicSeconds() < deadline {
                usleep(5_000)
            }
            MHD_stop_daemon(running)
            daemon = nil
        }
    }

    /// Requests accepted and not yet completed.
    public var inFlightRequests: Int { context.inFlight.load(ordering: .relaxed) }

    deinit { stop(grace: 0) }

    private static func boundPort(of daemon: OpaquePointer) -> UInt16? {
        let fd = vigil_mhd_listen_fd(daemon)
        guard fd >= 0 else { return nil }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return nil }
        let family = storage.ss_family
        let port: UInt16 = withUnsafePointer(to: &storage) { raw in
            if family == sa_family_t(AF_INET6) {
                return raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port }
            }
            return raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
        }
        return UInt16(bigEndian: port)
    }
}

/// The running libmicrohttpd daemon. Only `HTTPServer` touches it, under
/// its mutex; libmicrohttpd's own calls on it are thread-safe.
private final class Daemon: @unchecked Sendable {
    let handle: OpaquePointer
    init(handle: OpaquePointer) { self.handle = handle }
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
