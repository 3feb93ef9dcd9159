import Foundation
import Glibc
import VigilPlatform

/// A child process started with `posix_spawnp`: no signal blocked or
/// ignored (tests run on Dispatch threads, which block most signals, and a
/// child inherits the mask), stdout and stderr captured, or discarded.
/// Foundation's `Process.run` is avoided: it scans /proc/self/fd past the end
/// of a buffer when the test process holds many descriptors (found by
/// AddressSanitizer during the 1500-connection test).
public final class ChildProcess: Sendable {
    public let pid: pid_t
    private let output = OutputBuffer()
    private let status = Locked<Int32?>(nil)

    /// `capture`: keep stdout and stderr (readable as `log`); else /dev/null.
    /// `stderr`: false keeps stdout only (for output parsed as data).
    public init(_ arguments: [String], environment: [String: String] = [:], capture: Bool = true, stderr: Bool = true) throws {
        var fds: [Int32] = [-1, -1]
        if capture { guard pipe(&fds) == 0 else { throw CurlClient.Failure(code: -1, description: "pipe failed") } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if capture {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            if stderr { posix_spawn_file_actions_adddup2(&actions, fds[1], 2) } else {
                posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            }
            posix_spawn_file_actions_addclose(&actions, fds[0])
            posix_spawn_file_actions_addclose(&actions, fds[1])
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawnp(&child, arguments[0], &actions, &attributes, argv, envp)
        if capture { close(fds[1]) }
        guard spawned == 0 else {
            if capture { close(fds[0]) }
            throw CurlClient.Failure(code: Int(spawned), description: "cannot start \(arguments[0])")
        }
        pid = child
        guard capture else { output.append(Data()); return }
        let reader = fds[0], output = self.output
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let got = read(reader, &buffer, buffer.count)
                if got > 0 { output.append(Data(buffer[..<got])) } else if got < 0 && errno == EINTR { continue } else { break }
            }
            close(reader)
            output.append(Data())
        }
    }

    deinit { if isRunning { kill(pid, SIGKILL); waitUntilExit() } }

    /// Runs to completion and returns exit status and output.
    public static func run(_ arguments: [String], environment: [String: String] = [:],
                           stderr: Bool = true) throws -> (status: Int32, output: String) {
        let child = try ChildProcess(arguments, environment: environment, stderr: stderr)
        child.waitUntilExit()
        _ = VigilProcess.waitUntil(timeout: 30) { child.reachedEnd }  // certain once the child exited; a starved reader may lag
        return (child.terminationStatus, child.log)
    }

    /// Everything the child wrote so far.
    public var log: String { output.text }
    /// True once the child closed its output (it exited, or closed both streams).
    public var reachedEnd: Bool { output.reachedEnd }

    public var isRunning: Bool { reap(blocking: false) == nil }

    /// The exit code (128 + signal when killed); waits for the exit.
    public var terminationStatus: Int32 { reap(blocking: true) ?? -1 }

    public func waitUntilExit() { _ = reap(blocking: true) }

    private func reap(blocking: Bool) -> Int32? {
        status.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &raw, blocking ? 0 : WNOHANG) } while result < 0 && errno == EINTR
            guard result == pid else { return nil }
            status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
            return status
        }
    }
}

final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var ended = false

    /// An empty chunk is end of file.
    func append(_ chunk: Data) { lock.withLock { if chunk.isEmpty { ended = true } else { data.append(chunk) } } }
    var reachedEnd: Bool { lock.withLock { ended } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
