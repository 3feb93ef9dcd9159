/// Durations as the C libraries, metrics and reports take them.
extension Duration {
    /// The duration in seconds as a Double, for C timeouts and metrics.
    public var timeInterval: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in milliseconds as a Double, for reports and CloudWatch.
    public var milliseconds: Double { timeInterval * 1000 }
}
