internal import CMicroHTTPD
import Synchronization
import VigilPlatform

/// The settings a reload may change (TLS included: no daemon is replaced),
/// shared by the daemons of every listen address.
final class SharedSettings: Sendable {
    /// Immutable, replaced whole: a request takes it with one retain (a
    /// struct's copy cost 2 % of a warm endpoint read).
    final class State: Sendable {
        let handler: HTTPServer.Replier
        /// What a connection starting now shakes hands with; nil for plain HTTP.
        let tls: TLSIdentity?
        let users: BasicAuthUsers?
        /// `Options.openPaths` and `Options.uncheckedPaths`.
        let openPaths: Set<String>
        /// `Options.uncheckedPaths`: served without a look at the credentials.
        let uncheckedPaths: Set<String>
        /// Callers must authenticate (basic auth or a verified client certificate) outside `openPaths`.
        let authenticates: Bool
        let unauthorized: HTTPResponse
        let forbidden: HTTPResponse
        /// For a request outside `openPaths` whose credentials found no place
        /// for their check (`BasicAuthUsers.admit`): not checked, so not 401.
        let busy: HTTPResponse
        /// For a request on a connection that shook hands under client CAs or
        /// a `client_auth_type` replaced since: its certificate was checked
        /// against a policy no longer in force, so it is served nothing and
        /// closed; the client's next connection shakes hands under the current one.
        let reconnect: HTTPResponse
        /// `Options.requestHeaders` with the lower-cased key each is copied under.
        let requestHeaders: [(name: String, key: String)]
        /// `Options.negotiatesContent`: copy `Accept` and `Accept-Encoding`.
        let negotiatesContent: Bool

        init(_ options: HTTPServer.Options, tls: TLSIdentity?, handler: @escaping HTTPServer.Replier) {
            self.handler = handler
            self.tls = tls
            requestHeaders = options.requestHeaders.map { ($0, $0.lowercased()) }
            negotiatesContent = options.negotiatesContent
            users = options.users
            openPaths = options.openPaths.union(options.uncheckedPaths)
            uncheckedPaths = options.uncheckedPaths
            authenticates = options.users != nil || options.tls?.clientCA != nil && options.tls?.clientAuth != .noClientCert
            let challenge = options.users == nil ? [] : [(name: "WWW-Authenticate", value: "Basic realm=\"vigil\"")]
            unauthorized = HTTPResponse(status: 401, contentType: "text/plain; charset=utf-8", body: "401 unauthorized\n",
                                        headers: challenge + options.headers)
            forbidden = HTTPResponse(status: 403, contentType: "text/plain; charset=utf-8",
                                     body: "403 forbidden: no trusted client certificate\n", headers: options.headers)
            busy = HTTPResponse(status: 503, contentType: "text/plain; charset=utf-8",
                                body: "503 too many credentials waiting to be checked; retry\n",
                                headers: [(name: "Retry-After", value: "1")] + options.headers)
            reconnect = HTTPResponse(status: 503, contentType: "text/plain; charset=utf-8",
                                     body: "503 the TLS client settings changed: reconnect\n",
                                     headers: [(name: "Retry-After", value: "0"), (name: "Connection", value: "close")] + options.headers)
        }
    }

    let state: Locked<State>

    init(_ state: State) { self.state = Locked(state) }
}

/// What the C callbacks of one daemon reach through their `void *`
/// argument. Thread-safe by construction: settings behind a mutex, an
/// atomic counter, an immutable flag.
final class RequestContext: Sendable {
    /// `access`'s decision.
    enum Access {
        /// Served; the handler sees `authorized`.
        case granted(authorized: Bool)
        /// Answered at once with this (401, or 503 when the check found no place).
        case refused(HTTPResponse)
        /// Served once this check ran, off the worker.
        case checking(BasicAuthUsers.PendingCheck)
    }

