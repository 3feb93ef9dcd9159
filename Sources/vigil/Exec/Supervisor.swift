import Glibc
import Logging
import VigilPlatform

/// The application `vigil exec` runs: started with its secrets in its
/// environment, restarted with the new ones (or sent a signal) when one
/// changes, passed every signal `vigil exec` receives; its exit status is
/// `vigil exec`'s. The values exist only in the environment block handed
/// to posix_spawn: never in `vigil exec`'s own environment or its argv.
final class Supervisor: Sendable {
    enum OnChange: Sendable, Equatable {
        /// Stop the application (`killSignal`, then SIGKILL past `grace`) and start it with the new values.
        case restart
        /// Send this signal: an application that re-reads its secrets itself (from the endpoint).
        case signal(Int32)
    }

    struct Options: Sendable {
        var onChange: OnChange
        var killSignal: Int32
        var grace: Duration
    }

    /// Passed on to the application. Blocked in every thread of `vigil exec`
    /// (`blockSignals`, before any thread starts) and taken by `sigwait`.
    static let passedOn: [Int32] = [SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]

    private let command: [String]
    private let options: Options
    private let logger: Logger
    /// The application's environment, the secrets read anew: called at each (re)start.
    private let environment: @Sendable () throws(ExecFailure) -> [String]
    private let wake = Condition()
    private let state = Locked(State())
    /// Without a terminal (PM2, systemd) the application gets a process group
    /// of its own, so that what is left of it past a restart's grace period
    /// (what `npm start` or `sh -c` started) is killed with it. On a terminal
    /// it stays in the foreground group: a background one would be stopped
    /// reading the terminal (SIGTTIN); Ctrl-C reaches it directly, once.
    private let ownGroup = isatty(0) == 0
    /// `si_code` of a signal the kernel sent (a terminal's), not `kill(2)`.
    private static let sentByKernel: Int32 = 0x80

    private struct State {
        /// The running application; nil once reaped (a signal never reaches a reused pid).
        var child: SpawnedProcess?
        /// Secrets changed and not yet applied, and when to try again after a failed re-read.
        var changed: [String] = []
        var retryAt: ContinuousClock.Instant?
        var retryPause: Duration = .seconds(1)
        /// SIGINT, SIGTERM or SIGQUIT came: nothing restarts the application any more.
        var stopping = false
    }

    init(command: [String], options: Options, logger: Logger, environment: @escaping @Sendable () throws(ExecFailure) -> [String]) {
        (self.command, self.options, self.logger, self.environment) = (command, options, logger, environment)
    }

