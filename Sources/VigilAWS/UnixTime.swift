import Glibc
import VigilPlatform

/// Seconds since the Unix epoch: what SigV4 and expiry checks need, without
/// calendars.
public struct UnixTime: Sendable, Comparable, Hashable {
    public var seconds: Double

    public init(seconds: Double) { self.seconds = seconds }

    public static var now: UnixTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UnixTime(seconds: Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9)
    }

    /// Unix time that never steps with the wall clock (SteadyClock): for
    /// schedules and ages. Signatures and what is shown use `now`.
    public static var steady: UnixTime { UnixTime(seconds: SteadyClock.now) }

    public static func < (a: UnixTime, b: UnixTime) -> Bool { a.seconds < b.seconds }

    public func adding(_ seconds: Double) -> UnixTime { UnixTime(seconds: self.seconds + seconds) }

    /// (`yyyyMMdd`, `yyyyMMddTHHmmssZ`) in UTC.
    public var amzDate: (day: String, timestamp: String) {
        var time = time_t(seconds.rounded(.down))
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let day = "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))"
        return (day, "\(day)T\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z")
    }

    /// Parses an HTTP date (RFC 7231 IMF-fixdate, `Sun, 29 Nov 2026 14:20:00 GMT`),
    /// as servers send in `Date`.
    public init?(httpDate text: String) {
        let parts = text.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count == 6, parts[5] == "GMT", let day = Int32(parts[1]),
              let month = months.firstIndex(of: String(parts[2])), let year = Int32(parts[3]) else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int32($0) }
        // Bounded before any arithmetic: `year - 1900` trapped on a year near Int32.min (fuzzing, 2026-11).
        guard clock.count == 3, (1970...9999).contains(year), (1...31).contains(day), (0...23).contains(clock[0]),
              (0...59).contains(clock[1]), (0...60).contains(clock[2]) else { return nil }
        var fields = tm()
        fields.tm_year = year - 1900
        fields.tm_mon = Int32(month)
        fields.tm_mday = day
        fields.tm_hour = clock[0]
        fields.tm_min = clock[1]
        fields.tm_sec = clock[2]
        self.init(seconds: Double(timegm(&fields)))
    }

    /// Parses RFC 3339 / ISO 8601 UTC timestamps as AWS sends them
    /// (`2026-11-29T07:00:00Z`, with optional fraction or `+00:00`).
    public init?(iso8601 text: String) {
        let digits = text.utf8.map { $0 }
        guard digits.count >= 20 else { return nil }
        func number(_ range: Range<Int>) -> Int32? { Int32(String(decoding: digits[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        var offset = 0.0
        if let sign = text.lastIndex(where: { $0 == "+" || $0 == "-" }), text.distance(from: sign, to: text.endIndex) == 6,
           let hours = Double(text[text.index(after: sign)...].prefix(2)),
           let minutes = Double(text.suffix(2)) {
            offset = (hours * 3600 + minutes * 60) * (text[sign] == "+" ? 1 : -1)
        }
        self.init(seconds: Double(timegm(&parts)) - offset)
    }
}
