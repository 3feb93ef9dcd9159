/// Where finished probe results go (the health state implements it).
public protocol ProbeResultSink: Sendable {
    func record(_ result: ProbeResult)
    /// Called once, when every enabled probe has reported at least once.
    func firstRoundCompleted()
}

/// Hands every result to several sinks (the health store, the CloudWatch
/// latency window).
public struct ProbeResultFanOut: ProbeResultSink {
    public let sinks: [any ProbeResultSink]

    public init(_ sinks: [any ProbeResultSink]) { self.sinks = sinks }

    public func record(_ result: ProbeResult) { for sink in sinks { sink.record(result) } }
    public func firstRoundCompleted() { for sink in sinks { sink.firstRoundCompleted() } }
}