    let shared: SharedSettings
    /// HTTPS: each connection holds the TLS identity it started with.
    let tls: Bool
    let inFlight = Atomic<Int>(0)
    let deferrals = Deferrals()

    init(shared: SharedSettings, tls: Bool) {
        self.shared = shared
        self.tls = tls
    }

    /// What the connection's client certificate allows under the current
    /// settings: a refusal (403: a required one missing, or one presented
    /// that must verify and does not; 503 and close: the connection shook
    /// hands under client CAs or a `client_auth_type` replaced since), or
    /// whether it authenticates the caller.
    func certificate(_ connection: OpaquePointer, _ settings: SharedSettings.State) -> (refusal: HTTPResponse?, authenticates: Bool) {
        guard tls else { return (nil, false) }
        // No identity: the handshake cannot have succeeded (the daemon has no certificate of its own).
        guard let held = vigil_mhd_socket_context(connection) else { return (settings.reconnect, false) }
        let identity = Unmanaged<TLSIdentity>.fromOpaque(held).takeUnretainedValue()
        // The certificate was asked for and verified with the identity's client CAs:
        // they decide only while they are the current ones (a renewed server certificate
        // alone changes nothing here).
        guard identity === settings.tls || identity.clientPolicy == settings.tls?.clientPolicy else {
            return (settings.reconnect, false)
        }
        let clientAuth = identity.settings.clientAuth
        guard clientAuth != .noClientCert else { return (nil, false) }
        let state = vigil_mhd_client_certificate(connection)  // 0 none, 1 verified, 2 not verified
        if state == 0 { return (clientAuth.requiresCertificate ? settings.forbidden : nil, false) }
        if state == 2 && clientAuth.verifies { return (settings.forbidden, false) }
        return (nil, state == 1)
    }

    /// Whether the request goes on, decided before any route runs. An open
    /// path is served whatever the credentials (the handler sees whether
    /// they passed), elsewhere they must pass; an unchecked path's are not
    /// even looked at. A bcrypt check, when the verdict is not remembered,
    /// never runs here, on a worker: it is handed back to run on a thread of
    /// its own, or, past `BasicAuthUsers.maxPending`, not run at all.
    func access(_ connection: OpaquePointer, _ settings: SharedSettings.State, path: String,
                certified: Bool) -> Access {
        let open = settings.openPaths.contains(path)
        // With users, basic auth is needed whatever the certificate (exporter-toolkit
        // asks for both); without, a verified client certificate authenticates.
        guard let users = settings.users else {
            let authorized = !settings.authenticates || certified
            return authorized || open ? .granted(authorized: authorized) : .refused(settings.unauthorized)
        }
        guard !settings.uncheckedPaths.contains(path), let credentials = basicCredentials(connection, users) else {
            return open ? .granted(authorized: false) : .refused(settings.unauthorized)
        }
        if let passed = users.remembered(credentials) {
            return passed || open ? .granted(authorized: passed) : .refused(settings.unauthorized)
        }
        guard let check = users.admit(credentials) else {
            return open ? .granted(authorized: false) : .refused(settings.busy)
        }
        return .checking(check)
    }

    /// The request's basic auth user and password, if it has them.
    private func basicCredentials(_ connection: OpaquePointer, _ users: BasicAuthUsers) -> BasicAuthUsers.Credentials? {
        var user: UnsafeMutablePointer<CChar>?, password: UnsafeMutablePointer<CChar>?
        defer {
            MHD_free(user)
            MHD_free(password)
        }
        guard vigil_mhd_basic_auth(connection, &user, &password) == 1, let user, let password else { return nil }
        return users.credentials(user: String(cString: user), password: String(cString: password))
    }
}

/// Marks a request whose first callback has been seen (never dereferenced).
private var requestStarted: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: 0x1)! }

