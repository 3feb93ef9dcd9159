import Glibc
import Prometheus
import VigilHTTP
import VigilPlatform

/// Reads that hold the version served (`If-None-Match`) and asked to `wait`
/// for another: each a suspended connection, no thread. When the secrets
/// client reports a change, each is looked at again and those whose secret
/// now serves another version are answered at once; a sweep answers the
/// others at their deadline (304). At most `limit` wait; shutdown answers
/// them (the daemon's 503 for every suspended request).
final class LongPolls: Sendable {
    struct Waiter: Sendable {
        var read: ReadRequest
        var allow: AllowList
        var deadline: Double
        var answer: @Sendable (HTTPResponse) -> Void
    }

    private let waiting = Locked<(next: Int, waiters: [Int: Waiter])>((0, [:]))
    /// False until the sweep runs: without it no deadline would end a wait, so none is taken.
    private let sweeping = Locked(false)
    private let limit: Int
    private let gauge: Gauge?
    /// How often the sweep looks for deadlines: a poll ends at most this late.
    static let sweepInterval: useconds_t = 100_000

    init(limit: Int, registry: PrometheusCollectorRegistry?) {
        self.limit = limit
        gauge = registry?.gauge("vigil_endpoint_long_polls", "Long polls (reads waiting for another version) held now.")
        gauge?.set(to: 0)
    }

    /// Holds `waiter` and gives its number, or nil when `limit` already wait.
    func add(_ waiter: Waiter) -> Int? {
        guard sweeping.withLock({ $0 }) else { return nil }
        let added = waiting.withLock { waiting -> (id: Int, count: Int)? in
            guard waiting.waiters.count < limit else { return nil }
            waiting.next += 1
            waiting.waiters[waiting.next] = waiter
            return (waiting.next, waiting.waiters.count)
        }
        guard let added else { return nil }
        gauge?.set(Double(added.count))
        return added.id
    }

    /// Answers each waiter (or only waiter `id`) that `response` has an
    /// answer for now (another version: its 200), keeping the others.
    func recheck(only id: Int? = nil, _ response: (Waiter) -> HTTPResponse?) {
        let waiters = waiting.withLock { waiting in id.map { id in waiting.waiters.filter { $0.key == id } } ?? waiting.waiters }
        answer(waiters.compactMap { id, waiter in response(waiter).map { (id, waiter, $0) } })
    }

    /// Answers the waiters past their deadline with `response` (304), every
    /// `sweepInterval`, on a thread of its own.
    func startSweeping(_ response: @escaping @Sendable (Waiter) -> HTTPResponse) {
        let started = startDetachedThread(name: "endpoint-polls") { [self] in
            while true {
                usleep(Self.sweepInterval)
                let now = SteadyClock.monotonicSeconds()
                let expired = waiting.withLock { $0.waiters.filter { $0.value.deadline <= now } }
                answer(expired.map { ($0.key, $0.value, response($0.value)) })
            }
        }
        sweeping.withLock { $0 = started }
    }

    /// Each answered once: only the call that removes a waiter answers it.
    private func answer(_ answers: [(id: Int, waiter: Waiter, response: HTTPResponse)]) {
        guard !answers.isEmpty else { return }
        let (taken, count) = waiting.withLock { waiting in
            (answers.filter { waiting.waiters.removeValue(forKey: $0.id) != nil }, waiting.waiters.count)
        }
        gauge?.set(Double(count))
        for (_, waiter, response) in taken { waiter.answer(response) }
    }
}
