extension VigilConfig {
    public struct Web: Sendable {
        public var listenAddress: String
        public var telemetryPath: String
        public var threads: Int
        public var maxConnections: Int
        public var maxConnectionsPerIP: Int
        public var idleTimeout: Duration
        public var telemetryCache: Duration
        public var configFile: String?

        init(_ reader: inout ConfigReader) {
            listenAddress = reader.string("web.listen_address")
            configFile = reader.optional("web.config_file")
            telemetryPath = reader.string("web.telemetry_path")
            threads = reader.int("web.threads", in: 1...64)
            maxConnections = reader.int("web.max_connections", in: 1...65_536)
            maxConnectionsPerIP = reader.int("web.max_connections_per_ip", in: 1...65_536)
            idleTimeout = reader.duration("web.idle_timeout", atLeast: .seconds(1))
            telemetryCache = reader.duration("web.telemetry_cache")
            reader.check("web.telemetry_path", telemetryPath.hasPrefix("/") && telemetryPath.count > 1
                         && !telemetryPath.hasPrefix("/health"), "must start with / and not be / or under /health")
            reader.check("web.listen_address", listenAddress.contains(":"), "expected HOST:PORT or :PORT")
        }
    }

    public enum LogFormat: String, Sendable { case logfmt, json }
    public enum LogLevel: String, Sendable { case debug, info, warning, error }

    public struct Log: Sendable {
        public var level: LogLevel
        public var format: LogFormat

        init(_ reader: inout ConfigReader) {
            level = reader.choice("log.level", ["debug": .debug, "info": .info, "warning": .warning, "error": .error])
            format = reader.choice("log.format", ["logfmt": .logfmt, "json": .json])
        }
    }

    public struct Probe: Sendable {
        public var enabled: Bool
        public var critical: Bool
        public var interval: Duration
        public var timeout: Duration

        static func all(_ reader: inout ConfigReader) -> [String: Probe] {
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
            return probes
        }
    }

    public struct Health: Sendable {
        public var unhealthyStatusCode: Int
        public var latencyThreshold: Duration
        public var minimumCacheHitRatio: Double

        init(_ reader: inout ConfigReader) {
            unhealthyStatusCode = reader.int("health.unhealthy_status_code", in: 200...599)
            latencyThreshold = reader.duration("health.latency_threshold", atLeast: .milliseconds(1))
            minimumCacheHitRatio = reader.ratio("health.min_cache_hit_ratio")
        }
    }

    public struct Database: Sendable {
        public var sslMode: String
        public var caFile: String?

        init(_ reader: inout ConfigReader) {
            sslMode = reader.choice("database.sslmode", Dictionary(uniqueKeysWithValues:
                ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].map { ($0, $0) }))
            caFile = reader.optional("database.ca_file")
        }
    }
}

extension VigilConfig {
    public struct Redis: Sendable {
        public var caFile: String?
        public var serverName: String?
        public var info: Bool

        init(_ reader: inout ConfigReader) {
            caFile = reader.optional("redis.ca_file")
            serverName = reader.optional("redis.server_name")
            info = reader.bool("redis.info")
        }
    }
}
