import FoundationEssentials
import Logging
import Synchronization
import VigilConfig
import VigilPlatform

/// swift-log to stderr as logfmt (default) or JSON lines.
enum LogSetup {
    /// The level every logger follows: a reload changes it for all at once.
    static let level = LogLevelSwitch()

    static func bootstrap(_ config: VigilConfig.Log) -> Logger {
        level.set(config.level)
        let format = config.format
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, format: format, level: level) }
        return Logger(label: "vigil")
    }
}

/// A log level shared by every handler and changed at run time.
final class LogLevelSwitch: Sendable {
    private let current = Atomic<UInt8>(1)
    private static let levels: [Logger.Level] = [.debug, .info, .warning, .error]

    func set(_ level: VigilConfig.LogLevel) {
        let index: UInt8 = switch level {
        case .debug: 0
        case .info: 1
        case .warn: 2
        case .error: 3
        }
        current.store(index, ordering: .relaxed)
    }

    var level: Logger.Level { Self.levels[Int(current.load(ordering: .relaxed))] }
}

/// Writes one line per event: `ts=... level=info msg="..." key=value` or a
/// JSON object with the same fields.
struct LineLogHandler: LogHandler {
    let label: String
    let format: VigilConfig.LogFormat
    let level: LogLevelSwitch
    /// The shared level; swift-log's setter is not used (nothing sets a level per logger).
    var logLevel: Logger.Level {
        get { level.level }
        set {}
    }
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields: [(String, String)] = [
            ("ts", Date().formatted(.iso8601)), ("level", Self.word(event.level)), ("msg", "\(event.message)"),
        ] + metadata.merging(event.metadata ?? [:]) { $1 }.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") }
        let line = switch format {
        case .logfmt: fields.map { "\($0.0)=\(Self.logfmtValue($0.1))" }.joined(separator: " ")
        case .json: JSONWriter.object(fields.map { ($0.0, JSONWriter.quote($0.1)) })
        }
        writeStandardError(line + "\n")
    }

    /// swift-log's `warning` as go-kit and slog write it (`level=warn`), so
    /// one log query matches Vigil and the Prometheus tools alike.
    static func word(_ level: Logger.Level) -> String { level == .warning ? "warn" : level.rawValue }

    static func logfmtValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0.isNewline }
        return needsQuotes ? JSONWriter.quote(value) : value
    }

}
