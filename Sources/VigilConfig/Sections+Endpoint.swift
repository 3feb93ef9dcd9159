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
        /// Parameter Store names (or prefixes ending in `*`) the endpoint's token may read; empty: none.
        public var allowParameters: [String]
        /// Applications' own tokens (`endpoint.tokens.<app>`), each with what it may read.
        public var tokens: [Token]
        public var threads: Int
        public var maxConnections: Int
        public var timeout: Duration
        public var cacheSize: Int
        public var maxWaiters: Int
        public var maxWait: Duration

        init(_ reader: inout ConfigReader) {
            enabled = reader.bool("endpoint.enabled")
            listenAddress = reader.string("endpoint.listen_address")
            pathPrefix = reader.string("endpoint.path_prefix")
            tokenFile = reader.optional("endpoint.token_file")
            tokenVariables = reader.list("endpoint.token_variables")
            tokenHeaders = reader.list("endpoint.token_headers")
            allow = reader.list("endpoint.allow")
            allowParameters = reader.list("endpoint.allow_parameters")
            tokens = reader.raw.names(under: "endpoint.tokens").sorted().map { name in
                let base = "endpoint.tokens.\(name)"
                let token = Token(name: name, file: reader.text("\(base).token_file"), allow: reader.list("\(base).allow"))
                reader.check("\(base).token_file", token.file.hasPrefix("/"), "required: the absolute path of the application's token file")
                reader.check("\(base).allow", !token.allow.isEmpty, "required: the secret ids the application may read")
                reader.check("\(base).allow", token.allow.allSatisfy(Self.isAllowEntry), "a `*` may only end an entry (a prefix)")
                return token
            }
            threads = reader.int("endpoint.threads", in: 1...64)
            maxConnections = reader.int("endpoint.max_connections", in: 1...10_000)
            timeout = reader.duration("endpoint.timeout", atLeast: .milliseconds(10), atMost: .seconds(300))
            cacheSize = reader.int("endpoint.cache_size", in: 1...100_000)
            maxWaiters = reader.int("endpoint.max_waiters", in: 0...100_000)
            maxWait = reader.duration("endpoint.max_wait", atLeast: .seconds(1), atMost: .seconds(3600))
            reader.checkListenAddress("endpoint.listen_address", listenAddress, forms: "HOST:PORT or unix:/PATH", unixSocket: true)
            reader.check("endpoint.path_prefix", pathPrefix.hasPrefix("/") && pathPrefix.count > 1
                         && !["/ping", "/secretsmanager/"].contains { pathPrefix.hasPrefix($0) },
                         "must start with / and not be /, /ping or under /secretsmanager/")
            reader.check("endpoint.token_headers", !tokenHeaders.isEmpty, "needs at least one header name")
            reader.check("endpoint.allow", allow.allSatisfy(Self.isAllowEntry), "a `*` may only end an entry (a prefix)")
            reader.check("endpoint.allow_parameters", allowParameters.allSatisfy(Self.isAllowEntry), "a `*` may only end an entry (a prefix)")
        }

        /// An application's token: its file and what it may read.
        public struct Token: Sendable {
            public var name: String
            public var file: String
            public var allow: [String]
        }

        /// An id, or a prefix ending in `*` (nowhere else).
        static func isAllowEntry(_ entry: String) -> Bool { !entry.dropLast(entry.hasSuffix("*") ? 1 : 0).contains("*") }
    }
}
