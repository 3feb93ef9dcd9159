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
    }

    private let server: PythonServer
    public var port: Int { server.port }
    public var url: String { server.url }

    public init(upstream: String) throws {
        server = try PythonServer(script: "scripts/faultproxy.py", arguments: [upstream])
    }

    /// Queues `count` faults: `throttle`, `error` (5xx), `reset`, `delay`.
    public func inject(_ mode: String, count: Int = 1, status: Int = 503, seconds: Double = 0) throws {
        let body = #"{"mode":"\#(mode)","count":\#(count),"status":\#(status),"seconds":\#(seconds)}"#
        _ = try CurlClient().request(url + "/__fault__", method: "POST", body: Array(body.utf8))
    }

    public func clear() throws {
        _ = try CurlClient().request(url + "/__fault__", method: "POST", body: Array(#"{"mode":"pass"}"#.utf8))
        _ = try CurlClient().request(url + "/__fault__/clear", method: "POST")
    }

    public func log() throws -> [Entry] {
        try JSONDecoder().decode([Entry].self, from: Data(CurlClient().request(url + "/__fault__/log").body))
    }
}
