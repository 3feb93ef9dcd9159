import CMicroHTTPD
import VigilPlatform

/// What a route answers: a response now, or work that may wait (the secrets
/// endpoint's cold read, up to its timeout) and gives the response later.
/// Deferred work runs on a thread of its own while libmicrohttpd suspends
/// the connection, so the epoll pool never waits and every other request
/// on it goes on: the endpoint serves from the same pool as `/health`
/// instead of a thread per connection (800 connections were 800 threads).
public enum HTTPAnswer: Sendable {
    case now(HTTPResponse)
    case later(@Sendable () -> HTTPResponse)
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

    /// Suspends `connection` and runs `work` on a thread of its own;
    /// returns the reply whose resumed call will queue its answer, or nil
    /// when the daemon is stopping or no thread could be had (the caller
    /// answers 503 at once).
    func start(_ connection: OpaquePointer, _ work: @escaping @Sendable () -> HTTPResponse) -> DeferredReply? {
        let reply = DeferredReply(connection)
        let key = ObjectIdentifier(reply)
        let accepted = table.withLock { table in
            guard !table.stopping else { return false }
            table.pending[key] = reply
            return true
        }
        guard accepted else { return nil }
        MHD_suspend_connection(connection)
        let started = startDetachedThread(name: "http-deferred") { [self] in finish(key, with: work()) }
        if !started { finish(key, with: Self.shuttingDown) }
        return reply
    }

    /// Resumes with `response`, unless a stop answered the request already.
    private func finish(_ key: ObjectIdentifier, with response: HTTPResponse) {
        // Under the table's lock: a stop cannot sweep between the lookup and the resume.
        table.withLock { table in table.pending.removeValue(forKey: key)?.resume(with: response) }
    }

    /// Takes no new deferrals and answers those pending with 503.
    func stop() {
        table.withLock { table in
            table.stopping = true
            for reply in table.pending.values { reply.resume(with: Self.shuttingDown) }
            table.pending.removeAll()
        }
    }
}
