import ArgumentParser
import FoundationEssentials
import VigilConfig
import VigilProbes

/// Options shared by the commands that load a configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "YAML configuration file (default: $VIGIL_CONFIG).")
    var file: String?

    @Option(name: .customLong("web.listen-address"), help: "Address to listen on, e.g. :9731 or 127.0.0.1:9731; repeat to listen on several.")
    var listenAddress: [String] = []

    @Option(name: .customLong("web.telemetry-path"), help: "Path of the metrics endpoint.")
    var telemetryPath: String?

    @Option(name: .customLong("web.config.file"), help: "Web configuration file for TLS and basic auth (exporter-toolkit format).")
    var webConfigFile: String?

    @Option(name: .customLong("web.threads"), help: "HTTP worker threads.")
    var threads: String?

    @Option(name: .customLong("log.level"), help: "debug, info, warn (or warning) or error.")
    var logLevel: String?

    @Option(name: .customLong("log.format"), help: "logfmt or json.")
    var logFormat: String?

    /// Flags override the environment, which overrides the file.
    var flagOverrides: [String: String] {
        let pairs: [(String, String?)] = [
            ("web.listen_address", listenAddress.isEmpty ? nil : listenAddress.joined(separator: ",")), ("web.telemetry_path", telemetryPath), ("web.config_file", webConfigFile),
            ("web.threads", threads), ("log.level", logLevel), ("log.format", logFormat),
        ]
        return Dictionary(uniqueKeysWithValues: pairs.compactMap { key, value in value.map { (key, $0) } })
    }

    var resolvedFile: String? { file ?? ProcessInfo.processInfo.environment["VIGIL_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } }

    /// Loads the configuration or exits 78 after printing every problem.
    func load() throws -> VigilConfig {
        try loadConfiguration(file: resolvedFile, flags: flagOverrides)
    }
}

/// Loads the configuration or exits 78 after printing every problem.
func loadConfiguration(file: String?, flags: [String: String] = [:]) throws -> VigilConfig {
    do {
        return try VigilConfig.load(file: file, flags: flags, kinds: ProbeCatalog.kinds)
    } catch {
        throw reportFailure(error, exitCode: exitConfigError)
    }
}