/// libmicrohttpd's access handler. The response is queued on the *second*
/// call: queueing on the first makes libmicrohttpd close every connection
/// (no keep-alive), which costs over 3x in throughput. A deferred reply
/// keeps its `DeferredReply` (retained) as the request's state, and the
/// call after its resumption queues the answer.
let onRequest: MHD_AccessHandlerCallback = { cls, connection, url, method, _, _, uploadSize, state in
    guard let cls, let connection, let state else { return .NO }
    let context = Unmanaged<RequestContext>.fromOpaque(cls).takeUnretainedValue()
    guard let started = state.pointee else {
        state.pointee = requestStarted
        context.inFlight.add(1, ordering: .relaxed)
        return .YES
    }
    if started != requestStarted {
        let deferred = Unmanaged<DeferredReply>.fromOpaque(started).takeUnretainedValue()
        guard let response = deferred.response else { return .NO }
        return MHD_queue_response(connection, UInt32(response.status), response.handle)
    }
    if let uploadSize, uploadSize.pointee > 0 {
        uploadSize.pointee = 0  // Vigil takes no request bodies: discard.
        return .YES
    }
    let path = url.map { String(cString: $0) } ?? "/"
    let settings = context.shared.state.withLock { $0 }
    let certificate = context.certificate(connection, settings)
    if let refusal = certificate.refusal {
        return MHD_queue_response(connection, UInt32(refusal.status), refusal.handle)
    }
    switch context.access(connection, settings, path: path, certified: certificate.authenticates) {
    case .refused(let response):
        return MHD_queue_response(connection, UInt32(response.status), response.handle)
    case .granted(let authorized):
        let request = copyRequest(connection, method, path, settings, authorized: authorized)
        return reply(connection, context, state, settings.handler(request))
    case .checking(let check):
        let request = copyRequest(connection, method, path, settings, authorized: false)
        let open = settings.openPaths.contains(path)
        return reply(connection, context, state, .later(work: {
            var checked = request
            checked.authorized = check.run()
            guard checked.authorized || open else { return settings.unauthorized }
            return settings.handler(checked).waited()
        }, abandoned: { check.drop() }))
    }
}

/// The request as routes see it, copied out of libmicrohttpd on its thread.
private func copyRequest(_ connection: OpaquePointer, _ method: UnsafePointer<CChar>?, _ path: String,
                         _ settings: SharedSettings.State, authorized: Bool) -> HTTPRequest {
    let arguments = queryArguments(connection)
    var request = HTTPRequest(
        method: .init(method.map { String(cString: $0) } ?? ""),
        path: path,
        query: arguments.last,
        accept: settings.negotiatesContent ? header(connection, "Accept") : nil,
        acceptEncoding: settings.negotiatesContent ? header(connection, "Accept-Encoding") : nil,
        headers: headers(connection, settings.requestHeaders),
        authorized: authorized)
    request.repeated = arguments.repeated
    return request
}

/// Queues an answer now, or suspends the request while its work runs on a
/// thread of its own (the resumed call queues what it gave).
private func reply(_ connection: OpaquePointer, _ context: RequestContext,
                   _ state: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ answer: HTTPAnswer) -> MHD_Result {
    switch answer {
    case .now(let response):
        return MHD_queue_response(connection, UInt32(response.status), response.handle)
    case .later(let work, let abandoned):
        guard let deferred = context.deferrals.start(connection, work, abandoned: abandoned) else {
            return MHD_queue_response(connection, UInt32(Deferrals.shuttingDown.status), Deferrals.shuttingDown.handle)
        }
        state.pointee = Unmanaged.passRetained(deferred).toOpaque()
        return .YES
    case .parked(let park):
        // Retained before `park` runs: it may answer, and resume the connection, at once.
        let parked = context.deferrals.park(connection) { answer in park(answer) }
        guard let parked else {
            return MHD_queue_response(connection, UInt32(Deferrals.shuttingDown.status), Deferrals.shuttingDown.handle)
        }
        state.pointee = Unmanaged.passRetained(parked).toOpaque()
        return .YES
    }
}

