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

    /// The daemons serving now (one per socket), the TLS settings they were
    /// started with, and the settings their requests read. A TLS change
    /// starts a new generation; other changes update its settings.
    private struct Generation {
        var daemons: [Daemon]
        var tls: TLSSettings?
        var shared: SharedSettings
    }

    private let options: Options
    private let sockets: [ListeningSocket]
    private let current: Locked<Generation?>
    /// Daemons a TLS change replaced that are still finishing their requests.
    private let retiring = Atomic<Int>(0)
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
        var sockets: [ListeningSocket] = []
        do throws(HTTPServerError) {
            for address in addresses { sockets.append(try ListeningSocket.open(address, hopLimit: options.hopLimit)) }
            let shared = SharedSettings(SharedSettings.State(options, handler: handler))
            let daemons = try Self.startDaemons(on: sockets, options: options, tls: options.tls, shared: shared)
            current = Locked(Generation(daemons: daemons, tls: options.tls, shared: shared))
        } catch {
            for socket in sockets { socket.closeAndRemove() }
            throw error
        }
        self.options = options
        self.sockets = sockets
    }

    public convenience init(address: ListenAddress, options: Options = Options(), handler: @escaping Handler) throws(HTTPServerError) {
        try self.init(addresses: [address], options: options, handler: handler)
    }

    /// One daemon per socket, or none: those started are stopped if one fails.
    private static func startDaemons(on sockets: [ListeningSocket], options: Options, tls: TLSSettings?,
                                     shared: SharedSettings) throws(HTTPServerError) -> [Daemon] {
        if let tls {
            let trust = tls.clientAuth == .noClientCert ? nil : tls.clientCA
            let check = vigil_tls_material_check(tls.key, tls.certificate, trust)
            guard check == 0 else { throw .badTLSMaterial(gnutls_strerror_name(check).map { String(cString: $0) } ?? "\(check)") }
        }
        var daemons: [Daemon] = []
        for socket in sockets {
            guard let daemon = Daemon.start(on: socket, options: options, tls: tls, shared: shared) else {
                for daemon in daemons { daemon.stopNow() }
                throw .cannotStart(socket.bound.description)
            }
            daemons.append(daemon)
        }
        return daemons
    }

    /// Applies a reloaded web configuration: users (keeping what their
    /// checks found while their hashes stay the same), headers and the
    /// handler at once; new TLS settings (a renewed certificate, other client CAs)
    /// through new daemons that take over the same sockets, while the old
    /// ones stop accepting and finish their requests with the settings they
    /// started with. Threads, limits and addresses stay as started. Throws,
    /// keeping the old settings, when GnuTLS or libmicrohttpd refuses the
    /// new TLS material.
    public func update(tls: TLSSettings?, users: BasicAuthUsers?, headers: [(name: String, value: String)],
                       handler: @escaping Handler) throws(HTTPServerError) {
        // Under `current`'s lock: updates run one at a time, each reading the users the last one left.
        try current.withLock { (generation: inout Generation?) throws(HTTPServerError) in
            guard let running = generation else { return }
            var updated = options
            updated.tls = tls
            updated.users = users?.replacing(running.shared.state.withLock { $0.users })
            updated.headers = headers
            let state = SharedSettings.State(updated, handler: { .now(handler($0)) })
            guard running.tls != tls else { return running.shared.state.withLock { $0 = state } }
            guard (running.tls == nil) == (tls == nil) else { throw .needsRestart("switching between HTTP and HTTPS") }
            let shared = SharedSettings(state)
            let daemons = try Self.startDaemons(on: sockets, options: updated, tls: tls, shared: shared)
            for daemon in running.daemons { daemon.quiesce() }
            generation = Generation(daemons: daemons, tls: tls, shared: shared)
            // Off this thread: a reload may come from a request that one of
            // these daemons is serving, and a daemon cannot stop itself.
            retiring.add(running.daemons.count, ordering: .relaxed)
            for daemon in running.daemons {
                startDetachedThread(name: "mhd-retire") { [self] in
                    daemon.finish(by: SteadyClock.monotonicSeconds() + 1.5)
                    retiring.subtract(1, ordering: .releasing)
                }
            }
        }
    }

    /// Lets in-flight requests finish (up to `grace` seconds), then closes
    /// every connection, and only then the listening sockets (microhttpd.h:
    /// not before `MHD_stop_daemon`). Idempotent. The daemons are taken out
    /// first: a reload request still running (which waits for that lock)
    /// must not hold up their stop. No `MHD_quiesce_daemon` here: with the
    /// epoll thread pool it races a worker removing the listening socket
    /// itself and aborts the process ("Failed to remove listen FD from
    /// epoll set", seen once in a full test run); the stop that follows
    /// closes the listener anyway. A TLS swap still quiesces: the old
    /// daemons must stop accepting while the new ones serve.
    public func stop(grace: Double = 4) {
        guard let generation = current.withLock({ generation in defer { generation = nil }; return generation }) else { return }
        let deadline = SteadyClock.monotonicSeconds() + grace
        for daemon in generation.daemons { daemon.finish(by: deadline) }
        // Daemons replaced by a reload finish within their own grace (1.5 s).
        let retired = SteadyClock.monotonicSeconds() + 2
        while retiring.load(ordering: .acquiring) > 0 && SteadyClock.monotonicSeconds() < retired { usleep(5_000) }
        for socket in sockets { socket.closeAndRemove() }
    }

    /// Requests accepted and not yet completed.
    public var inFlightRequests: Int {
        let daemons = current.withLock { $0?.daemons ?? [] }
        return daemons.reduce(0) { $0 + $1.context.inFlight.load(ordering: .relaxed) }
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
    /// The duplicate `MHD_quiesce_daemon` hands back, closed after the stop.
    private let quiesced = Locked<Int32?>(nil)

    private init(handle: OpaquePointer, context: RequestContext) {
        self.handle = handle
        self.context = context
    }

    static func start(on socket: ListeningSocket, options: HTTPServer.Options, tls: TLSSettings?,
                      shared: SharedSettings) -> Daemon? {
        let context = RequestContext(shared: shared, clientAuth: tls?.clientAuth ?? .noClientCert)
        let flags = MHD_USE_EPOLL_INTERNAL_THREAD.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_TURBO.rawValue
            | (socket.isIPv6 ? MHD_USE_IPv6.rawValue : 0)
        let trust = tls?.clientAuth == .noClientCert ? nil : tls?.clientCA
        let listening = dup(socket.fd)
        guard listening >= 0 else { return nil }
        // On failure the duplicate is not closed here: libmicrohttpd may have
        // closed it already, and a second close could hit a reused number.
        // (The TLS material is checked before, so this is rare.)
        return vigil_mhd_start(
            flags, listening,
            onRequest, Unmanaged.passUnretained(context).toOpaque(),
            onCompleted, Unmanaged.passUnretained(context).toOpaque(),
            UInt32(max(1, options.threads)), UInt32(clamping: options.idleTimeoutSeconds),
            UInt32(clamping: options.connectionLimit), UInt32(clamping: options.perAddressLimit), options.connectionMemoryLimit,
            tls?.key, tls?.certificate, trust, tls?.priorities).map { Daemon(handle: $0, context: context) }
    }

    /// Stops accepting new connections.
    func quiesce() {
        quiesced.withLock { fd in
            guard fd == nil else { return }
            fd = MHD_quiesce_daemon(handle)
        }
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
        // Quiesced, the duplicate is the caller's to close; else the stop closed it.
        if let fd = quiesced.withLock({ $0 }), fd >= 0 { close(fd) }
    }
}
