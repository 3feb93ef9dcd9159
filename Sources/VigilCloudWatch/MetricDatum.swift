import VigilAWS

/// One CloudWatch datum: a value, or statistics over an interval.
public struct MetricDatum: Sendable, Equatable {
    public struct Statistics: Sendable, Equatable {
        public var sampleCount: Double
        public var sum: Double
        public var minimum: Double
        public var maximum: Double
    }

    public enum Unit: String, Sendable {
        case count = "Count", percent = "Percent", milliseconds = "Milliseconds", none = "None"
    }

    public var name: String
    public var unit: Unit
    public var value: Double?
    public var statistics: Statistics?
    public var dimensions: [(name: String, value: String)]
    public var timestamp: UnixTime

    public static func == (a: MetricDatum, b: MetricDatum) -> Bool {
        a.name == b.name && a.unit == b.unit && a.value == b.value && a.statistics == b.statistics
            && a.timestamp == b.timestamp && a.dimensions.map(\.name) == b.dimensions.map(\.name)
            && a.dimensions.map(\.value) == b.dimensions.map(\.value)
    }

    /// Form parameters of `MetricData.member.<index>` for PutMetricData.
    func queryParameters(index: Int, storageResolution: Int) -> [(String, String)] {
        let prefix = "MetricData.member.\(index)."
        var parameters = [(prefix + "MetricName", name), (prefix + "Unit", unit.rawValue),
                          (prefix + "Timestamp", timestamp.iso8601), (prefix + "StorageResolution", String(storageResolution))]
        for (position, dimension) in dimensions.enumerated() {
            parameters.append((prefix + "Dimensions.member.\(position + 1).Name", dimension.name))
            parameters.append((prefix + "Dimensions.member.\(position + 1).Value", dimension.value))
        }
        if let statistics {
            parameters += [(prefix + "StatisticValues.SampleCount", Self.format(statistics.sampleCount)),
                           (prefix + "StatisticValues.Sum", Self.format(statistics.sum)),
                           (prefix + "StatisticValues.Minimum", Self.format(statistics.minimum)),
                           (prefix + "StatisticValues.Maximum", Self.format(statistics.maximum))]
        } else {
            parameters.append((prefix + "Value", Self.format(value ?? 0)))
        }
        return parameters
    }

    /// CloudWatch refuses NaN and infinities: they never leave as such.
    static func format(_ number: Double) -> String {
        number.isFinite ? String(number) : "0"
    }

    /// Rough size in a request body, for the 1 MB limit.
    var encodedSize: Int { 200 + 80 * dimensions.count + name.utf8.count }
}

extension UnixTime {
    /// `2026-11-29T07:00:00Z`, what CloudWatch's Timestamp takes.
    public var iso8601: String {
        let (day, stamp) = amzDate
        let time = stamp.dropFirst(9)
        return "\(day.prefix(4))-\(day.dropFirst(4).prefix(2))-\(day.suffix(2))T\(time.prefix(2)):\(time.dropFirst(2).prefix(2)):\(time.dropFirst(4).prefix(2))Z"
    }
}
