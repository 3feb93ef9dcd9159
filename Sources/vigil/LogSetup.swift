import FoundationEssentials
import Logging
import VigilConfig
import VigilPlatform

/// swift-log to stderr as logfmt (default) or JSON lines.
enum LogSetup {
    static func bootstrap(_ config: VigilConfig.Log) -> Logger {
        let level: Logger.Level = switch config.level {
        case .debug: .debug
        case .info: .info
        case .warn: .warning
        case .error: .error
        }
        let format = config.format
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, format: format)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "vigil")
    }
}

/// Writes one line per event: `ts=... level=info msg="..." key=value` or a
/// JSON object with the same fields.
struct LineLogHandler: LogHandler {
    let label: String
    let format: VigilConfig.LogFormat
    var logLevel: Logger.Level = .info
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
