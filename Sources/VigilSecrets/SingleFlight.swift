import Synchronization
import VigilPlatform

/// At most one refresh per secret at a time, each on a thread of its own:
/// a refresh AWS does not answer holds that thread, never a caller's.
/// Callers that need the outcome wait for it, up to their own deadline.
final class SingleFlight: Sendable {
    private let flights = Mutex<[String: Flight]>([:])

    /// Starts `work` for `key` unless a run for it is in progress, and
    /// returns the run in progress. `started` runs only for a new run,
    /// before its thread starts.
    @discardableResult
    func launch(_ key: String, started: () -> Void = {}, _ work: @escaping @Sendable () -> Void) -> Flight {
        let (flight, leader) = flights.withLock { flights -> (Flight, Bool) in
            if let running = flights[key] { return (running, false) }
            let flight = Flight()
            flights[key] = flight
            return (flight, true)
        }
        guard leader else { return flight }
        started()
        startDetachedThread(name: "secret-refresh") { [self] in
            work()
            flights.withLock { $0[key] = nil }
            flight.finish()
        }
        return flight
    }

    /// Runs `work` on a thread of its own as the run in progress for each of
    /// `keys` that has none (a batch load); `work` and `started` get those keys.
    @discardableResult
    func launch(batch keys: [String], started: ([String]) -> Void,
                _ work: @escaping @Sendable ([String]) -> Void) -> Flight {
        let flight = Flight()
        let claimed = flights.withLock { flights -> [String] in
            let free = keys.filter { flights[$0] == nil }
            for key in free { flights[key] = flight }
            return free
        }
        started(claimed)
        startDetachedThread(name: "secret-refresh") { [self] in
            work(claimed)
            flights.withLock { flights in for key in claimed where flights[key] === flight { flights[key] = nil } }
            flight.finish()
        }
        return flight
    }

    /// Every run in progress.
    var all: [Flight] { flights.withLock { Array($0.values) } }


    /// The run in progress for `key`, if any.
    func running(_ key: String) -> Flight? { flights.withLock { $0[key] } }
}

/// One refresh in progress; callers may wait for it.
final class Flight: @unchecked Sendable {
    private let condition = Condition()
    private var done = false

    /// Waits until the run ends or `deadline` passes (nil: no limit). True if it ended.
    @discardableResult
    func wait(until deadline: ContinuousClock.Instant?) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !done {
            if let deadline { if !condition.wait(until: deadline) { return done } } else { condition.wait() }
        }
        return true
    }

    func finish() {
        condition.withLock {
            done = true
            condition.broadcast()
        }
    }
}
