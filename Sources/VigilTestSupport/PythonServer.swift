import Foundation

/// A helper server written in Python (under scripts/ or Tests/Fixtures/)
/// that prints `port N` once listening; stopped when released.
public final class PythonServer {
    private let process = Process()
    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)" }

    public init(script: String, arguments: [String]) throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", VigilProcess.packageRoot + "/" + script] + arguments
        process.standardOutput = output
        try process.runWithCleanSignalMask()
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        guard line.hasPrefix("port "), let port = Int(line.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw CurlClient.Failure(code: -1, description: "\(script) did not start: \(line)")
        }
        self.port = port
    }

    /// SIGKILL: children spawned from a Dispatch worker inherit its blocked
    /// signal mask, so SIGTERM would never arrive.
    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
