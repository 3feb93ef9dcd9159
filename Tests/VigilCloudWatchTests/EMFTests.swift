import Foundation
import Testing
import VigilAWS
@testable import VigilCloudWatch

/// An EMF line against the format's required keys and limits.
@Suite struct EMFTests {
    @Test func lineHasTheRequiredKeysAndStaysWithinTheLimits() throws {
        let time = UnixTime(seconds: 1_800_000_000)
        let base = [(name: "Environment", value: "prod")]
        let datums = [
            MetricDatum(name: "CacheHitRate", unit: .percent, value: 97.5, statistics: nil, dimensions: base, timestamp: time),
            MetricDatum(name: "FallbackCount", unit: .count, value: 2, statistics: nil,
                        dimensions: base + [("Source", "environment")], timestamp: time),
            MetricDatum(name: "FallbackCount", unit: .count, value: 3, statistics: nil,
                        dimensions: base + [("Source", "emergency_cache")], timestamp: time),
            MetricDatum(name: "ProbeLatency", unit: .milliseconds, value: nil,
                        statistics: .init(sampleCount: 4, sum: 40, minimum: 5, maximum: 15),
                        dimensions: base + [("Probe", "database")], timestamp: time),
            MetricDatum(name: "ProbeLatency", unit: .milliseconds, value: nil,
                        statistics: .init(sampleCount: 2, sum: 4, minimum: 1, maximum: 3),
                        dimensions: base + [("Probe", "redis")], timestamp: time),
            MetricDatum(name: "OverallHealthy", unit: .none, value: .nan, statistics: nil, dimensions: base, timestamp: time),
        ]
        let line = try #require(EMFWriter.line(datums, namespace: "Vigil"))
        #expect(!line.contains("\n"))
        let document = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let aws = try #require(document["_aws"] as? [String: Any])
        #expect(aws["Timestamp"] as? Int64 == 1_800_000_000_000)
        let directives = try #require(aws["CloudWatchMetrics"] as? [[String: Any]])
        #expect(directives.count == 1)
        let directive = directives[0]
        #expect(directive["Namespace"] as? String == "Vigil")
        let dimensionSets = try #require(directive["Dimensions"] as? [[String]])
        #expect(dimensionSets == [["Environment"]])
        #expect(dimensionSets.allSatisfy { $0.count <= EMFWriter.maxDimensions })
        let metrics = try #require(directive["Metrics"] as? [[String: String]])
        #expect(metrics.count <= EMFWriter.maxMetrics)
        #expect(metrics.map { $0["Name"] ?? "" } == ["CacheHitRate", "FallbackCount", "ProbeLatency"])  // NaN left out
        for metric in metrics {  // every metric has a numeric value (or array) at the root
            let value = document[metric["Name"] ?? ""]
            #expect(value is Double || value is [Double] || value is Int, "\(metric)")
        }
        #expect(document["Environment"] as? String == "prod")
        #expect(document["FallbackCount"] as? Double == 5)
        #expect(document["ProbeLatency"] as? [Double] == [10, 2])
        #expect(metrics.first?["Unit"] == "Percent")
    }
}
