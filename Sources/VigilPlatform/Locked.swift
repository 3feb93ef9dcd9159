#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a pthread mutex: Vigil's lock, in place of
/// `Synchronization.Mutex`. ThreadSanitizer models pthread mutexes but not
/// Mutex's futex, so under `scripts/sanitize thread` every hand-off through
/// a Mutex read as a race (1-3 different ones a run, all inside `withLock`
/// closures), which buried anything real. Uncontended, a pthread mutex costs
/// about the same (a libc call around the same futex).
package final class Locked<Value>: @unchecked Sendable {
    // Heap-allocated: a pthread mutex must not move.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    package init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    package func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// nil, without waiting, when another thread holds the lock.
    package func withLockIfAvailable<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result? {
        guard pthread_mutex_trylock(mutex) == 0 else { return nil }
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
