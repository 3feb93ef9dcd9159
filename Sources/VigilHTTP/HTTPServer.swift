internal import CMicroHTTPD
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
        /// Above 32 KiB libmicrohttpd maps each pool on its own, returned to
        /// the system when the connection closes; at 32 KiB it came from
        /// malloc's arenas, which kept ~1.2 MB after a load of 32 connections
        /// (RSS after load 26.1-26.6 MB -> 24.9-25.5 MB; CPU per request the same).
        public var connectionMemoryLimit: Int = 40 * 1024
        /// Serve HTTPS.
        public var tls: TLSSettings?
        /// Basic auth users; nil lets everyone in.
        public var users: BasicAuthUsers?
        /// Paths answered without credentials too (the handler sees
        /// `authorized` false): health checks, since load balancers send none.
        public var openPaths: Set<String> = []
        /// Open paths whose answers never depend on the caller (liveness,
        /// readiness): served without a look at the credentials, so a
        /// password never costs a bcrypt check there (the handler sees
        /// `authorized` false when there are users).
        public var uncheckedPaths: Set<String> = []
        /// Added to the server's own answers (401, 403), as the routes add them to theirs.
        public var headers: [(name: String, value: String)] = []
        /// IP TTL (IPv6 hop limit) of every connection, inherited from the
        /// listening socket: 1 keeps answers from leaving the host's own
        /// network segment, as the AWS agent does against SSRF. nil: the system's.
        public var hopLimit: Int32?
        /// Copy `Accept` and `Accept-Encoding` into each request (routes that
        /// answer one format whatever is asked skip two header scans a request).
        public var negotiatesContent = true
        /// Request headers copied into `HTTPRequest.headers` (lower-cased names).
        public var requestHeaders: [String] = []
        public init() {}
    }

    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse
    /// A handler whose answer may come later (`HTTPAnswer.later`).
    public typealias Replier = @Sendable (HTTPRequest) -> HTTPAnswer

    private let options: Options
    private let sockets: [ListeningSocket]
    /// What the requests and new connections of every daemon read; a reload replaces it whole.
    private let shared: SharedSettings
    /// Held by `update` from reading the running settings to replacing them:
    /// updates go one at a time (two would each build on the same old users
    /// and the second would drop what the first kept). Not the lock requests take.
    private let updating = Locked(())
    /// The daemons serving (one per socket); nil once stopped.
    private let daemons: Locked<[Daemon]?>
    /// The addresses actually bound (port 0 resolved), in the order given.
    public var boundAddresses: [ListenAddress] { sockets.map(\.bound) }
    public var boundAddress: ListenAddress { sockets[0].bound }

    /// Starts serving at once on every address; throws if one cannot be bound.
    public convenience init(addresses: [ListenAddress], options: Options = Options(),
                            handler: @escaping Handler) throws(HTTPServerError) {
        try self.init(addresses: addresses, options: options, replier: { .now(handler($0)) })
    }

    /// The same, for routes that may answer later.
    public init(addresses: [ListenAddress], options: Options = Options(), replier handler: @escaping Replier) throws(HTTPServerError) {
        precondition(!addresses.isEmpty, "no listen address")
        let shared = SharedSettings(SharedSettings.State(options, tls: try Self.identity(for: options.tls), handler: handler))
        var sockets: [ListeningSocket] = []
        do throws(HTTPServerError) {
            for address in addresses { sockets.append(try ListeningSocket.open(address, hopLimit: options.hopLimit)) }
            daemons = Locked(try Self.startDaemons(on: sockets, options: options, shared: shared))
        } catch {
            for socket in sockets { socket.closeAndRemove() }
            throw error
        }
        self.options = options
        self.sockets = sockets
        self.shared = shared
    }

    public convenience init(address: ListenAddress, options: Options = Options(), handler: @escaping Handler) throws(HTTPServerError) {
        try self.init(addresses: [address], options: options, handler: handler)
    }

    /// GnuTLS's form of `tls`, or nil for plain HTTP; throws when GnuTLS refuses it.
    private static func identity(for tls: TLSSettings?) throws(HTTPServerError) -> TLSIdentity? {
        guard let tls else { return nil }
        return try TLSIdentity(tls)
    }

    /// One daemon per socket, or none: those started are stopped if one fails.
    private static func startDaemons(on sockets: [ListeningSocket], options: Options,
                                     shared: SharedSettings) throws(HTTPServerError) -> [Daemon] {
        var daemons: [Daemon] = []
        for socket in sockets {
            guard let daemon = Daemon.start(on: socket, options: options, shared: shared) else {
                for daemon in daemons { daemon.stopNow() }
                throw .cannotStart(socket.bound.description)
            }
            daemons.append(daemon)
        }
        return daemons
    }

    /// Applies a reloaded web configuration: users (keeping what their
    /// checks found while their hashes stay the same), headers and the
    /// handler from the next request; TLS settings (a renewed certificate,
    /// other client CAs, versions) from the next connection, which takes
    /// them before its handshake. A connection already open keeps the
    /// certificate it shook hands with, unless the client CAs or
    /// `client_auth_type` changed: then its next request is answered 503
    /// with `Connection: close`, and the client reconnects under the new
    /// ones (its certificate was checked under a policy no longer in force).
    /// No daemon is replaced, so none is quiesced (issue 27: the swap
    /// started new daemons and quiesced the serving ones, the call whose
    /// race `stop()` records as an abort; that swap, redone in C, aborted in
    /// 4 runs out of 4, after 90 to 1,670 swaps, with 64 clients and workers
    /// at their connection limit). Threads, limits and addresses stay as
    /// started. Throws, keeping the old settings, when GnuTLS refuses the
    /// new TLS settings or the change would switch between HTTP and HTTPS.
    /// Safe from any thread: updates go one at a time.
    public func update(tls: TLSSettings?, users: BasicAuthUsers?, headers: [(name: String, value: String)],
                       handler: @escaping Handler) throws(HTTPServerError) {
        guard (options.tls == nil) == (tls == nil) else { throw .needsRestart("switching between HTTP and HTTPS") }
        try updating.withLock { (_: inout Void) throws(HTTPServerError) in
            let running = shared.state.withLock { $0 }
            var updated = options
            updated.tls = tls
            updated.users = users?.replacing(running.users)
            updated.headers = headers
            // Built outside the lock every request takes: parsing a key takes a while.
            let identity = running.tls?.settings == tls ? running.tls : try Self.identity(for: tls)
            let state = SharedSettings.State(updated, tls: identity, handler: { .now(handler($0)) })
            shared.state.withLock { $0 = state }
        }
    }

    /// Lets in-flight requests finish (up to `grace` seconds), then closes
    /// every connection, and only then the listening sockets (microhttpd.h:
    /// not before `MHD_stop_daemon`). Idempotent. No `MHD_quiesce_daemon`,
    /// here or anywhere: with the epoll thread pool it races a worker
    /// removing the listening socket itself and aborts the process ("Failed
    /// to remove listen FD from epoll set", seen once in a full test run);
    /// the stop that follows closes the listener anyway.
    public func stop(grace: Double = 4) {
        guard let running = daemons.withLock({ daemons in defer { daemons = nil }; return daemons }) else { return }
        let deadline = SteadyClock.monotonicSeconds() + grace
        for daemon in running { daemon.finish(by: deadline) }
        for socket in sockets { socket.closeAndRemove() }
    }

    /// Requests accepted and not yet completed.
    public var inFlightRequests: Int {
        let running = daemons.withLock { $0 ?? [] }
        return running.reduce(0) { $0 + $1.context.inFlight.load(ordering: .relaxed) }
    }

    deinit { stop(grace: 0) }
}

