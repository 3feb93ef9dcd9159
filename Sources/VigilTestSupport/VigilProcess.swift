import Foundation

/// The real `vigil` binary, run as a child process for integration tests.
public final class VigilProcess {
    public let process = Process()
    private let stderrPipe = Pipe()
    private let output = OutputBuffer()

    /// The binary under test: `$VIGIL_BINARY`, else the debug build next to the sources.
    public static var binary: String {
        if let path = ProcessInfo.processInfo.environment["VIGIL_BINARY"], !path.isEmpty { return path }
        return packageRoot + "/.build/debug/vigil"
    }

    public static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// `launcher`: a command to run the binary under (`prlimit --nofile=1024:1024`).
    public init(_ arguments: [String], environment: [String: String] = [:], launcher: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: launcher.first ?? Self.binary)
        process.arguments = launcher.isEmpty ? arguments : Array(launcher.dropFirst()) + [Self.binary] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardError = stderrPipe
        process.standardOutput = stderrPipe
        let output = self.output
        stderrPipe.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            if chunk.isEmpty { handle.readabilityHandler = nil }
            output.append(chunk)
        }
        try process.runWithCleanSignalMask()
    }

    deinit { if process.isRunning { process.terminate() } }

    /// Everything the process wrote to stdout and stderr so far.
    public var log: String { output.text }

    /// Polls `condition` until it holds or `timeout` passes.
    public static func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// The `address=HOST:PORT` the server logged once listening.
    public func waitForListenAddress(timeout: Double = 10) -> String? {
        var found: String?
        _ = Self.waitUntil(timeout: timeout) {
            found = log.split(separator: "\n").first { $0.contains("msg=listening") }?
                .split(separator: " ").first { $0.hasPrefix("address=") }.map { String($0.dropFirst(8)) }
            return found != nil || !process.isRunning
        }
        return found
    }

    /// Sends a signal and waits for the exit status (nil if still running after `timeout`).
    public func stop(signal: Int32 = SIGTERM, timeout: Double = 5) -> Int32? {
        kill(process.processIdentifier, signal)
        return Self.waitUntil(timeout: timeout) { !process.isRunning } ? process.terminationStatus : nil
    }

    /// Runs to completion and returns exit status and output.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let child = try VigilProcess(arguments, environment: environment)
        child.process.waitUntilExit()
        _ = waitUntil(timeout: 2) { child.output.reachedEnd }
        return (child.process.terminationStatus, child.log)
    }
}

private final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var ended = false

    /// An empty chunk is end of file.
    func append(_ chunk: Data) { lock.withLock { if chunk.isEmpty { ended = true } else { data.append(chunk) } } }
    var reachedEnd: Bool { lock.withLock { ended } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
