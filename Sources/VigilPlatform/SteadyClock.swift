#if canImport(Glibc)
import Glibc
#endif

/// Unix time that never steps: the wall time when first read plus the
/// monotonic time elapsed since. Schedules, TTLs and ages run on it, so an
/// NTP step of the wall clock neither stalls refreshes (a step back of 2 h
/// stalled refresh-ahead and retries for 2 h), nor ages every cached value
/// at once (a step forward past the emergency TTL dropped them all), nor
/// makes every probe result look stale (503 until each probe ran again).
/// What is shown to people (timestamps in /health and metrics) is converted
/// back to the wall clock with `wall(_:)`.
public enum SteadyClock {
    private static let anchor = (wall: realtimeSeconds(), monotonic: monotonicSeconds())

    /// Seconds since the Unix epoch, steady.
    public static var now: Double { anchor.wall + (monotonicSeconds() - anchor.monotonic) }

    /// The wall-clock time of a steady instant: now on the wall clock, less
    /// the steady time elapsed since.
    public static func wall(_ steady: Double) -> Double { realtimeSeconds() - (now - steady) }

    /// `CLOCK_MONOTONIC` in seconds.
    public static func monotonicSeconds() -> Double { seconds(CLOCK_MONOTONIC) }

    private static func realtimeSeconds() -> Double { seconds(CLOCK_REALTIME) }

    private static func seconds(_ clock: clockid_t) -> Double {
        var spec = timespec()
        clock_gettime(clock, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
