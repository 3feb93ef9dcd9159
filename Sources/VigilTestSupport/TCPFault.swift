import Foundation

/// `scripts/tcpfault.py` in front of PostgreSQL or Redis: forwards bytes,
/// or on command hangs, refuses, resets, slows, sends without end, or kills
/// the connections it holds.
public final class TCPFault {
    private let server: PythonServer
    public var port: Int { server.port }

    public init(upstreamPort: Int) throws {
        // `refuse` closes the port and listens on it again: see Blackhole.freePort.
        server = try PythonServer(script: "scripts/tcpfault.py",
                                  arguments: ["127.0.0.1:\(upstreamPort)", String(try Blackhole.freePort())],
                                  keys: ["port", "control"])
    }

    private var control: String { "http://127.0.0.1:\(server.controlPort ?? 0)" }

    /// `pass`, `hang`, `refuse`, `reset`, `slow` (`seconds` a chunk), `endless`, `tlsreset` (`after` chunks).
    public func mode(_ mode: String, seconds: Double = 1, after: Int = 3) throws {
        let body = #"{"mode":"\#(mode)","seconds":\#(seconds),"after":\#(after)}"#
        _ = try CurlClient().request(control + "/mode", method: "POST", body: Array(body.utf8))
    }

    /// Resets every connection open now (a failover, a pooler restart, an idle reaper).
    public func killConnections() throws {
        _ = try CurlClient().request(control + "/kill", method: "POST")
    }

    /// Client connections open now.
    public func openConnections() throws -> Int { try stat("open") }

    /// Client connections accepted since the start.
    public func acceptedConnections() throws -> Int { try stat("accepted") }

    private func stat(_ name: String) throws -> Int {
        let body = try CurlClient().request(control + "/stats").body
        let stats = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return stats?[name] as? Int ?? -1
    }
}
