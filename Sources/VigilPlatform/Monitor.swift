/// A value behind one lock with a condition variable: the state a set of
/// threads read and change, and wait on for a change (a refresh ended, the
/// schedule poked), each up to its own deadline on the monotonic clock.
package final class Monitor<Value>: @unchecked Sendable {
    private let condition = Condition()
    private var value: Value  // guarded by `condition`

    package init(_ value: Value) { self.value = value }

    package func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        condition.lock()
        defer { condition.unlock() }
        return try body(&value)
    }

    /// Like `withLock`, then wakes every waiter: for changes they wait on.
    package func update<Result>(_ body: (inout Value) -> Result) -> Result {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        return body(&value)
    }

    /// Waits until `ready` gives a result or `deadline` passes (nil: no
    /// limit); then nil. `ready` runs with the lock held, at once and after
    /// every wake-up.
    package func wait<Result>(until deadline: ContinuousClock.Instant?, _ ready: (inout Value) -> Result?) -> Result? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let result = ready(&value) { return result }
            if let deadline {
                guard condition.wait(until: deadline) || ContinuousClock.now < deadline else { return ready(&value) }
            } else {
                condition.wait()
            }
        }
    }
}
