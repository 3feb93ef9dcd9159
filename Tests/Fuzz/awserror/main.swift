// libFuzzer target: AWS error answers (Sources/VigilAWS/Client/AWSError.swift:
// JSON `__type`/`code`/`message` bodies, XML `<Code>`/`<Message>`/`<RequestId>`
// bodies, the `x-amzn-errortype` header) and the pieces of the STS answer and
// `Date` header parsing beside it (XMLText, UnixTime). Input: two bytes of
// HTTP status (100-599), one flag byte (bit 0: the first line of the rest is
// an `x-amzn-errortype` header, bit 1: the next line is `x-amzn-requestid`),
// then the body. Checks: no crash; the code is never empty and holds no `#`
// or `:` (normalize strips both); the metric label is a known code or
// Network/Timeout/Other, never free text; the message is at most 300
// characters; 429 is throttling and 5xx never a client error; reading is
// deterministic.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))[...]
    guard bytes.count >= 3 else { return 0 }
    let status = 100 + (Int(bytes.removeFirst()) << 8 | Int(bytes.removeFirst())) % 500
    let flags = bytes.removeFirst()
    var headers: [String: String] = [:]
    func line() -> String {
        let end = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
        defer { bytes = bytes[min(end + 1, bytes.endIndex)...] }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
    if flags & 1 != 0 { headers["x-amzn-errortype"] = line() }
    if flags & 2 != 0 { headers["x-amzn-requestid"] = line() }
    let reply = HTTPReply(status: status, headers: headers, body: Array(bytes))

    let error = AWSError(reply: reply)
    check(!error.code.isEmpty && !error.code.contains("#") && !error.code.contains(":"), "code \(error.code.debugDescription)")
    check(AWSError.normalize(error.code) == error.code, "normalize not idempotent on \(error.code)")
    check(AWSError.knownCodes.contains(error.metricCode) || ["Network", "Timeout", "Other"].contains(error.metricCode),
          "metric code \(error.metricCode)")
    check(error.message.count <= 300, "message of \(error.message.count) characters")
    check(error.status == status)
    if status == 429 { check(error.kind == .throttling) }
    if status >= 500 { check(error.kind != .client) }
    check(error.isRetryable == (error.kind != .client))
    if flags & 2 != 0 { check(error.requestID == headers["x-amzn-requestid"]) }
    _ = (error.isClockSkew, error.isExpiredCredentials, error.description)
    let again = AWSError(reply: reply)
    check(again == error, "not deterministic")

    // The STS AssumeRoleWithWebIdentity answer and the Date header, as read
    // by WebIdentityCredentials and AWSClient.
    let text = String(decoding: reply.body, as: UTF8.self)
    for element in ["AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"] {
        if let value = XMLText.first(element, in: text) {
            check(text.contains("<\(element)>") && text.contains("</\(element)>"))
            _ = UnixTime(iso8601: value)
        }
    }
    _ = UnixTime(iso8601: text)
    _ = UnixTime(httpDate: text)
    return 0
}
