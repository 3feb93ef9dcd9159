import Logging
import VigilAWS
import VigilPlatform

/// A clock tests move by hand: TTLs expire without sleeping.
public final class ManualClock: Sendable {
    private let now: Locked<Double>

    public init(start: Double = 1_800_000_000) { now = Locked(start) }

    public func advance(_ seconds: Double) { now.withLock { $0 += seconds } }

    public var read: @Sendable () -> UnixTime { { [self] in UnixTime(seconds: now.withLock { $0 }) } }
}

/// A value shared with `@Sendable` closures under test.
public final class Recorded<Value: Sendable>: Sendable {
    private let storage: Locked<Value>
    public init(_ value: Value) { storage = Locked(value) }
    public var value: Value { storage.withLock { $0 } }
    public func update(_ body: (inout Value) -> Void) { storage.withLock { body(&$0) } }
}

/// A swift-log handler that keeps every line, for canary searches.
public struct CapturingLogHandler: LogHandler {
    public let lines: Recorded<[String]>
    public var logLevel: Logger.Level = .trace
    public var metadata: Logger.Metadata = [:]

    public init(lines: Recorded<[String]>) { self.lines = lines }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let fields = metadata.merging(event.metadata ?? [:]) { $1 }.map { "\($0.key)=\($0.value)" }.sorted()
        lines.update { $0.append("\(event.level) \(event.message) \(fields.joined(separator: " "))") }
    }

    public static func logger(into lines: Recorded<[String]>) -> Logger {
        Logger(label: "test") { _ in CapturingLogHandler(lines: lines) }
    }
}
