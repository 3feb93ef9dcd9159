import VigilPlatform

extension VigilConfig {
    /// The secrets endpoint (`endpoint.*`).
    public struct Endpoint: Sendable {
        public var enabled: Bool
        public var listenAddress: String
        public var pathPrefix: String
        public var tokenFile: String?
        public var tokenVariables: [String]
        public var tokenHeaders: [String]
        /// Empty: the configured items' ids and `<prefix>/<environment>/*`.
        public var allow: [String]
        public var threads: Int
        public var maxConnections: Int
        public var timeout: Duration
        public var cacheSize: Int

        init(_ reader: inout ConfigReader) {
            enabled = reader.bool("endpoint.enabled")
            listenAddress = reader.string("endpoint.listen_address")
            pathPrefix = reader.string("endpoint.path_prefix")
            tokenFile = reader.optional("endpoint.token_file")
            tokenVariables = reader.list("endpoint.token_variables")
            tokenHeaders = reader.list("endpoint.token_headers")
            allow = reader.list("endpoint.allow")
            threads = reader.int("endpoint.threads", in: 1...64)
            maxConnections = reader.int("endpoint.max_connections", in: 1...10_000)
            timeout = reader.duration("endpoint.timeout", atLeast: .milliseconds(10), atMost: .seconds(300))
            cacheSize = reader.int("endpoint.cache_size", in: 1...100_000)
            reader.checkListenAddress("endpoint.listen_address", listenAddress, forms: "HOST:PORT or unix:/PATH", unixSocket: true)
            reader.check("endpoint.path_prefix", pathPrefix.hasPrefix("/") && pathPrefix.count > 1
                         && !["/ping", "/secretsmanager/"].contains { pathPrefix.hasPrefix($0) },
                         "must start with / and not be /, /ping or under /secretsmanager/")
            reader.check("endpoint.token_headers", !tokenHeaders.isEmpty, "needs at least one header name")
            reader.check("endpoint.allow", allow.allSatisfy { !$0.dropLast($0.hasSuffix("*") ? 1 : 0).contains("*") },
                         "a `*` may only end an entry (a prefix)")
        }
    }
}