/// One running libmicrohttpd daemon on a duplicate of a listening socket
/// (libmicrohttpd closes the descriptor it is given in some failure paths
/// and at stop; Vigil's own stays open until every daemon is stopped).
private final class Daemon: @unchecked Sendable {
    let handle: OpaquePointer
    /// What its callbacks reach; lives as long as the daemon.
    let context: RequestContext

    private init(handle: OpaquePointer, context: RequestContext) {
        self.handle = handle
        self.context = context
    }

    /// With TLS, each new connection takes the TLS identity current then
    /// (`onConnection`): the daemon itself has no certificate.
    static func start(on socket: ListeningSocket, options: HTTPServer.Options, shared: SharedSettings) -> Daemon? {
        let tls = options.tls != nil
        let context = RequestContext(shared: shared, tls: tls)
        let flags = MHD_USE_EPOLL_INTERNAL_THREAD.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_TURBO.rawValue
            | (socket.isIPv6 ? MHD_USE_IPv6.rawValue : 0)
        let listening = dup(socket.fd)
        guard listening >= 0 else { return nil }
        let cls = Unmanaged.passUnretained(context).toOpaque()
        // On failure the duplicate is not closed here: libmicrohttpd may have
        // closed it already, and a second close could hit a reused number.
        return vigil_mhd_start(
            flags, listening, onRequest, cls, onCompleted, cls, tls ? onConnection : nil, cls,
            UInt32(max(1, options.threads)), UInt32(clamping: options.idleTimeoutSeconds),
            UInt32(clamping: options.connectionLimit), UInt32(clamping: options.perAddressLimit), options.connectionMemoryLimit,
            tls ? 1 : 0).map { Daemon(handle: $0, context: context) }
    }

    /// Waits until `deadline` (monotonic seconds) for requests in flight, then stops.
    func finish(by deadline: Double) {
        waitForInFlight(atMost: 0, until: deadline)
        stopNow()
    }

    /// Polls until at most `count` requests are in flight, or `deadline` (monotonic seconds).
    private func waitForInFlight(atMost count: Int, until deadline: Double) {
        while context.inFlight.load(ordering: .acquiring) > count && SteadyClock.monotonicSeconds() < deadline { usleep(2_000) }
    }

    /// Stops at once, closing every connection (and the listening duplicate);
    /// a request still deferred is answered 503 first (given up to 100 ms to
    /// go out: a resumed request is sent by the daemon's own thread).
    func stopNow() {
        let answered = context.deferrals.stop()
        if answered > 0 {
            waitForInFlight(atMost: max(0, context.inFlight.load(ordering: .acquiring) - answered),
                            until: SteadyClock.monotonicSeconds() + 0.1)
        }
        MHD_stop_daemon(handle)
    }
}
