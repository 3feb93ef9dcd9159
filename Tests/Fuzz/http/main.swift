// libFuzzer target: the HTTP server's pure Swift parts (Sources/VigilHTTP):
// the request method and Accept-Encoding handling of HTTPRequest, the listen
// address parser and the landing page's escaping. Path and query strings are
// split by libmicrohttpd and routed by VigilRoutes (which needs VigilState
// and swift-prometheus), so they are not reached here. Input, one item a
// line: method, Accept-Encoding, listen address, telemetry path, version.
// Checks: no crash; GET and HEAD and nothing else map to their cases; gzip
// is accepted only when the header names gzip or `*`; a parsed address
// keeps its port through its description, and an ASCII host not itself in
// brackets its host; the configured path and version reach the HTML with
// no raw `"` or `<` byte.

/// The `"` and `<` bytes of a page.
private func markup(_ html: String) -> Int { html.utf8.count(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "<") }) }
private let template = markup(LandingPage.html(version: "dev", telemetryPath: "/metrics"))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var lines = UnsafeBufferPointer(start: data, count: size)
        .split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        .map { String(decoding: $0, as: UTF8.self) }
    while lines.count < 5 { lines.append("") }
    let (method, acceptEncoding, address, telemetryPath, version) = (lines[0], lines[1], lines[2], lines[3], lines[4])

    let parsed = HTTPRequest.Method(method)
    switch parsed {
    case .get: check(method == "GET")
    case .head: check(method == "HEAD")
    case .other(let raw): check(raw == method && method != "GET" && method != "HEAD")
    }
    let request = HTTPRequest(method: parsed, path: "/metrics", acceptEncoding: acceptEncoding)
    let gzip = request.acceptsGzip
    check(gzip == request.acceptsGzip, "unstable")
    if gzip { check(acceptEncoding.contains("gzip") || acceptEncoding.contains("*"), "gzip for \(acceptEncoding.debugDescription)") }
    check(!HTTPRequest(method: parsed, path: "/").acceptsGzip)

    do throws(HTTPServerError) {
        let first = try ListenAddress(parsing: address)
        let second = try ListenAddress(parsing: first.description)
        check(second.port == first.port, "\(address.debugDescription): port \(first.port) became \(second.port)")
        // Hosts are names and IP literals: ASCII. (A non-ASCII host starting
        // with a combining mark fuses with the `[` the description adds.)
        if first.host.utf8.allSatisfy({ $0 < 0x80 }) && !(first.host.hasPrefix("[") && first.host.hasSuffix("]")) {
            check(second == first, "\(address.debugDescription) -> \(first) -> \(second)")
        }
    } catch {
        check(!error.description.isEmpty)
    }

    // Escaped text adds no `"` or `<` byte: the page has exactly the template's.
    let html = LandingPage.html(version: version, telemetryPath: telemetryPath)
    check(markup(html) == template, "raw quote or < from \(telemetryPath.debugDescription) / \(version.debugDescription)")
    return 0
}