    static func blockSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in passedOn { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// A secret the application uses serves another version (called from the feed's threads).
    func changed(_ secret: String) {
        wake.withLock {
            state.withLock { $0.changed.append(secret) }
            wake.broadcast()
        }
    }

    /// Runs the application until it exits other than by a restart; its status (128 + the signal that ended it).
    func run(_ initial: [String]) throws(ExecFailure) -> Int32 {
        guard var child = try start(initial) else { return 128 + SIGTERM }
        startPassingSignals()
        while true {
            if let exit = reap(child) {
                logger.info("application exited", metadata: ["pid": "\(child.pid)", "status": "\(exit)"])
                return exit.status
            }
            let changed = wake.withLock { () -> [String] in
                let changed = state.withLock { state -> [String] in
                    guard !state.stopping, !state.changed.isEmpty, state.retryAt.map({ $0 <= .now }) ?? true else { return [] }
                    defer { state.changed = [] }
                    return state.changed
                }
                if changed.isEmpty { wake.wait(until: .now + .milliseconds(20)) }
                return changed
            }
            guard !changed.isEmpty else { continue }
            switch try apply(changed, to: child) {
            case .running(let next): child = next
            case .stopped(let status): return status
            }
        }
    }

    private enum Step {
        case running(SpawnedProcess)
        /// A stop came during the restart: the old application's status, none started.
        case stopped(Int32)
    }

    private func apply(_ secrets: [String], to child: SpawnedProcess) throws(ExecFailure) -> Step {
        let metadata: Logger.Metadata = ["secrets": "\(Array(Set(secrets)).sorted().joined(separator: ","))", "pid": "\(child.pid)"]
        if case .signal(let signal) = options.onChange {
            logger.info("secret changed: signalling the application", metadata: metadata.merging(["signal": "\(signal)"]) { $1 })
            child.signal(signal)
            return .running(child)
        }
        let fresh: [String]
        do throws(ExecFailure) {
            fresh = try environment()
            state.withLock { $0.retryAt = nil; $0.retryPause = .seconds(1) }
        } catch {
            // The application keeps what it has; the change is applied once the values can be read (1 s, doubling to 30 s).
            let pause = state.withLock { state -> Duration in
                state.changed += secrets
                state.retryAt = .now + state.retryPause
                defer { state.retryPause = min(state.retryPause * 2, .seconds(30)) }
                return state.retryPause
            }
            logger.error("secret changed but cannot be read: the application keeps running", metadata: [
                "error": "\(error)", "retry_in": "\(pause.timeInterval)s"])
            return .running(child)
        }
        logger.info("secret changed: restarting the application", metadata: metadata)
        child.signal(options.killSignal)  // the leader alone: a wrapper (npm) passes it on itself, once
        let deadline = ContinuousClock.now + options.grace
        var exit = reap(child, until: deadline)
        // What is left past the grace period, the leader or what it started (`sh -c 'worker & exec server'`), is killed.
        if exit == nil || (ownGroup && kill(-child.pid, 0) == 0 && waitForGroup(child.pid, until: deadline) == false) {
            logger.warning("application still running after the grace period: killed", metadata: metadata)
            child.signal(SIGKILL, group: ownGroup)
            exit = exit ?? reap(child, until: nil)
        }
        guard let next = try start(fresh) else { return .stopped(exit?.status ?? 128 + SIGKILL) }
        return .running(next)
    }

    /// The child's exit once it has ended, reaped and forgotten under the
    /// lock the signal thread signals under (no signal reaches a reused pid);
    /// nil at `deadline` (nil: at once when it runs).
    private func reap(_ child: SpawnedProcess, until deadline: ContinuousClock.Instant? = .now) -> SpawnedProcess.Exit? {
        SpawnedProcess.poll(until: deadline) {
            state.withLock { state -> SpawnedProcess.Exit? in
                let exit = child.poll()
                if exit != nil { state.child = nil }
                return exit
            }
        }
    }

    /// True once no process of the group is left, false at `deadline`.
    private func waitForGroup(_ group: Int32, until deadline: ContinuousClock.Instant) -> Bool {
        SpawnedProcess.poll(until: deadline) { kill(-group, 0) == 0 ? nil : () } != nil
    }

    /// The application started, or nil when a stop came first (checked under
    /// the same lock the signal thread takes, so a stop either finds the new
    /// application or prevents it).
    private func start(_ environment: [String]) throws(ExecFailure) -> SpawnedProcess? {
        do throws(SpawnedProcess.SpawnError) {
            let started = try state.withLock { (state: inout State) throws(SpawnedProcess.SpawnError) -> SpawnedProcess? in
                guard !state.stopping else { return nil }
                state.child = try SpawnedProcess.spawn(command, environment: environment, options: .init(ownGroup: ownGroup))
                return state.child
            }
            guard let child = started else { return nil }
            logger.info("application started", metadata: ["pid": "\(child.pid)", "command": "\(command[0])"])
            return child
        } catch {
            throw ExecFailure(description: "\(error)")
        }
    }

    /// Each signal `vigil exec` receives goes to the application; after
    /// SIGINT, SIGTERM or SIGQUIT no change restarts it (it is stopping).
    private func startPassingSignals() {
        startDetachedThread(name: "exec-signals") { [self] in
            var set = sigset_t()
            sigemptyset(&set)
            for signal in Self.passedOn { sigaddset(&set, signal) }
            while true {
                var info = siginfo_t()
                let received = sigwaitinfo(&set, &info)
                guard received > 0 else { continue }
                // On a terminal the application shares the foreground group: the terminal's own
                // Ctrl-C, Ctrl-\ and resize (sent by the kernel) reached it already; pass on the rest.
                let fromTerminal = !ownGroup && info.si_code == Self.sentByKernel
                state.withLock { state in
                    if [SIGINT, SIGTERM, SIGQUIT].contains(received) { state.stopping = true }
                    if !fromTerminal { state.child?.signal(received) }  // under the lock: never a pid reaped meanwhile
                }
            }
        }
    }
}
