import Foundation

/// Vigil's configuration, typed and validated. Build it with `load`, which
/// layers the YAML file, `VIGIL_*` environment variables and flags.
public struct VigilConfig: Sendable {
    public struct Web: Sendable {
        public var listenAddress: String
        public var telemetryPath: String
        public var threads: Int
        public var maxConnections: Int
        public var idleTimeout: Duration
        public var telemetryCache: Duration
    }

    public enum LogFormat: String, Sendable { case logfmt, json }
    public enum LogLevel: String, Sendable { case debug, info, warning, error }

    public struct Log: Sendable {
        public var level: LogLevel
        public var format: LogFormat
    }

    public struct Probe: Sendable {
        public var enabled: Bool
        public var critical: Bool
        public var interval: Duration
        public var timeout: Duration
    }

    public struct Health: Sendable {
        public var unhealthyStatusCode: Int
    }

    public struct Endpoint: Sendable {
        /// The environment variable that holds the connection URL.
        public var urlEnvironmentVariable: String
    }

    public var web: Web
    public var log: Log
    public var probes: [String: Probe]
    public var health: Health
    public var database: Endpoint
    public var databaseSSLMode: String
    public var redis: Endpoint
    /// Where each set key came from, for `vigil config check`.
    public var origins: [String: String]
    /// The effective text of every key (set or default), for `vigil config check`.
    public var effective: [String: String]

    /// Loads and validates. `file` nil means defaults + environment + flags.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                            flags: [String: String] = [:]) throws(ConfigError) -> VigilConfig {
        var raw = RawConfig()
        if let file {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw ConfigError(problems: [ConfigProblem(key: "(file)", origin: file, message: "cannot read the configuration file")])
            }
            raw.addYAML(text, file: file)
        }
        raw.addEnvironment(environment, knownKeys: Schema.keys)
        for (key, value) in flags { raw.set(key, value, origin: "flag --\(key.replacingOccurrences(of: "_", with: "-"))") }
        return try VigilConfig(raw: raw)
    }

    public init(raw: RawConfig) throws(ConfigError) {
        var reader = ConfigReader(raw: raw)
        web = Web(
            listenAddress: reader.string("web.listen_address"),
            telemetryPath: reader.string("web.telemetry_path"),
            threads: reader.int("web.threads", in: 1...64),
            maxConnections: reader.int("web.max_connections", in: 1...65_536),
            idleTimeout: reader.duration("web.idle_timeout", atLeast: .seconds(1)),
            telemetryCache: reader.duration("web.telemetry_cache"))
        reader.check("web.telemetry_path", web.telemetryPath.hasPrefix("/") && web.telemetryPath.count > 1
                     && !web.telemetryPath.hasPrefix("/health"),
                     "must start with / and not be / or under /health")
        reader.check("web.listen_address", web.listenAddress.contains(":"), "expected HOST:PORT or :PORT")
        log = Log(level: reader.choice("log.level", ["debug": .debug, "info": .info, "warning": .warning, "error": .error]),
                  format: reader.choice("log.format", ["logfmt": .logfmt, "json": .json]))
        let interval = reader.duration("probes.interval", atLeast: .milliseconds(100))
        // An unset timeout shrinks to fit a short interval (VIGIL_PROBES_INTERVAL=2s just works).
        var timeout = reader.duration("probes.timeout", atLeast: .milliseconds(10))
        if !reader.isSet("probes.timeout") { timeout = min(timeout, interval) }
        reader.check("probes.timeout", timeout <= interval,
                     "timeout (\(DurationParser.format(timeout))) must not exceed probes.interval (\(DurationParser.format(interval)))")
        var probes: [String: Probe] = [:]
        for name in Schema.probeNames {
            var probe = Probe(enabled: reader.bool("probes.\(name).enabled"),
                              critical: reader.bool("probes.\(name).critical"),
                              interval: reader.duration("probes.\(name).interval", inheriting: interval),
                              timeout: reader.duration("probes.\(name).timeout", inheriting: timeout))
            let timeoutKey = "probes.\(name).timeout"
            if !reader.isSet(timeoutKey) && !reader.isSet("probes.timeout") { probe.timeout = min(probe.timeout, probe.interval) }
            let blamed = reader.isSet(timeoutKey) ? timeoutKey : "probes.\(name).interval"
            reader.check(blamed, probe.timeout <= probe.interval || !reader.isSet(blamed),
                         "timeout (\(DurationParser.format(probe.timeout))) must not exceed the interval (\(DurationParser.format(probe.interval)))")
            probes[name] = probe
        }
        self.probes = probes
        health = Health(unhealthyStatusCode: reader.int("health.unhealthy_status_code", in: 200...599))
        database = Endpoint(urlEnvironmentVariable: reader.string("database.url_env"))
        databaseSSLMode = reader.choice("database.sslmode", Dictionary(uniqueKeysWithValues:
            ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].map { ($0, $0) }))
        redis = Endpoint(urlEnvironmentVariable: reader.string("redis.url_env"))
        origins = raw.entries.mapValues(\.origin)
        effective = Dictionary(uniqueKeysWithValues: Schema.keys.map { ($0, reader.text($0)) })
        if !reader.problems.isEmpty { throw ConfigError(problems: reader.problems) }
    }
}
