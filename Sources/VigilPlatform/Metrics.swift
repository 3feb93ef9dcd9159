import Prometheus

/// How Vigil declares a metric, in every module: full name, help text,
/// labels from fixed sets (swift-prometheus's unit name stays empty: the
/// unit is in the name, as Prometheus's conventions want).
extension PrometheusCollectorRegistry {
    public func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Counter {
        makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    public func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
        makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    public func histogram(_ name: String, _ help: String, _ labels: [(String, String)] = [], buckets: [Double]) -> ValueHistogram {
        makeValueHistogram(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels,
                           buckets: buckets)
    }
}
