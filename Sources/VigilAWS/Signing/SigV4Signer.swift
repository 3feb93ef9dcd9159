import Glibc
import VigilPlatform

/// An HTTP request as SigV4 sees it. `path` and `query` are decoded text:
/// the signer does the encoding.
public struct SignableRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [(name: String, value: String)]
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, path: String = "/", query: [(name: String, value: String)] = [],
                headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// AWS Signature Version 4, header form. Signing keys are derived once per
/// day, region and service and cached (keyed by access key id, never by the
/// secret).
public final class SigV4Signer: Sendable {
    public struct Options: Sendable {
        /// Remove `.`/`..` segments and repeated slashes (every service but S3).
        public var normalizePath = true
        /// Add and sign `X-Amz-Content-SHA256` (required when the body is gzip).
        public var signBodyHash = false
        /// Add the session token after signing instead of signing it (some services).
        public var omitSessionToken = false
        public init() {}
    }

    private let keyCache = Locked<[String: [UInt8]]>([:])

    public init() {}

    /// Adds `X-Amz-Date`, the session token and `Authorization` to `request`.
    public func sign(_ request: inout SignableRequest, credentials: AWSCredentials, region: String, service: String,
                     date: UnixTime, options: Options = Options()) {
        let parts = signatureParts(request, credentials: credentials, region: region, service: service, date: date,
                                   options: options)
        request.headers = parts.headers
        request.headers.append((name: "Authorization", value:
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(parts.scope), "
            + "SignedHeaders=\(parts.signedHeaders), Signature=\(parts.signature)"))
        if options.omitSessionToken, let token = credentials.sessionToken {
            request.headers.append((name: "X-Amz-Security-Token", value: token.revealed()))
        }
    }

    /// Every intermediate of the signature, for tests and debugging.
    public struct Parts: Sendable {
        public var canonicalRequest: String
        public var stringToSign: String
        public var signature: String
        public var signedHeaders: String
        public var scope: String
        /// The request's headers with the date, token and body hash added.
        public var headers: [(name: String, value: String)]
    }

    public func signatureParts(_ request: SignableRequest, credentials: AWSCredentials, region: String, service: String,
                               date: UnixTime, options: Options = Options()) -> Parts {
        let (day, timestamp) = date.amzDate
        var headers = request.headers
        if request.header("x-amz-date") == nil { headers.append((name: "X-Amz-Date", value: timestamp)) }
        let payloadHash = Crypto.hex(Crypto.sha256(request.body))
        if options.signBodyHash && request.header("x-amz-content-sha256") == nil {
            headers.append((name: "X-Amz-Content-SHA256", value: payloadHash))
        }
        if !options.omitSessionToken, let token = credentials.sessionToken {
            headers.append((name: "X-Amz-Security-Token", value: token.revealed()))
        }
        let canonicalHeaders = Self.canonicalHeaders(headers)
        let signedHeaders = canonicalHeaders.map(\.name).joined(separator: ";")
        let canonicalRequest = [
            request.method,
            Self.canonicalPath(request.path, normalize: options.normalizePath),
            Self.canonicalQuery(request.query),
            canonicalHeaders.map { "\($0.name):\($0.value)\n" }.joined(),
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", timestamp, scope,
                            Crypto.hex(Crypto.sha256(Array(canonicalRequest.utf8)))].joined(separator: "\n")
        let key = signingKey(credentials: credentials, day: day, region: region, service: service)
        let signature = Crypto.hex(Crypto.hmacSHA256(key: key, data: Array(stringToSign.utf8)))
        return Parts(canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature,
                     signedHeaders: signedHeaders, scope: scope, headers: headers)
    }

    private func signingKey(credentials: AWSCredentials, day: String, region: String, service: String) -> [UInt8] {
        // The secret is part of the cache key only through its hash.
        let secret = credentials.secretAccessKey.revealed()
        let cacheKey = "\(credentials.accessKeyID)/\(Crypto.hex(Crypto.sha256(Array(secret.utf8))))/\(day)/\(region)/\(service)"
        if let cached = keyCache.withLock({ $0[cacheKey] }) { return cached }
        var key = Crypto.hmacSHA256(key: Array("AWS4\(secret)".utf8), data: Array(day.utf8))
        for part in [region, service, "aws4_request"] { key = Crypto.hmacSHA256(key: key, data: Array(part.utf8)) }
        keyCache.withLock { cache in
            if cache.count > 64 { cache.removeAll() }  // a new day or rotated keys: start over
            cache[cacheKey] = key
        }
        return key
    }

    static func canonicalPath(_ path: String, normalize: Bool) -> String {
        guard normalize else { return URIEncoding.encode(path.isEmpty ? "/" : path, keepSlash: true) }
        // Split on the byte `/`, not on Characters: a `/` followed by a
        // combining mark is one Character, and was not a separator (fuzzing, 2026-11).
        var segments: [String] = []
        for segment in path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            switch String(decoding: segment, as: UTF8.self) {
            case ".": continue
            case "..": _ = segments.popLast()
            case let text: segments.append(text)
            }
        }
        let trailing = path.utf8.last == UInt8(ascii: "/") && !segments.isEmpty ? "/" : ""
        let joined = "/" + segments.joined(separator: "/") + trailing
        return URIEncoding.encode(joined, keepSlash: true)
    }

    static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        query.map { (URIEncoding.encode($0.name), URIEncoding.encode($0.value)) }
            .sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Lower-cased names, sorted; values trimmed with inner runs of spaces
    /// collapsed; repeated headers joined with commas in request order.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> [(name: String, value: String)] {
        var merged: [String: [String]] = [:]
        for header in headers {
            let value = header.value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            merged[header.name.lowercased(), default: []].append(value)
        }
        return merged.keys.sorted().map { (name: $0, value: merged[$0]!.joined(separator: ",")) }
    }
}
