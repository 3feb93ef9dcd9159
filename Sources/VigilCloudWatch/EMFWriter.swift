import Foundation
import VigilAWS

/// CloudWatch Embedded Metric Format: one JSON line per interval, for the
/// CloudWatch agent, ECS/Fargate log drivers or Lambda. Same metric names as
/// the API mode. A document carries one value per dimension, so metrics the
/// API splits by a dimension (FallbackCount by Source, AWSErrors by code)
/// are summed, and ProbeLatency holds each probe's mean as an array.
final class EMFWriter: Sendable {
    /// EMF limits: metrics per directive, dimensions per set.
    static let maxMetrics = 100
    static let maxDimensions = 30

    private let path: String?
    private let namespace: String

    init(path: String?, namespace: String) {
        self.path = path
        self.namespace = namespace
    }

    func write(_ datums: [MetricDatum]) {
        guard let line = Self.line(datums, namespace: namespace) else { return }
        let data = Data((line + "\n").utf8)
        if let path, let handle = FileHandle(forWritingAtPath: path) ?? Self.create(path) {
            handle.seekToEndOfFile()
            handle.write(data)
            try? handle.close()
        } else {
            FileHandle.standardOutput.write(data)
        }
    }

    private static func create(_ path: String) -> FileHandle? {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)
    }

    static func line(_ datums: [MetricDatum], namespace: String) -> String? {
        guard let first = datums.first else { return nil }
        var values: [String: [Double]] = [:]
        var units: [String: String] = [:]
        var order: [String] = []
        let base = first.dimensions.filter { dimension in datums.allSatisfy { $0.dimensions.contains { $0 == dimension } } }
        for datum in datums {
            let value = datum.statistics.map { $0.sampleCount > 0 ? $0.sum / $0.sampleCount : 0 } ?? datum.value ?? 0
            guard value.isFinite else { continue }
            if values[datum.name] == nil { order.append(datum.name) }
            units[datum.name] = datum.unit.rawValue
            let splitByDimension = datum.dimensions.count > base.count
            if splitByDimension && datum.statistics == nil, let existing = values[datum.name]?.first {
                values[datum.name] = [existing + value]
            } else {
                values[datum.name, default: []].append(value)
            }
        }
        let names = Array(order.prefix(maxMetrics))
        let directive: [String: Any] = [
            "Namespace": namespace,
            "Dimensions": [Array(base.prefix(maxDimensions).map(\.name))],
            "Metrics": names.map { ["Name": $0, "Unit": units[$0] ?? "None"] },
        ]
        var document: [String: Any] = ["_aws": ["Timestamp": Int64(first.timestamp.seconds * 1000),
                                                "CloudWatchMetrics": [directive]]]
        for dimension in base { document[dimension.name] = dimension.value }
        for name in names {
            let list = values[name] ?? []
            document[name] = list.count == 1 ? list[0] as Any : list as Any
        }
        guard let data = try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
