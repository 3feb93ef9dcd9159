import Glibc
import VigilPlatform

/// A point on the monotonic clock by which a probe must be done.
struct Deadline {
    private let end: ContinuousClock.Instant

    init(after timeout: Duration) { end = ContinuousClock.now + timeout }

    var hasPassed: Bool { ContinuousClock.now >= end }

    /// The end, for condition waits.
    var instant: ContinuousClock.Instant { end }

    /// Seconds left; 0 once passed.
    var remainingSeconds: Double { max(0, ContinuousClock.now.duration(to: end).timeInterval) }

    /// Milliseconds left, for `poll(2)`; 0 once passed.
    var remainingMilliseconds: Int32 {
        let left = ContinuousClock.now.duration(to: end)
        guard left > .zero else { return 0 }
        return Int32(clamping: max(1, Int64(left.milliseconds)))
    }

    /// Waits for `events` on `fd`; false if the deadline passed first.
    func wait(fd: Int32, for events: Int16) -> Bool {
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let ms = remainingMilliseconds
            if ms == 0 { return false }
            let ready = poll(&pfd, 1, ms)
            if ready > 0 { return true }
            if ready == 0 || errno != EINTR { return ready != 0 }
        }
    }
}
