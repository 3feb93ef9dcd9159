import FoundationEssentials
import VigilCurl

/// A failed AWS call, as a value: the AWS error code, the HTTP status, the
/// request id and how to treat it. The message is AWS's own text; request
/// bodies are never included.
public struct AWSError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The service asked us to slow down: retry with backoff.
        case throttling
        /// 5xx and friends: retry.
        case transient
        /// Our request is wrong or not allowed: do not retry.
        case client
        /// No HTTP response (refused, reset, DNS, TLS): retry.
        case network
        /// No response in time: retry.
        case timeout
        /// Vigil could not even build the request (no credentials, no region).
        case configuration
    }

    public var code: String
    public var message: String
    public var status: Int?
    public var requestID: String?
    public var kind: Kind

    public init(code: String, message: String, status: Int? = nil, requestID: String? = nil, kind: Kind) {
        self.code = code
        self.message = message
        self.status = status
        self.requestID = requestID
        self.kind = kind
    }

    public var isRetryable: Bool { kind != .client && kind != .configuration }

    /// The request's signing time was too far from the service's clock.
    public var isClockSkew: Bool {
        code == "RequestTimeTooSkewed" || code == "RequestExpired"
            || (Self.authenticationCodes.contains(code)
                && (message.contains("Signature expired") || message.contains("Signature not yet current")))
    }

    /// The credentials signed with have expired or are no longer known.
    public var isExpiredCredentials: Bool {
        ["ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"].contains(code)
    }

    public var description: String {
        var text = "\(code): \(message)"
        if let status { text += " (HTTP \(status)" + (requestID.map { ", request id \($0)" } ?? "") + ")" }
        return text
    }

    /// The `code` label for metrics: a known AWS code, or `Network`,
    /// `Timeout`, `Other`. Never free text.
    public var metricCode: String {
        switch kind {
        case .network: "Network"
        case .timeout: "Timeout"
        default: Self.knownCodes.contains(code) ? code : "Other"
        }
    }

    public static let knownCodes: Set<String> = [
        "AccessDenied", "AccessDeniedException", "SignatureDoesNotMatch", "InvalidSignatureException",
        "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
        "IncompleteSignature", "MissingAuthenticationToken", "RequestExpired", "RequestTimeTooSkewed",
        "ResourceNotFoundException", "InvalidParameterException", "InvalidRequestException", "DecryptionFailure",
        "InternalServiceError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException",
        "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
        "LimitExceededException", "InvalidParameterValue", "InvalidParameterCombination", "MissingParameter",
        "InvalidIdentityToken", "IDPCommunicationError", "IDPRejectedClaim", "CredentialsUnavailable",
    ]

    /// Codes that say the credentials or the signature were refused.
    public static let authenticationCodes: Set<String> = [
        "SignatureDoesNotMatch", "InvalidSignatureException", "UnrecognizedClientException", "InvalidClientTokenId",
        "ExpiredToken", "ExpiredTokenException", "IncompleteSignature", "MissingAuthenticationToken",
        "RequestExpired", "RequestTimeTooSkewed", "CredentialsUnavailable",
    ]

    static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
        "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
    ]

    static let transientCodes: Set<String> = [
        "RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "InternalServiceError",
        "ServiceUnavailable", "ServiceUnavailableException", "IDPCommunicationError",
    ]

    init(transport: TransportError) {
        switch transport {
        case .timeout: self.init(code: "Timeout", message: "no response in time", kind: .timeout)
        case .dns: self.init(code: "Network", message: "cannot resolve the endpoint host", kind: .network)
        case .tls(let why): self.init(code: "Network", message: "TLS: \(why)", kind: .network)
        case .network(let why): self.init(code: "Network", message: why, kind: .network)
        case .refused: self.init(code: "Network", message: "connection refused", kind: .network)
        case .responseTooLarge: self.init(code: "Other", message: "response too large", kind: .transient)
        }
    }

    /// Reads an error response: JSON (`__type`, `message`/`Message`) or XML
    /// (`<Code>`, `<Message>`, `<RequestId>`), as AWS and moto send them.
    init(reply: HTTPReply) {
        var code = ""
        var message = ""
        var requestID = reply.headers["x-amzn-requestid"] ?? reply.headers["x-amz-request-id"]
        if let object = try? JSONDecoder().decode(JSONErrorBody.self, from: Data(reply.body)) {
            code = object.type ?? object.code ?? object.Code ?? ""
            message = object.message ?? object.Message ?? ""
        } else {
            let text = String(decoding: reply.body, as: UTF8.self)
            code = XMLText.first("Code", in: text) ?? ""
            message = XMLText.first("Message", in: text) ?? ""
            requestID = requestID ?? XMLText.first("RequestId", in: text) ?? XMLText.first("RequestID", in: text)
        }
        if code.isEmpty, let header = reply.headers["x-amzn-errortype"] { code = header }
        code = Self.normalize(code)
        if code.isEmpty { code = reply.status >= 500 ? "InternalFailure" : "HTTP\(reply.status)" }
        let kind: Kind =
            if Self.throttlingCodes.contains(code) || reply.status == 429 { .throttling }
            else if reply.status >= 500 || Self.transientCodes.contains(code) { .transient }
            else { .client }
        self.init(code: code, message: String(message.prefix(300)), status: reply.status, requestID: requestID, kind: kind)
    }

    /// `aws.protocoltests#ThrottlingException:http://...` -> `ThrottlingException`.
    public static func normalize(_ code: String) -> String {
        var code = Substring(code)
        if let hash = code.lastIndex(of: "#") { code = code[code.index(after: hash)...] }
        if let colon = code.firstIndex(of: ":") { code = code[..<colon] }
        return String(code)
    }
}

/// The fields of a JSON-protocol error body; AWS and moto disagree on case.
private struct JSONErrorBody: Decodable {
    var type: String?
    var code: String?
    var Code: String?
    var message: String?
    var Message: String?

    enum CodingKeys: String, CodingKey {
        case type = "__type", code, Code, message, Message
    }
}

/// Just enough XML for AWS query-protocol answers: the text of an element.
enum XMLText {
    static func first(_ element: String, in text: String) -> String? {
        guard let open = text.firstRange(of: "<\(element)>"),
              let close = text[open.upperBound...].firstRange(of: "</\(element)>") else { return nil }
        return unescape(String(text[open.upperBound..<close.lowerBound]))
    }

    static func unescape(_ text: String) -> String {
        text.replacing("&lt;", with: "<").replacing("&gt;", with: ">")
            .replacing("&quot;", with: "\"").replacing("&apos;", with: "'")
            .replacing("&amp;", with: "&")
    }
}
