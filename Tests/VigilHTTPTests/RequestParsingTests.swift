import Testing
@testable import VigilHTTP
@testable import VigilWeb

@Suite struct RequestParsingTests {
    @Test(arguments: [("gzip", true), ("deflate, gzip;q=0.5", true), ("*", true), ("br", false), ("gzip;q=0", false),
                      ("gzip;q=0.000", false), ("gzip; Q=0", false), ("gzip;q=0.001", true)])
    func acceptsGzip(header: String, accepted: Bool) {
        #expect(HTTPRequest(method: .get, path: "/metrics", acceptEncoding: header).acceptsGzip == accepted)
    }

    /// Found by fuzzing: a `"` or `<` followed by a combining mark is one
    /// Character, and escaping by Character left it raw in the landing page.
    @Test func landingPageEscapesEveryScalar() {
        #expect(LandingPage.escape("/m\"\u{301} onmouseover=x") == "/m&quot;\u{301} onmouseover=x")
        #expect(LandingPage.escape("<\u{301}b>&") == "&lt;\u{301}b&gt;&amp;")
        let page = LandingPage.html(version: "1", telemetryPath: "/metrics\"\u{301} x=")
        #expect(page.contains("<a href=\"/metrics&quot;\u{301} x=\">Metrics</a>"))
    }
}
