// libFuzzer target: the SigV4 canonical request (Sources/VigilAWS/Signing/
// SigV4Signer.swift over URIEncoding, Crypto and UnixTime). Input, one item
// per line: the method, the decoded path, then `?name=value` query pairs and
// `name:value` headers. Checks: no crash; the canonical request has the six
// parts SigV4 defines (one line per distinct header name, lower-case and
// sorted, signed in that order); path and query are percent-encoded; a
// normalised path starts with `/`, holds no `//` (Options.normalizePath
// removes repeated slashes) and is a fixed point (normalising it again
// changes nothing); the output is stable: the same request twice, a fresh
// signer, the query pairs in any order and the headers in any order that
// keeps the order of repeated names all give the same canonical text and
// signature.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let lines = UnsafeBufferPointer(start: data, count: size)
        .split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        .map { String(decoding: $0, as: UTF8.self) }
    guard lines.count >= 2 else { return 0 }
    var request = SignableRequest(method: lines[0], path: lines[1])
    for line in lines.dropFirst(2) {
        if line.hasPrefix("?") {
            let pair = line.dropFirst().split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            request.query.append((name: String(pair[0]), value: pair.count > 1 ? String(pair[1]) : ""))
        } else if let colon = line.firstIndex(of: ":") {
            request.headers.append((name: String(line[..<colon]), value: String(line[line.index(after: colon)...])))
        }
    }
    let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE",
                                     secretAccessKey: SecretString("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                                     sessionToken: SecretString("session-token"))
    let date = UnixTime(seconds: 1_440_938_160)  // 20150830T123600Z, the AWS test suite's
    let signer = SigV4Signer()
    for normalize in [true, false] {
        var options = SigV4Signer.Options()
        options.normalizePath = normalize
        options.signBodyHash = normalize
        let parts = signer.signatureParts(request, credentials: credentials, region: "us-east-1", service: "service",
                                          date: date, options: options)
        let canonical = parts.canonicalRequest

        // Six parts: method, path, query, one line per header, signed names, payload hash.
        let headers = SigV4Signer.canonicalHeaders(parts.headers)
        let rows = canonical.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        check(rows.count == 6 + headers.count, "\(rows.count) lines for \(headers.count) headers")
        check(parts.signedHeaders == headers.map(\.name).joined(separator: ";"))
        check(headers.map(\.name) == headers.map(\.name).sorted(), "headers not sorted")
        check(Set(headers.map(\.name)).count == headers.count, "a header name twice")
        check(headers.allSatisfy { !$0.name.utf8.contains { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) } })
        check(headers.allSatisfy { !$0.value.hasPrefix(" ") && !$0.value.hasSuffix(" ") && !$0.value.contains("  ") },
                     "header value not trimmed")

        // Path and query percent-encoded.
        let path = SigV4Signer.canonicalPath(request.path, normalize: normalize)
        let query = SigV4Signer.canonicalQuery(request.query)
        check(String(decoding: rows[1], as: UTF8.self) == path && String(decoding: rows[2], as: UTF8.self) == query)
        check(path.utf8.allSatisfy { isUnreserved($0) || $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "/") })
        check(query.utf8.allSatisfy { isUnreserved($0) || "%=&".utf8.contains($0) })
        check(query.isEmpty == request.query.isEmpty)
        if normalize {
            check(path.hasPrefix("/") && !path.contains("//"), "not normalised: \(path)")
            let again = SigV4Signer.canonicalPath(URIEncoding.decode(Substring(path)), normalize: true)
            check(again == path, "normalising \(path) again gives \(again)")
        }

        // Stable: again, with a fresh signer, permuted query, permuted headers.
        check(signer.signatureParts(request, credentials: credentials, region: "us-east-1", service: "service",
                                           date: date, options: options).canonicalRequest == canonical, "unstable")
        var permuted = request
        permuted.query.reverse()
        permuted.query = Array(permuted.query.suffix(from: permuted.query.count / 2) + permuted.query.prefix(permuted.query.count / 2))
        // Reverse the order of header names; repeated names keep their relative order.
        permuted.headers = request.headers.enumerated()
            .sorted { a, b in
                let (x, y) = (a.element.name.lowercased(), b.element.name.lowercased())
                return x == y ? a.offset < b.offset : x > y
            }
            .map(\.element)
        let other = SigV4Signer().signatureParts(permuted, credentials: credentials, region: "us-east-1", service: "service",
                                                 date: date, options: options)
        check(other.canonicalRequest == canonical, "order changed the canonical request:\n\(canonical)\n---\n\(other.canonicalRequest)")
        check(other.signature == parts.signature && parts.signature.utf8.count == 64)
    }
    return 0
}
