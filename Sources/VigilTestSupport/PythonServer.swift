import Foundation

/// A helper server written in Python (under scripts/ or Tests/Fixtures/)
/// that prints `port N` once listening (and `control M` when it has a
/// control port); stopped (SIGKILL) when released.
public final class PythonServer {
    private let process: ChildProcess
    public let port: Int
    /// The always-on control port, when the script has one.
    public let controlPort: Int?
    public var url: String { "http://127.0.0.1:\(port)" }

    /// `keys`: the `KEY N` lines the script prints once ready, `port` first.
    public init(script: String, arguments: [String], keys: [String] = ["port"]) throws {
        process = try ChildProcess(["python3", VigilProcess.packageRoot + "/" + script] + arguments)
        var values: [String: Int] = [:]
        _ = VigilProcess.waitUntil(timeout: 20) { [process] in
            for line in process.log.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, let number = Int(parts[1]) { values[String(parts[0])] = number }
            }
            return keys.allSatisfy { values[$0] != nil } || !process.isRunning
        }
        guard let port = values["port"], keys.allSatisfy({ values[$0] != nil }) else {
            throw CurlClient.Failure(code: -1, description: "\(script) did not start: \(process.log)")
        }
        self.port = port
        controlPort = values["control"]
    }
}