extension HTTPAnswer {
    /// The response, a deferred one waited for on this thread (already one of its own).
    func waited() -> HTTPResponse {
        switch self {
        case .now(let response): return response
        case .later(let work, _): return work()
        case .parked(let park):
            // Only after an authentication check, which already runs on a thread of its own.
            let answered = Locked<HTTPResponse?>(nil), ready = Condition()
            park { response in
                ready.withLock {
                    answered.withLock { $0 = response }
                    ready.broadcast()
                }
            }
            return ready.withLock {
                while true {
                    if let response = answered.withLock({ $0 }) { return response }
                    ready.wait()
                }
            }
        }
    }
}

/// libmicrohttpd's connection notifications on an HTTPS daemon: a new
/// connection takes the TLS identity current at that moment (before any
/// byte is read: libmicrohttpd sends STARTED once the TLS session exists)
/// and holds it until it closes, so a reload hands new certificates and
/// client CAs to new connections, and the last connection to close frees
/// the old material. An open connection keeps the certificate it shook
/// hands with; once the client CAs or `client_auth_type` change, its next
/// request is answered 503 with `Connection: close` (`certificate`).
let onConnection: MHD_NotifyConnectionCallback = { cls, connection, socketContext, event in
    guard let cls, let connection, let socketContext else { return }
    guard vigil_mhd_connection_started(event) == 1 else {
        if let held = socketContext.pointee { Unmanaged<TLSIdentity>.fromOpaque(held).release() }
        socketContext.pointee = nil
        return
    }
    let context = Unmanaged<RequestContext>.fromOpaque(cls).takeUnretainedValue()
    // Without an identity the handshake fails (the daemon has no certificate of its own).
    guard let identity = context.shared.state.withLock({ $0.tls }), identity.adopt(connection) else { return }
    socketContext.pointee = Unmanaged.passRetained(identity).toOpaque()
}

/// Called once per request when libmicrohttpd is done with it, whether it
/// completed or the client went away.
let onCompleted: MHD_RequestCompletedCallback = { cls, _, state, _ in
    guard let cls, let state, let started = state.pointee else { return }
    if started != requestStarted { Unmanaged<DeferredReply>.fromOpaque(started).release() }
    state.pointee = nil
    Unmanaged<RequestContext>.fromOpaque(cls).takeUnretainedValue().inFlight.subtract(1, ordering: .relaxed)
}

private func header(_ connection: OpaquePointer, _ name: String) -> String? {
    MHD_lookup_connection_value(connection, MHD_ValueKind.HEADER_KIND, name).map { String(cString: $0) }
}

private func headers(_ connection: OpaquePointer, _ names: [(name: String, key: String)]) -> [String: String] {
    var found: [String: String] = [:]
    for wanted in names { found[wanted.key] = header(connection, wanted.name) }
    return found
}

/// The query's arguments: the last value of each, and every value of those given more than once.
private func queryArguments(_ connection: OpaquePointer) -> (last: [String: String], repeated: [String: [String]]) {
    guard MHD_get_connection_values(connection, MHD_ValueKind.GET_ARGUMENT_KIND, nil, nil) > 0 else { return ([:], [:]) }
    var pairs: [(String, String)] = []
    withUnsafeMutablePointer(to: &pairs) { pointer in
        _ = MHD_get_connection_values(connection, MHD_ValueKind.GET_ARGUMENT_KIND, { cls, _, key, value in
            guard let cls, let key else { return .YES }
            let pairs = cls.assumingMemoryBound(to: [(String, String)].self)
            pairs.pointee.append((String(cString: key), value.map { String(cString: $0) } ?? ""))
            return .YES
        }, pointer)
    }
    let last = Dictionary(pairs) { _, later in later }
    guard last.count < pairs.count else { return (last, [:]) }
    return (last, Dictionary(grouping: pairs, by: \.0).filter { $0.value.count > 1 }.mapValues { $0.map(\.1) })
}
