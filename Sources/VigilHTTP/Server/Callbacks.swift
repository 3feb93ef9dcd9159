import CMicroHTTPD
import Synchronization

/// What the C callbacks reach through their `void *` argument. Thread-safe
/// by construction: an immutable handler and an atomic counter.
final class RequestContext: Sendable {
    let handler: HTTPServer.Handler
    let users: BasicAuthUsers?
    let openPaths: Set<String>
    let inFlight = Atomic<Int>(0)
    let unauthorized = HTTPResponse(status: 401, contentType: "text/plain; charset=utf-8", body: "401 unauthorized\n",
                                    headers: [(name: "WWW-Authenticate", value: "Basic realm=\"vigil\"")])

    init(handler: @escaping HTTPServer.Handler, users: BasicAuthUsers?, openPaths: Set<String>) {
        self.handler = handler
        self.users = users
        self.openPaths = openPaths
    }

    /// True when no users are configured or the request's credentials match.
    func admits(_ connection: OpaquePointer) -> Bool {
        guard let users else { return true }
        var user: UnsafeMutablePointer<CChar>?, password: UnsafeMutablePointer<CChar>?
        defer {
            MHD_free(user)
            MHD_free(password)
        }
        guard vigil_mhd_basic_auth(connection, &user, &password) == 1, let user, let password else { return false }
        return users.verify(user: String(cString: user), password: String(cString: password))
    }
}

/// Marks a request whose first callback has been seen (never dereferenced).
private var requestStarted: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: 0x1)! }

/// libmicrohttpd's access handler. The response is queued on the *second*
/// call: queueing on the first makes libmicrohttpd close every connection
/// (no keep-alive), which costs over 3x in throughput.
let onRequest: MHD_AccessHandlerCallback = { cls, connection, url, method, _, _, uploadSize, state in
    guard let cls, let connection, let state else { return .NO }
    let context = Unmanaged<RequestContext>.fromOpaque(cls).takeUnretainedValue()
    if state.pointee == nil {
        state.pointee = requestStarted
        context.inFlight.add(1, ordering: .relaxed)
        return .YES
    }
    if let uploadSize, uploadSize.pointee > 0 {
        uploadSize.pointee = 0  // Vigil takes no request bodies: discard.
        return .YES
    }
    let path = url.map { String(cString: $0) } ?? "/"
    let authorized = context.admits(connection)
    guard authorized || context.openPaths.contains(path) else {
        return MHD_queue_response(connection, UInt32(context.unauthorized.status), context.unauthorized.handle)
    }
    let request = HTTPRequest(
        method: .init(method.map { String(cString: $0) } ?? ""),
        path: path,
        query: queryArguments(connection),
        accept: header(connection, "Accept"),
        acceptEncoding: header(connection, "Accept-Encoding"),
        authorized: authorized)
    let response = context.handler(request)
    return MHD_queue_response(connection, UInt32(response.status), response.handle)
}

/// Called once per request when libmicrohttpd is done with it, whether it
/// completed or the client went away.
let onCompleted: MHD_RequestCompletedCallback = { cls, _, state, _ in
    guard let cls, let state, state.pointee != nil else { return }
    state.pointee = nil
    Unmanaged<RequestContext>.fromOpaque(cls).takeUnretainedValue().inFlight.subtract(1, ordering: .relaxed)
}

private func header(_ connection: OpaquePointer, _ name: String) -> String? {
    MHD_lookup_connection_value(connection, MHD_ValueKind.HEADER_KIND, name).map { String(cString: $0) }
}

private func queryArguments(_ connection: OpaquePointer) -> [String: String] {
    guard MHD_get_connection_values(connection, MHD_ValueKind.GET_ARGUMENT_KIND, nil, nil) > 0 else { return [:] }
    var arguments: [String: String] = [:]
    withUnsafeMutablePointer(to: &arguments) { pointer in
        _ = MHD_get_connection_values(connection, MHD_ValueKind.GET_ARGUMENT_KIND, { cls, _, key, value in
            guard let cls, let key else { return .YES }
            let arguments = cls.assumingMemoryBound(to: [String: String].self)
            arguments.pointee[String(cString: key)] = value.map { String(cString: $0) } ?? ""
            return .YES
        }, pointer)
    }
    return arguments
}
