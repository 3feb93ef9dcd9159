/// One HTTP request as the routes see it: plain Swift values, copied out of
/// libmicrohttpd before any route code runs.
public struct HTTPRequest: Sendable {
    public enum Method: Sendable, Equatable {
        case get, head, other(String)

        init(_ raw: String) {
            switch raw {
            case "GET": self = .get
            case "HEAD": self = .head
            default: self = .other(raw)
            }
        }
    }

    public var method: Method
    /// The path without the query string.
    public var path: String
    /// Query arguments; a bare `?verbose` maps to "". One given more than
    /// once holds its last value here, and all of them in `repeated`.
    public var query: [String: String]
    /// The arguments given more than once (`?secretId=A&secretId=B`), each value in order.
    public var repeated: [String: [String]] = [:]
    /// Only the headers routes need, looked up by name on demand would leak
    /// the C connection upwards, so the server copies these two (and those
    /// in `headers`).
    public var accept: String?
    public var acceptEncoding: String?
    /// The headers named in `HTTPServer.Options.requestHeaders` that the
    /// request has, by lower-cased name.
    public var headers: [String: String]
    /// True when the server has no users or the caller's credentials
    /// matched; false on an open path (`HTTPServer.Options.openPaths`)
    /// reached without them, with credentials that found no place to be
    /// checked (`BasicAuthUsers.maxPending`), or on an unchecked path
    /// (`HTTPServer.Options.uncheckedPaths`) when there are users.
    public var authorized: Bool

    public init(method: Method, path: String, query: [String: String] = [:],
                accept: String? = nil, acceptEncoding: String? = nil, headers: [String: String] = [:], authorized: Bool = true) {
        self.headers = headers
        self.authorized = authorized
        self.method = method
        self.path = path
        self.query = query
        self.accept = accept
        self.acceptEncoding = acceptEncoding
    }

    /// Every value of the argument `name`, in order (none when absent).
    public func values(of name: String) -> [String] { repeated[name] ?? query[name].map { [$0] } ?? [] }

    /// True when the client accepts gzip (`gzip;q=0` counts as a refusal).
    public var acceptsGzip: Bool {
        guard let acceptEncoding else { return false }
        for part in acceptEncoding.split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingSpaces() }
            guard let coding = fields.first, coding == "gzip" || coding == "*" else { continue }
            // `q=0`, `q=0.000`, `Q=0.0`: any zero weight means "not acceptable" (RFC 9110 12.4.2).
            let refused = fields.dropFirst().contains { parameter in
                let text = parameter.replacingSpaces().lowercased()
                return text.hasPrefix("q=") && Double(text.dropFirst(2)) == 0
            }
            return !refused
        }
        return false
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }

    func replacingSpaces() -> String { String(filter { $0 != " " }) }
}
