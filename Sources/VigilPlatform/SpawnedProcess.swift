#if canImport(Glibc)
internal import CLinux
import Glibc

/// A program started with an argv and an environment given whole (no
/// shell; nothing of Vigil's own environment unless the caller passes it),
/// with default signal dispositions and an empty signal mask whatever
/// Vigil blocks or ignores (SIGHUP, SIGTERM and SIGPIPE: a child would
/// otherwise inherit them), and no descriptor of Vigil's past stderr.
/// Hooks and `vigil exec` start their commands with it.
package struct SpawnedProcess: Sendable {
    package let pid: Int32

    /// How a child ended.
    package enum Exit: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32), signalled(Int32)

        /// What a shell reports: the code, or 128 + the signal.
        package var status: Int32 {
            switch self {
            case .exited(let code): code
            case .signalled(let signal): 128 + signal
            }
        }

        package var description: String {
            switch self {
            case .exited(let code): "exit status \(code)"
            case .signalled(let signal): "killed by signal \(signal)"
            }
        }
    }

    /// posix_spawn's error: the program is missing or not executable, or the system refused a process.
    package struct SpawnError: Error, CustomStringConvertible {
        package var program: String
        package var code: Int32
        package var description: String { "cannot start \(program): \(String(cString: strerror(code)))" }
    }

    /// How the child is placed.
    package struct Options: Sendable {
        /// A process group of its own, so that `signal(_:)` reaches what it starts too (a hook's children).
        package var ownGroup = false
        /// stdin from /dev/null, else inherited (`vigil exec`'s application keeps its terminal).
        package var nullInput = false
        /// stdout onto stderr: Vigil's stdout may carry EMF lines (`cloudwatch.mode: emf`) that a hook's output would break.
        package var outputToStderr = false

        package init(ownGroup: Bool = false, nullInput: Bool = false, outputToStderr: Bool = false) {
            (self.ownGroup, self.nullInput, self.outputToStderr) = (ownGroup, nullInput, outputToStderr)
        }
    }

    /// Starts `argv` (the program looked up on the `PATH` of `environment`, as `execvpe`) with exactly `environment`.
    package static func spawn(_ argv: [String], environment: [String], options: Options = Options()) throws(SpawnError) -> SpawnedProcess {
        precondition(!argv.isEmpty, "a command needs a program")
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if options.ownGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if options.nullInput { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        if options.outputToStderr { posix_spawn_file_actions_adddup2(&actions, 2, 1) }
        vigil_spawn_close_from(&actions, 3)  // Vigil's sockets and files stay Vigil's
        guard let program = program(argv[0], path: environment.first { $0.hasPrefix("PATH=") }?.dropFirst(5)) else {
            throw SpawnError(program: argv[0], code: ENOENT)
        }
        var pid: pid_t = 0
        let code = withCStrings(argv) { argv in
            withCStrings(environment) { environment in posix_spawn(&pid, program, &actions, &attributes, argv, environment) }
        }
        guard code == 0 else { throw SpawnError(program: argv[0], code: code) }
        return SpawnedProcess(pid: pid)
    }

    /// `name` itself when it holds a `/`, else the first executable of that
    /// name on `path`: the child's PATH, which is the one that counts
    /// (posix_spawnp would search Vigil's).
    private static func program(_ name: String, path: Substring?) -> String? {
        guard !name.contains("/") else { return name }
        return (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").lazy
            .map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }

    /// The exit, if the child has ended (reaping it); nil while it runs.
    package func poll() -> Exit? {
        var status: Int32 = 0
        let reaped = waitpid(pid, &status, WNOHANG)
        guard reaped == pid else { return reaped < 0 && errno == ECHILD ? .exited(-1) : nil }
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }

    /// Waits for the end until `deadline` (nil: for ever).
    package func wait(until deadline: ContinuousClock.Instant? = nil) -> Exit? {
        Self.poll(until: deadline) { poll() }
    }

    /// `check`'s first answer, looked for every 10 ms until `deadline` (nil:
    /// for ever; one already past: one look): a portable wait with a bound
    /// for a process or a process group (pidfd needs glibc 2.36, Amazon
    /// Linux 2023 has 2.34); a hook's latency is measured in hundreds of ms.
    package static func poll<T>(until deadline: ContinuousClock.Instant?, _ check: () -> T?) -> T? {
        while true {
            if let found = check() { return found }
            if let deadline, ContinuousClock.now >= deadline { return nil }
            usleep(10_000)
        }
    }

    /// Sends `signal` to the child, or to its whole group when it has one of its own.
    package func signal(_ signal: Int32, group: Bool = false) {
        kill(group ? -pid : pid, signal)
    }
}

/// A NULL-terminated `char *[]` of `strings`, valid inside `body`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    var array = pointers
    return array.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

#endif
