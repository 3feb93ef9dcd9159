import FoundationEssentials
import VigilPlatform

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
        if let path, append(line + "\n", toFile: path) { return }
        writeStream(line + "\n", to: 1)
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
        let directive = EMFDocument.Directive(
            Namespace: namespace, Dimensions: [Array(base.prefix(maxDimensions).map(\.name))],
            Metrics: names.map { .init(Name: $0, Unit: units[$0] ?? "None") })
        var document = EMFDocument(aws: .init(Timestamp: Int64(first.timestamp.seconds * 1000), CloudWatchMetrics: [directive]))
        for dimension in base { document.members[dimension.name] = .text(dimension.value) }
        for name in names {
            let list = values[name] ?? []
            document.members[name] = list.count == 1 ? .number(list[0]) : .numbers(list)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(document) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

/// One EMF document: the `_aws` metadata, then dimension values and metric
/// values as top-level members named after them.
private struct EMFDocument: Encodable {
    struct Metadata: Encodable {
        var Timestamp: Int64
        var CloudWatchMetrics: [Directive]
    }

    struct Directive: Encodable {
        var Namespace: String
        var Dimensions: [[String]]
        var Metrics: [Metric]
    }

    struct Metric: Encodable {
        var Name: String
        var Unit: String
    }

    enum Member: Encodable {
        case text(String), number(Double), numbers([Double])

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .text(let text): try container.encode(text)
            case .number(let number): try container.encode(number)
            case .numbers(let numbers): try container.encode(numbers)
            }
        }
    }

    struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    var aws: Metadata
    var members: [String: Member] = [:]

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(aws, forKey: Key(stringValue: "_aws"))
        for (name, member) in members { try container.encode(member, forKey: Key(stringValue: name)) }
    }
}
