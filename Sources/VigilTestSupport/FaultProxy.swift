import Foundation

/// `scripts/faultproxy.py` in front of an upstream (moto): forwards, or
/// answers the next requests with injected faults; logs every request.
public final class FaultProxy {
    public struct Entry: Decodable, Sendable {
        public var method: String
        public var path: String
        public var target: String
        public var action: String
        public var fault: String
        public var gzip: Bool
        public var bytes: Int
        /// The SecretId of a Secrets Manager call; empty otherwise.
        public var secretID: String

        enum CodingKeys: String, CodingKey {
            case method, path, target, action, fault, gzip, bytes
            case secretID = "secret_id"
        }
    }

    private let server: PythonServer
    public var port: Int { server.port }
    public var url: String { server.url }

    public init(upstream: String) throws {
        server = try Self.start(upstream: upstream)
    }

    /// `refuse` closes the port and listens on it again, so the proxy is
    /// given one (Blackhole.freePort). Tests run in parallel: another
    /// process can take that port before the proxy binds it (seen once in
    /// a few hundred starts), so a second and third port are tried.
    private static func start(upstream: String, tries: Int = 3) throws -> PythonServer {
        do {
            return try PythonServer(script: "scripts/faultproxy.py", arguments: [upstream, String(try Blackhole.freePort())],
                                    keys: ["port", "control"])
        } catch where tries > 1 {
            return try start(upstream: upstream, tries: tries - 1)
        }
    }

    /// Where control requests go: the always-on control port (the proxy's
    /// own port may be refusing connections on purpose).
    private var control: String { "http://127.0.0.1:\(server.controlPort ?? server.port)/__fault__" }

    /// Queues `count` faults: `throttle`, `error` (5xx), `deny`, `reset`,
    /// `delay`, `hang`, `expired` (ExpiredToken), `notfound`. `sticky`: every
    /// request until `clear()`. `target`: only requests whose X-Amz-Target
    /// ends with it or whose form Action equals it.
    public func inject(_ mode: String, count: Int = 1, status: Int = 503, seconds: Double = 0, sticky: Bool = false,
                       target: String? = nil) throws {
        var body = #"{"mode":"\#(mode)","count":\#(count),"status":\#(status),"seconds":\#(seconds),"sticky":\#(sticky)"#
        if let target { body += #","target":"\#(target)""# }
        _ = try CurlClient().request(control, method: "POST", body: Array((body + "}").utf8))
    }

    /// Behaves like an endpoint whose clock is `seconds` ahead (0 clears):
    /// skewed `Date` headers, requests signed over 5 minutes off rejected.
    public func skew(seconds: Int) throws {
        _ = try CurlClient().request(control + "/skew", method: "POST", body: Array(#"{"seconds":\#(seconds)}"#.utf8))
    }

    /// Closes (true) or re-opens (false) the proxy's listening port.
    public func refuse(_ on: Bool) throws {
        _ = try CurlClient().request(control + "/refuse", method: "POST", body: Array(#"{"on":\#(on)}"#.utf8))
    }

    public func clear() throws {
        _ = try CurlClient().request(control, method: "POST", body: Array(#"{"mode":"pass"}"#.utf8))
        _ = try CurlClient().request(control + "/clear", method: "POST")
    }

    public func log() throws -> [Entry] {
        try JSONDecoder().decode([Entry].self, from: Data(CurlClient().request(control + "/log").body))
    }
}
