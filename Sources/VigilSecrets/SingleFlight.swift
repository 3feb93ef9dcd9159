import Synchronization
import VigilPlatform

/// Runs work once for concurrent callers with the same key: the first
/// caller runs it, the others wait for it to finish (and then read what it
/// left in the cache).
final class SingleFlight: Sendable {
    private let flights = Mutex<[String: Flight]>([:])

    func run(_ key: String, _ work: () -> Void) {
        let (flight, leader) = flights.withLock { flights -> (Flight, Bool) in
            if let running = flights[key] { return (running, false) }
            let flight = Flight()
            flights[key] = flight
            return (flight, true)
        }
        guard leader else { return flight.wait() }
        work()
        flights.withLock { $0[key] = nil }
        flight.finish()
    }
}

/// One run in progress; followers wait on it.
private final class Flight: @unchecked Sendable {
    private let condition = Condition()
    private var done = false

    func wait() {
        condition.lock()
        while !done { condition.wait() }
        condition.unlock()
    }

    func finish() {
        condition.lock()
        done = true
        condition.broadcast()
        condition.unlock()
    }
}
