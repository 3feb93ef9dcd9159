extension VigilConfig {
    public struct Web: Sendable {
        /// One or more `HOST:PORT` (`--web.listen-address` repeated, or a YAML list).
        public var listenAddresses: [String]
        public var telemetryPath: String
        public var threads: Int
        public var maxConnections: Int
        public var maxConnectionsPerIP: Int
        public var idleTimeout: Duration
        public var telemetryCache: Duration
        public var configFile: String?

        init(_ reader: inout ConfigReader) {
            listenAddresses = reader.string("web.listen_address").split(separator: ",").map(String.init)
            configFile = reader.optional("web.config_file")
            telemetryPath = reader.string("web.telemetry_path")
            threads = reader.int("web.threads", in: 1...64)
            maxConnections = reader.int("web.max_connections", in: 1...65_536)
            maxConnectionsPerIP = reader.int("web.max_connections_per_ip", in: 1...65_536)
            idleTimeout = reader.duration("web.idle_timeout", atLeast: .seconds(1), atMost: .seconds(86_400))
            telemetryCache = reader.duration("web.telemetry_cache")
            reader.check("web.telemetry_path", telemetryPath.hasPrefix("/") && telemetryPath.count > 1
                         && !telemetryPath.hasPrefix("/health"), "must start with / and not be / or under /health")
            // What `serve` binds, checked here so `vigil config check` refuses it too.
            for address in listenAddresses { reader.checkListenAddress("web.listen_address", address, forms: "HOST:PORT or :PORT") }
            reader.check("web.listen_address", !listenAddresses.isEmpty, "expected HOST:PORT or :PORT")
        }
    }

    public enum LogFormat: String, Sendable { case logfmt, json }
    public enum LogLevel: String, Sendable { case debug, info, warn, error }

    public struct Log: Sendable {
        public var level: LogLevel
        public var format: LogFormat

        init(_ reader: inout ConfigReader) {
            // `warn` as every Prometheus tool and chart spells it; `warning` kept as an alias.
            level = reader.choice("log.level", ["debug": .debug, "info": .info, "warn": .warn, "warning": .warn, "error": .error])
            format = reader.choice("log.format", ["logfmt": .logfmt, "json": .json])
        }
    }

    /// Who sees more of `/health` than the status words (Spring Boot Actuator's `show-details`).
    public enum ShowDetails: String, Sendable { case always, whenAuthorized = "when_authorized", never }

    public struct Health: Sendable {
        public var showDetails: ShowDetails
        public var unhealthyStatusCode: Int
        public var latencyThreshold: Duration
        public var minimumCacheHitRatio: Double

        init(_ reader: inout ConfigReader) {
            showDetails = reader.choice("health.show_details", ["always": .always, "when_authorized": .whenAuthorized, "never": .never])
            unhealthyStatusCode = reader.int("health.unhealthy_status_code", in: 200...599)
            latencyThreshold = reader.duration("health.latency_threshold", atLeast: .milliseconds(1))
            minimumCacheHitRatio = reader.ratio("health.min_cache_hit_ratio")
        }
    }
}
