internal import CMicroHTTPD
import VigilPlatform

/// What a route answers: a response now, work that may wait (the secrets
/// endpoint's cold read, up to its timeout) and gives the response later,
/// or a request the route parks until it has an answer (a long poll).
/// Deferred work runs on a thread of its own while libmicrohttpd suspends
/// the connection, so the epoll pool never waits and every other request
/// on it goes on: the endpoint serves from the same pool as `/health`
/// instead of a thread per connection (800 connections were 800 threads).
/// A parked request holds no thread at all (1,000 long polls: 9 MB).
public enum HTTPAnswer: Sendable {
    case now(HTTPResponse)
    /// `work` gives the response on a thread of its own; when it cannot run
    /// (the daemon is stopping, the system gives no thread) `abandoned` is
    /// called instead and the request gets 503.
    case later(work: @Sendable () -> HTTPResponse, abandoned: @Sendable () -> Void)
    /// The route keeps the request and answers it through `answer` from any
    /// thread, once, holding no thread meanwhile (a long poll): `park` is
    /// called with it as soon as the connection is suspended. A stopping
    /// daemon answers 503 first; `answer` is then a no-op.
    case parked(park: @Sendable (_ answer: @escaping @Sendable (HTTPResponse) -> Void) -> Void)
}

/// One suspended request: its connection until the answer is handed back,
/// and that answer, which the resumed access handler queues.
final class DeferredReply: Sendable {
    private struct State {
        var connection: OpaquePointer?
        var response: HTTPResponse?
    }

    private let state: Locked<State>

    init(_ connection: OpaquePointer) { state = Locked(State(connection: connection)) }

    var response: HTTPResponse? { state.withLock { $0.response } }

    /// Hands `response` over and resumes the connection, once.
    fileprivate func resume(with response: HTTPResponse) {
        state.withLock { state in
            guard let connection = state.connection else { return }
            state.response = response
            state.connection = nil
            MHD_resume_connection(connection)
        }
    }
}

/// The requests one daemon holds suspended. libmicrohttpd must not stop
/// with a connection suspended (microhttpd.h: undefined behaviour), so a
/// stopping daemon answers each with 503 first and takes no new ones.
final class Deferrals: Sendable {
    private struct Table {
        var stopping = false
        var pending: [ObjectIdentifier: DeferredReply] = [:]
    }

    private let table = Locked(Table())
    static let shuttingDown = HTTPResponse(status: 503, contentType: "text/plain; charset=utf-8",
                                           body: "503 shutting down\n")
    static let noThread = HTTPResponse(status: 503, contentType: "text/plain; charset=utf-8",
                                       body: "503 no thread for the request (the process is at its thread limit)\n")

    /// Suspends `connection` and runs `work` on a thread of its own;
    /// returns the reply whose resumed call will queue its answer, or nil
    /// when the daemon is stopping (the caller answers 503 at once).
    /// `abandoned` runs instead of `work` when `work` will not run.
    func start(_ connection: OpaquePointer, _ work: @escaping @Sendable () -> HTTPResponse,
               abandoned: @escaping @Sendable () -> Void) -> DeferredReply? {
        guard let (reply, key) = suspend(connection) else {
            abandoned()
            return nil
        }
        let started = startDetachedThread(name: "http-deferred") { [self] in finish(key, with: work()) }
        if !started {
            abandoned()
            finish(key, with: Self.noThread)
        }
        return reply
    }

    /// Suspends `connection` until the answer `park` is handed comes (nil
    /// when the daemon is stopping: the caller answers 503 at once). No
    /// thread waits: `park` keeps the answer and calls it when it is ready.
    func park(_ connection: OpaquePointer,
              _ park: @escaping @Sendable (@escaping @Sendable (HTTPResponse) -> Void) -> Void) -> DeferredReply? {
        guard let (reply, key) = suspend(connection) else { return nil }
        park { [self] response in finish(key, with: response) }  // outside the lock: it may answer at once
        return reply
    }

    /// Suspends `connection` under the table's lock (a stop sweeping now
    /// finds it suspended), or nil when the daemon is stopping.
    private func suspend(_ connection: OpaquePointer) -> (DeferredReply, ObjectIdentifier)? {
        let reply = DeferredReply(connection)
        let key = ObjectIdentifier(reply)
        let accepted = table.withLock { table in
            guard !table.stopping else { return false }
            table.pending[key] = reply
            MHD_suspend_connection(connection)
            return true
        }
        return accepted ? (reply, key) : nil
    }

    /// Resumes with `response`, unless a stop answered the request already.
    private func finish(_ key: ObjectIdentifier, with response: HTTPResponse) {
        // Under the table's lock: a stop cannot sweep between the lookup and the resume.
        table.withLock { table in table.pending.removeValue(forKey: key)?.resume(with: response) }
    }

    /// Takes no new deferrals and answers those pending with 503; returns how many.
    func stop() -> Int {
        table.withLock { table in
            table.stopping = true
            defer { table.pending.removeAll() }
            for reply in table.pending.values { reply.resume(with: Self.shuttingDown) }
            return table.pending.count
        }
    }
}
