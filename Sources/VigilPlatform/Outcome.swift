
/// A value one thread produces once and others wait for, each up to its own
/// deadline: a background run's result (a secret refresh, a probe run, a
/// DNS lookup) that the caller may stop waiting for while it goes on.
package final class Outcome<Value: Sendable>: Sendable {
    private let done = Condition()
    private let value = Locked<Value?>(nil)

    package init() {}

    /// Sets the value (the first call wins) and wakes every waiter.
    package func finish(_ result: Value) {
        done.withLock {
            value.withLock { if $0 == nil { $0 = result } }
            done.broadcast()
        }
    }

    /// The value once there is one, waiting until `deadline` at most (nil:
    /// without limit); nil if the deadline passed first.
    @discardableResult
    package func wait(until deadline: ContinuousClock.Instant?) -> Value? {
        done.withLock {
            while true {
                if let result = value.withLock({ $0 }) { return result }
                if let deadline {
                    guard deadline > .now else { return nil }
                    done.wait(until: deadline)
                } else {
                    done.wait()
                }
            }
        }
    }
}

extension Outcome where Value == Void {
    package func finish() { finish(()) }
}
