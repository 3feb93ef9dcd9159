/// The sections that reach AWS: credentials and endpoints, the secrets
/// client, CloudWatch publishing.
extension VigilConfig {
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
        /// Regions holding replicas of the secrets, tried in order when the primary fails.
        public var failoverRegions: [String]
        /// Secrets Manager URL by region (private endpoints, tests).
        public var secretsManagerEndpoints: [String: String]
        /// A read the primary has not answered after this long also goes to the next region.
        public var failoverDelay: Duration

        init(_ reader: inout ConfigReader) {
            region = reader.optional("aws.region")
            secretsManagerEndpoint = reader.optional("aws.secretsmanager_endpoint")
            cloudWatchEndpoint = reader.optional("aws.cloudwatch_endpoint")
            stsEndpoint = reader.optional("aws.sts_endpoint")
            caBundle = reader.optional("aws.ca_bundle")
            timeout = reader.duration("aws.timeout", atLeast: .milliseconds(100))
            maxAttempts = reader.text("aws.max_attempts").isEmpty ? nil : reader.int("aws.max_attempts", in: 1...10)
            failoverRegions = reader.list("aws.failover_regions")
            failoverDelay = reader.duration("aws.failover_delay", atLeast: .milliseconds(10))
            let mapped = reader.map("aws.secretsmanager_endpoints")
            secretsManagerEndpoints = Dictionary(uniqueKeysWithValues: mapped.map { ($0.name, $0.value) })
            let regions = failoverRegions.map { ("aws.failover_regions", $0) } + mapped.map { ("aws.secretsmanager_endpoints.\($0.name)", $0.name) }
            for (key, region) in regions {
                reader.check(key, Self.isRegionName(region), "`\(region)` is not a region name (like eu-west-1)")
            }
            reader.check("aws.failover_regions", Set(failoverRegions).count == failoverRegions.count
                         && !failoverRegions.contains(region ?? ""), "lists a region twice, or the primary (aws.region)")
            for key in ["aws.secretsmanager_endpoint", "aws.cloudwatch_endpoint", "aws.sts_endpoint"]
                + mapped.map({ "aws.secretsmanager_endpoints.\($0.name)" }) {
                let value = reader.text(key)
                reader.check(key, value.isEmpty || value.hasPrefix("http://") || value.hasPrefix("https://"),
                             "expected an http:// or https:// URL")
            }
        }

        /// `us-east-1`, `eu-central-2`, `us-gov-west-1`: letters, dashes, a final number.
        static func isRegionName(_ text: String) -> Bool {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            return parts.count >= 3 && parts.last.map { !$0.isEmpty && $0.allSatisfy(\.isNumber) } == true
                && parts.dropLast().allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isLowercase } }
        }
    }

    public struct Secrets: Sendable {
        public struct Item: Sendable {
            public var name: String
            public var id: String
            public var keys: [String]
            public var environmentVariable: String?
            public var required: Bool

            /// Every setting's effective text, for `vigil config check`.
            var effective: [String: String] {
                let base = "secrets.items.\(name)"
                return ["\(base).id": id, "\(base).keys": keys.joined(separator: ","), "\(base).env": environmentVariable ?? "",
                        "\(base).required": "\(required)"]
            }
        }

        public var prefix: String
        public var environment: String
        public var ttl: Duration
        public var emergencyTTL: Duration
        public var refreshAhead: Duration
        public var maxEntries: Int
        public var maxBackoff: Duration
        public var rotationWindow: Duration
        public var rotationGrace: Duration
        /// Empty: the standard `database` and `redis` items.
        public var items: [Item]
        /// The names probes may refer to (`probes.<name>.secret`).
        public var itemNames: [String] { items.isEmpty ? ["database", "redis"] : items.map(\.name) }

        init(_ reader: inout ConfigReader) {
            prefix = reader.string("secrets.prefix")
            environment = reader.string("secrets.environment")
            ttl = reader.duration("secrets.ttl", atLeast: .seconds(1))
            emergencyTTL = reader.duration("secrets.emergency_ttl", atLeast: .seconds(1))
            refreshAhead = reader.duration("secrets.refresh_ahead")
            maxEntries = reader.int("secrets.max_entries", in: 1...100_000)
            maxBackoff = reader.duration("secrets.max_backoff", atLeast: .seconds(1))
            rotationWindow = reader.duration("secrets.rotation_window", atLeast: .seconds(1))
            rotationGrace = reader.duration("secrets.rotation_grace")
            reader.check("secrets.emergency_ttl", emergencyTTL >= ttl, "must be at least secrets.ttl")
            var items: [Item] = []
            for name in reader.raw.names(under: "secrets.items").sorted() {
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
        public var instanceDimension: Bool
        public var flushTimeout: Duration

        init(_ reader: inout ConfigReader, environment: String) {
            enabled = reader.bool("cloudwatch.enabled")
            interval = reader.duration("cloudwatch.interval", atLeast: .seconds(1))
            namespace = reader.string("cloudwatch.namespace")
            reader.check("cloudwatch.namespace", !namespace.isEmpty && !namespace.hasPrefix("AWS/") && namespace.count <= 255,
                         "must be 1-255 characters and not start with AWS/ (reserved for AWS services)")
            let configured = reader.map("cloudwatch.dimensions")
            dimensions = configured.isEmpty ? [(name: "Environment", value: environment)] : configured
            // CloudWatch allows 30 per datum; Vigil adds up to two (InstanceId, and Probe, Source or ErrorCode).
            reader.check("cloudwatch.dimensions", dimensions.count <= 28, "at most 28 dimensions (CloudWatch allows 30 per datum, Vigil adds up to 2)")
            for dimension in configured {
                reader.check("cloudwatch.dimensions.\(dimension.name)", !dimension.value.isEmpty && dimension.value.count <= 1024,
                             "must be 1-1024 characters (CloudWatch rejects an empty dimension value)")
                reader.check("cloudwatch.dimensions.\(dimension.name)", dimension.name.count <= 255 && !dimension.name.hasPrefix(":"),
                             "dimension names are 1-255 characters and do not start with ':'")
            }
            storageResolution = reader.choice("cloudwatch.storage_resolution", ["60": 60, "1": 1])
            mode = reader.choice("cloudwatch.mode", ["api": .api, "emf": .emf])
            emfOutput = reader.optional("cloudwatch.emf_output")
            buffer = reader.duration("cloudwatch.buffer", atLeast: .seconds(0))
            errorCodeDimension = reader.bool("cloudwatch.error_code_dimension")
            instanceDimension = reader.bool("cloudwatch.instance_dimension")
            flushTimeout = reader.duration("cloudwatch.flush_timeout")
        }
    }
}
