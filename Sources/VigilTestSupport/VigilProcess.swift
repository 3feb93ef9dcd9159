import Foundation

/// The real `vigil` binary, run as a child process for integration tests.
public final class VigilProcess {
    public let process: ChildProcess

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
        process = try ChildProcess((launcher.isEmpty ? [] : launcher) + [Self.binary] + arguments, environment: environment)
    }

    /// Everything the process wrote to stdout and stderr so far.
    public var log: String { process.log }

    /// Polls `condition` until it holds or `timeout` passes.
    public static func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// The `address=HOST:PORT` the server logged once listening (on the
    /// first line containing `message`: the secrets endpoint logs its own).
    public func waitForListenAddress(of message: String = "msg=listening", timeout: Double = 10) -> String? {
        var found: String?
        _ = Self.waitUntil(timeout: timeout) {
            found = log.split(separator: "\n").first { $0.contains(message) }?
                .split(separator: " ").first { $0.hasPrefix("address=") }.map { String($0.dropFirst(8)) }
            return found != nil || !process.isRunning
        }
        return found
    }

    /// Sends a signal and waits for the exit status (nil if still running after
    /// `timeout`, by default well past Vigil's own 4 s shutdown deadline).
    public func stop(signal: Int32 = SIGTERM, timeout: Double = 10) -> Int32? {
        kill(process.pid, signal)
        return Self.waitUntil(timeout: timeout) { !process.isRunning } ? process.terminationStatus : nil
    }

    /// Runs to completion and returns exit status and output.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        try ChildProcess.run([binary] + arguments, environment: environment)
    }
}
