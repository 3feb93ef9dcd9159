import CMicroHTTPD
import Synchronization
import VigilPlatform
#if canImport(Glibc)
import Glibc
#endif

/// The HTTP server: libmicrohttpd with an epoll thread pool per listen
/// address, owned by this one type. Routes are a plain Swift function from
/// request to response and run on libmicrohttpd's threads, so they must
/// never block on the network.
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
        /// Serve HTTPS.
        public var tls: TLSSettings?
        /// Basic auth users; nil lets everyone in.
        public var users: BasicAuthUsers?
        /// Paths answered without credentials too (the handler sees
        /// `authorized` false): health checks, since load balancers send none.
        public var openPaths: Set<String> = []
        /// Added to the server's own answers (401, 403), as the routes add them to theirs.
        public var headers: [(name: String, value: String)] = []
        public init() {}
    }

    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    private let shared: SharedSettings
    private let options: Options
    private let sockets: [ListeningSocket]
    /// The running daemon of each socket, and the TLS settings they serve.
    private let daemons: Locked<(handles: [Daemon], tls: TLSSettings?)?>
    /// Daemons a TLS change replaced that are still finishing their requests.
    private let retiring = Atomic<Int>(0)
    /// The addresses actually bound (port 0 resolved), in the order given.
    public var boundAddresses: [ListenAddress] { sockets.map(\.bound) }
    public var boundAddress: ListenAddress { sockets[0].bound }

    /// Starts serving at once on every address; throws if one cannot be bound.
    public init(addresses: [ListenAddress], options: Options = Options(), handler: @escaping Handler) throws(HTTPServerError) {
        precondition(!addresses.isEmpty, "no listen address")
        var sockets: [ListeningSocket] = []
        do throws(HTTPServerError) {
            for address in addresses { sockets.append(try ListeningSocket.open(address)) }
        } catch {
            for socket in sockets { close(socket.fd) }
            throw error
        }
        let shared = SharedSettings(SharedSettings.State(options, handler: handler))
        var handles: [Daemon] = []
        for socket in sockets {
            guard let daemon = Daemon.start(on: socket, options: options, tls: options.tls, shared: shared) else {
                for daemon in handles { MHD_stop_daemon(daemon.handle) }
                for socket in sockets { close(socket.fd) }
                throw .cannotStart(socket.bound.description)
            }
            handles.append(daemon)
        }
        self.shared = shared
        self.options = options
        self.sockets = sockets
        daemons = Locked((handles, options.tls))
    }

    public convenience init(address: ListenAddress, options: Options = Options(), handler: @escaping Handler) throws(HTTPServerError) {
        try self.init(addresses: [address], options: options, handler: handler)
    }

    /// Applies a reloaded web configuration: users, open paths, headers and
    /// the handler at once; new TLS settings (a renewed certificate, other
    /// client CAs) through new daemons that take over the same sockets,
    /// the old ones finishing their requests first. Threads, limits and
    /// addresses stay as started. Throws, keeping the old settings, when
    /// libmicrohttpd refuses the new TLS material.
    public func update(tls: TLSSettings?, users: BasicAuthUsers?, headers: [(name: String, value: String)],
                       handler: @escaping Handler) throws(HTTPServerError) {
        var updated = options
        updated.tls = tls
        updated.users = users
        updated.headers = headers
        try daemons.withLock { (running: inout (handles: [Daemon], tls: TLSSettings?)?) throws(HTTPServerError) in
            guard let current = running else { return }
            if current.tls != tls {
                guard (current.tls == nil) == (tls == nil) else { throw .needsRestart("switching between HTTP and HTTPS") }
                var started: [Daemon] = []
                for socket in sockets {
                    guard let daemon = Daemon.start(on: socket, options: updated, tls: tls, shared: shared) else {
                        for daemon in started { daemon.retire(grace: 0) }
                        throw .cannotStart(socket.bound.description)
                    }
                    started.append(daemon)
                }
                shared.state.withLock { $0 = SharedSettings.State(updated, handler: handler) }
                // Off this thread: a reload may come from a request that one
                // of these daemons is serving, and a daemon cannot stop itself.
                retiring.add(current.handles.count, ordering: .relaxed)
                for daemon in current.handles {
                    startDetachedThread(name: "mhd-retire") { [self] in
                        daemon.retire(grace: 1.5)
                        retiring.subtract(1, ordering: .releasing)
                    }
                }
                running = (started, tls)
            } else {
                shared.state.withLock { $0 = SharedSettings.State(updated, handler: handler) }
            }
        }
    }

    /// Stops accepting, lets in-flight requests finish (up to `grace`
    /// seconds), then closes every connection, and only then the listening
    /// sockets (microhttpd.h: not before `MHD_stop_daemon`). Idempotent.
    public func stop(grace: Double = 4) {
        daemons.withLock { running in
            guard let current = running else { return }
            for daemon in current.handles { daemon.retire(grace: grace) }
            // Daemons replaced by a reload finish within their own grace (1.5 s).
            let deadline = monotonicSeconds() + 2
            while retiring.load(ordering: .acquiring) > 0 && monotonicSeconds() < deadline { usleep(5_000) }
            for socket in sockets { close(socket.fd) }
            running = nil
        }
    }

    /// Requests accepted and not yet completed.
    public var inFlightRequests: Int {
        daemons.withLock { $0?.handles.reduce(0) { $0 + $1.context.inFlight.load(ordering: .relaxed) } ?? 0 }
    }

    deinit { stop(grace: 0) }
}

/// One running libmicrohttpd daemon. Only `HTTPServer` touches it, under
/// its mutex; libmicrohttpd's own calls on it are thread-safe.
private final class Daemon: @unchecked Sendable {
    let handle: OpaquePointer
    /// What its callbacks reach; lives as long as the daemon.
    let context: RequestContext

    private init(handle: OpaquePointer, context: RequestContext) {
        self.handle = handle
        self.context = context
    }

    static func start(on socket: ListeningSocket, options: HTTPServer.Options, tls: TLSSettings?,
                      shared: SharedSettings) -> Daemon? {
        let context = RequestContext(shared: shared, clientAuth: tls?.clientAuth ?? .noClientCert)
        let flags = MHD_USE_EPOLL_INTERNAL_THREAD.rawValue | MHD_USE_ITC.rawValue | MHD_USE_TURBO.rawValue
            | (socket.isIPv6 ? MHD_USE_IPv6.rawValue : 0)
        let trust = tls?.clientAuth == .noClientCert ? nil : tls?.clientCA
        return vigil_mhd_start(
            flags, socket.fd,
            onRequest, Unmanaged.passUnretained(context).toOpaque(),
            onCompleted, Unmanaged.passUnretained(context).toOpaque(),
            UInt32(max(1, options.threads)), UInt32(clamping: options.idleTimeoutSeconds),
            UInt32(clamping: options.connectionLimit), UInt32(clamping: options.perAddressLimit), options.connectionMemoryLimit,
            tls?.key, tls?.certificate, trust, tls?.priorities).map { Daemon(handle: $0, context: context) }
    }

    /// Stops accepting (the socket stays open: it is the server's), waits
    /// up to `grace` seconds for requests in flight, then stops.
    func retire(grace: Double) {
        _ = MHD_quiesce_daemon(handle)
        let deadline = monotonicSeconds() + grace
        while context.inFlight.load(ordering: .acquiring) > 0 && monotonicSeconds() < deadline {
            usleep(5_000)
        }
        MHD_stop_daemon(handle)
    }
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
