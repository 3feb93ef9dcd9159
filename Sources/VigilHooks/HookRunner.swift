import Glibc
import Logging
import Prometheus
import VigilConfig
import VigilPlatform
import VigilSecrets

/// Runs the hooks (`hooks.<name>`) when the secrets they list change
/// version in the cache: the shell around `HookSchedule`. One thread waits
/// for changes and deadlines; each run gets a thread of its own, so a hook
/// that hangs holds up nothing but itself until its timeout kills it.
/// Failures are counted and logged, never retried: the next change runs
/// the hook again.
public final class HookRunner: Sendable {
    public enum Outcome: String, Sendable, CaseIterable {
        /// The command exited 0, or the signal was delivered.
        case ok
        /// The command exited non-zero or was killed by a signal.
        case failed
        /// The command outlived its timeout and was killed.
        case timeout
        /// Nothing ran: the program could not be started, the pid file not read or the signal not delivered.
        case error
    }

    private let schedule = Locked(HookSchedule())
    private let wake = Condition()
    private let secrets: SecretsClient
    private let logger: Logger
    private let registry: PrometheusCollectorRegistry?
    private let counters = Locked<[String: [Outcome: Counter]]>([:])
    /// What a command's environment takes from Vigil's: never a value of a secret.
    private let inherited: [String]

    /// `environment` is Vigil's; only the variables a command needs to find
    /// its tools and user (`passedOn`) are passed on, and none that a
    /// `secrets.items` entry names as its fallback.
    public init(hooks: [VigilConfig.Hook], secrets: SecretsClient, environment: [String: String], fallbackVariables: Set<String>,
                registry: PrometheusCollectorRegistry?, logger: Logger) {
        self.secrets = secrets
        self.logger = logger
        self.registry = registry
        inherited = Self.passedOn.filter { !fallbackVariables.contains($0) }.compactMap { name in environment[name].map { "\(name)=\($0)" } }
        configure(hooks)
        secrets.onStateChange { [weak self] in self?.observe() }
    }

    static let passedOn = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "PM2_HOME", "XDG_RUNTIME_DIR"]

    /// Applies a reloaded `hooks:` section; counters of removed hooks go.
    public func configure(_ hooks: [VigilConfig.Hook]) {
        counters.withLock { counters in
            for (name, series) in counters where !hooks.contains(where: { $0.name == name }) {
                for counter in series.values { registry?.unregisterCounter(counter) }
                counters[name] = nil
            }
            for hook in hooks where counters[hook.name] == nil {
                counters[hook.name] = Dictionary(uniqueKeysWithValues: Outcome.allCases.compactMap { outcome in
                    registry.map { (outcome, $0.counter("vigil_hook_runs_total", "Runs of each hook (hooks.<name>) by outcome.",
                                                        [("hook", hook.name), ("outcome", outcome.rawValue)])) }
                })
            }
        }
        change { $0.configure(hooks) }
        observe()
    }

    /// Starts the thread that runs due hooks; false when the system refused
    /// one. Called once the secrets are loaded: the versions held then are
    /// the ones the applications start with (a first load is no change the
    /// client reports).
    @discardableResult
    public func start() -> Bool {
        observe()
        return startDetachedThread(name: "hooks") { [self] in
            while true {
                let runs = wake.withLock { () -> [(hook: VigilConfig.Hook, changes: [HookSchedule.Change])] in
                    while true {
                        let now = SteadyClock.monotonicSeconds()
                        let (runs, next) = schedule.withLock { ($0.start(at: now), $0.nextDue) }
                        if !runs.isEmpty { return runs }
                        wake.wait(until: .now + .seconds(min(3600, max(0.001, (next ?? .infinity) - now))))
                    }
                }
                for run in runs {
                    let started = startDetachedThread(name: "hook-\(run.hook.name)") { [self] in
                        perform(run.hook, run.changes)
                        change { $0.finished(run.hook.name) }
                    }
                    if !started {
                        count(run.hook.name, .error, "no thread for the hook", [:])
                        change { $0.finished(run.hook.name) }
                    }
                }
            }
        }
    }

    /// The versions the cache holds now, fed to the schedule. Read under
    /// `wake`: two refresh threads reporting at once must not feed an older
    /// snapshot after a newer one (a version seen to move back and forth).
    private func observe() {
        change { schedule in
            guard schedule.hasHooks else { return }  // no work on each state change without hooks; a reload adding some observes
            let versions = secrets.statuses().compactMap { status in
                status.versionID.map { HookSchedule.Change(name: status.name, secretID: status.secretID, versionID: $0,
                                                           stage: status.pending ? "AWSPENDING" : "AWSCURRENT") }
            }
            schedule.observe(versions, at: SteadyClock.monotonicSeconds())
        }
    }

    private func change(_ body: (inout HookSchedule) -> Void) {
        wake.withLock {
            schedule.withLock(body)
            wake.broadcast()
        }
    }

    // MARK: One run

    private func perform(_ hook: VigilConfig.Hook, _ changes: [HookSchedule.Change]) {
        let last = changes.last
        var metadata: Logger.Metadata = ["hook": "\(hook.name)", "secret": "\(last?.name ?? "-")", "version": "\(last?.versionID ?? "-")"]
        switch hook.action {
        case .command(let argv):
            let environment = inherited + [
                "VIGIL_HOOK=\(hook.name)", "VIGIL_SECRET_NAME=\(last?.name ?? "")", "VIGIL_SECRET_ID=\(last?.secretID ?? "")",
                "VIGIL_SECRET_VERSION_ID=\(last?.versionID ?? "")", "VIGIL_SECRET_VERSION_STAGE=\(last?.stage ?? "")",
                "VIGIL_SECRETS_CHANGED=\(changes.map(\.name).joined(separator: ","))",
            ]
            let started = ContinuousClock.now
            let process: SpawnedProcess
            do throws(SpawnedProcess.SpawnError) {
                process = try SpawnedProcess.spawn(argv, environment: environment,
                                                   options: .init(ownGroup: true, nullInput: true, outputToStderr: true))
            } catch {
                return count(hook.name, .error, "\(error)", metadata)
            }
            guard let exit = process.wait(until: started + hook.timeout) else {
                process.signal(SIGKILL, group: true)
                _ = process.wait()
                return count(hook.name, .timeout, "killed after \(DurationParser.format(hook.timeout))", metadata)
            }
            metadata["duration"] = "\((ContinuousClock.now - started).milliseconds.decimalString(digits: 0))ms"
            count(hook.name, exit == .exited(0) ? .ok : .failed, "\(exit)", metadata)
        case .signal(let signal, let pidFile):
            guard let text = try? readTextFile(pidFile, limit: 64), let pid = Int32(text.trimmed), pid > 1 else {
                return count(hook.name, .error, "no pid in \(pidFile)", metadata)
            }
            metadata["pid"] = "\(pid)"
            guard kill(pid, signal) == 0 else { return count(hook.name, .error, String(cString: strerror(errno)), metadata) }
            count(hook.name, .ok, "signal \(signal) sent", metadata)
        }
    }

    private func count(_ hook: String, _ outcome: Outcome, _ detail: String, _ metadata: Logger.Metadata) {
        counters.withLock { $0[hook]?[outcome] }?.increment()
        var metadata = metadata
        metadata["outcome"] = "\(outcome.rawValue)"
        metadata["detail"] = "\(detail)"
        if outcome == .ok { logger.info("hook ran", metadata: metadata) } else { logger.warning("hook failed", metadata: metadata) }
    }
}
