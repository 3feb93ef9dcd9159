import VigilPlatform
import VigilResults

/// Collects probe latencies between two CloudWatch intervals, per probe,
/// as the statistics PutMetricData takes (count, sum, min, max in ms).
public final class ProbeLatencyWindow: ProbeResultSink {
    private let stats = Locked<[String: MetricDatum.Statistics]>([:])

    public init() {}

    public func record(_ result: ProbeResult) {
        let ms = result.latency.milliseconds
        stats.withLock { stats in
            var current = stats[result.probe] ?? MetricDatum.Statistics(sampleCount: 0, sum: 0, minimum: ms, maximum: ms)
            current.sampleCount += 1
            current.sum += ms
            current.minimum = min(current.minimum, ms)
            current.maximum = max(current.maximum, ms)
            stats[result.probe] = current
        }
    }

    public func firstRoundCompleted() {}

    /// The statistics since the previous drain, and a fresh window.
    func drain() -> [String: MetricDatum.Statistics] { stats.withLock { stats in defer { stats = [:] }; return stats } }
}
