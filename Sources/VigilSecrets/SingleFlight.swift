import VigilPlatform

/// At most one refresh per secret at a time, each on a thread of its own:
/// a refresh AWS does not answer holds that thread, never a caller's.
/// Callers that need the outcome wait for it, up to their own deadline.
final class SingleFlight: Sendable {
    private let flights = Locked<[String: Flight]>([:])

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
        run(flight, for: [key]) { _ in work() }
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
        run(flight, for: claimed, work)
        return flight
    }

    /// Every run in progress.
    var all: [Flight] { flights.withLock { Array($0.values) } }

    /// The run in progress for `key`, if any.
    func running(_ key: String) -> Flight? { flights.withLock { $0[key] } }

    /// Runs `work` on a thread of its own, then frees `keys` and ends `flight`.
    private func run(_ flight: Flight, for keys: [String], _ work: @escaping @Sendable ([String]) -> Void) {
        startDetachedThread(name: "secret-refresh") { [self] in
            work(keys)
            flights.withLock { flights in for key in keys where flights[key] === flight { flights[key] = nil } }
            flight.finish()
        }
    }
}

/// One refresh in progress; callers may wait for it (`wait(until:)` is nil
/// when the deadline passed first).
typealias Flight = Outcome<Void>
