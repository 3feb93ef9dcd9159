import Foundation

/// A helper server written in Python (under scripts/ or Tests/Fixtures/)
/// that prints `port N` once listening (and `control M` when it has a
/// control port); stopped when released.
public final class PythonServer {
    private let process = Process()
    public let port: Int
    /// The always-on control port, when the script has one.
    public let controlPort: Int?
    public var url: String { "http://127.0.0.1:\(port)" }

    /// `keys`: the `KEY N` lines the script prints once ready, `port` first.
    public init(script: String, arguments: [String], keys: [String] = ["port"]) throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", VigilProcess.packageRoot + "/" + script] + arguments
        process.standardOutput = output
        try process.runWithCleanSignalMask()
        var values: [String: Int] = [:]
        var text = ""
        while !keys.allSatisfy({ values[$0] != nil }) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, let number = Int(parts[1]) { values[String(parts[0])] = number }
            }
        }
        guard let port = values["port"], keys.allSatisfy({ values[$0] != nil }) else {
            process.terminate()
            throw CurlClient.Failure(code: -1, description: "\(script) did not start: \(text)")
        }
        self.port = port
        controlPort = values["control"]
    }

    /// SIGKILL: children spawned from a Dispatch worker inherit its blocked
    /// signal mask, so SIGTERM would never arrive.
    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
