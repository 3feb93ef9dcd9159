extension VigilConfig {
    public struct Web: Sendable {
        public var listenAddress: String
        public var telemetryPath: String
        public var threads: Int
        public var maxConnections: Int
        public var idleTimeout: Duration
        public var telemetryCache: Duration
        public var configFile: String?

        init(_ reader: inout ConfigReader) {
            listenAddress = reader.string("web.listen_address")
            configFile = reader.optional("web.config_file")
            telemetryPath = reader.string("web.telemetry_path")
            threads = reader.int("web.threads", in: 1...64)
            maxConnections = reader.int("web.max_connections", in: 1...65_536)
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

    public struct AWS: Sendable {
        /// nil: resolve from the environment, profile or instance metadata.
        public var region: String?
        public var secretsManagerEndpoint: String?
        public var cloudWatchEndpoint: String?
        public var stsEndpoint: String?
        public var caBundle: String?
        public var timeout: Duration
        /// nil: `AWS_MAX_ATTEMPTS` or 3.
        public var maxAttempts: Int?

        init(_ reader: inout ConfigReader) {
            region = reader.optional("aws.region")
            secretsManagerEndpoint = reader.optional("aws.secretsmanager_endpoint")
            cloudWatchEndpoint = reader.optional("aws.cloudwatch_endpoint")
            stsEndpoint = reader.optional("aws.sts_endpoint")
            caBundle = reader.optional("aws.ca_bundle")
            timeout = reader.duration("aws.timeout", atLeast: .milliseconds(100))
            maxAttempts = reader.text("aws.max_attempts").isEmpty ? nil : reader.int("aws.max_attempts", in: 1...10)
            for key in ["aws.secretsmanager_endpoint", "aws.cloudwatch_endpoint", "aws.sts_endpoint"] {
                let value = reader.text(key)
                reader.check(key, value.isEmpty || value.hasPrefix("http://") || value.hasPrefix("https://"),
                             "expected an http:// or https:// URL")
            }
        }
    }

    public struct Secrets: Sendable {
        public struct Item: Sendable {
            public var name: String
            public var id: String
            public var keys: [String]
            public var environmentVariable: String?
            public var required: Bool
        }

        public var prefix: String
        public var environment: String
        public var ttl: Duration
        public var emergencyTTL: Duration
        public var refreshAhead: Duration
        public var maxEntries: Int
        public var maxBackoff: Duration
        /// Empty: the standard `database` and `redis` items.
        public var items: [Item]

        init(_ reader: inout ConfigReader) {
            prefix = reader.string("secrets.prefix")
            environment = reader.string("secrets.environment")
            ttl = reader.duration("secrets.ttl", atLeast: .seconds(1))
            emergencyTTL = reader.duration("secrets.emergency_ttl", atLeast: .seconds(1))
            refreshAhead = reader.duration("secrets.refresh_ahead")
            maxEntries = reader.int("secrets.max_entries", in: 1...100_000)
            maxBackoff = reader.duration("secrets.max_backoff", atLeast: .seconds(1))
            reader.check("secrets.emergency_ttl", emergencyTTL >= ttl, "must be at least secrets.ttl")
            let names = Set(reader.raw.entries.keys.compactMap { key -> String? in
                let parts = key.split(separator: ".")
                return parts.count == 4 && parts[0] == "secrets" && parts[1] == "items" ? String(parts[2]) : nil
            }).sorted()
            var items: [Item] = []
            for name in names {
                let base = "secrets.items.\(name)"
                items.append(Item(name: name,
                                  id: reader.optional("\(base).id") ?? "\(prefix)/\(environment)/\(name)",
                                  keys: reader.text("\(base).keys").split(separator: ",").map(String.init),
                                  environmentVariable: reader.optional("\(base).env"),
                                  required: reader.bool("\(base).required")))
            }
            self.items = items
            reader.check("secrets.max_entries", items.count <= maxEntries, "fewer than the \(items.count) configured items")
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

extension VigilConfig {
    public struct CloudWatch: Sendable {
        public enum Mode: String, Sendable { case api, emf }

        public var enabled: Bool
        public var interval: Duration
        public var namespace: String
        public var dimensions: [(name: String, value: String)]
        public var storageResolution: Int
        public var mode: Mode
        public var emfOutput: String?
        public var buffer: Duration
        public var errorCodeDimension: Bool
        public var flushTimeout: Duration

        init(_ reader: inout ConfigReader, environment: String) {
            enabled = reader.bool("cloudwatch.enabled")
            interval = reader.duration("cloudwatch.interval", atLeast: .seconds(1))
            namespace = reader.string("cloudwatch.namespace")
            reader.check("cloudwatch.namespace", !namespace.isEmpty && !namespace.hasPrefix("AWS/") && namespace.count <= 255,
                         "must be 1-255 characters and not start with AWS/ (reserved for AWS services)")
            let configured = reader.raw.entries.keys.filter { $0.hasPrefix("cloudwatch.dimensions.") }.sorted()
                .map { (name: String($0.dropFirst("cloudwatch.dimensions.".count)), value: reader.text($0)) }
            dimensions = configured.isEmpty ? [(name: "Environment", value: environment)] : configured
            reader.check("cloudwatch.dimensions", dimensions.count <= 29, "at most 29 dimensions (CloudWatch allows 30 per datum)")
            storageResolution = reader.choice("cloudwatch.storage_resolution", ["60": 60, "1": 1])
            mode = reader.choice("cloudwatch.mode", ["api": .api, "emf": .emf])
            emfOutput = reader.optional("cloudwatch.emf_output")
            buffer = reader.duration("cloudwatch.buffer", atLeast: .seconds(0))
            errorCodeDimension = reader.bool("cloudwatch.error_code_dimension")
            flushTimeout = reader.duration("cloudwatch.flush_timeout")
        }
    }
}
