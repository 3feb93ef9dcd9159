import Dispatch
import Synchronization
import VigilPlatform
import VigilResults

/// Runs each probe on its own thread, every `interval` with ±10 % jitter so
/// many Vigil instances do not hit a database in lockstep; every
/// `retryInterval` while it fails, so a return shows within about a second;
/// and at once when the server closes the connection it keeps
/// (`ConnectionWatcher`), so an outage shows within milliseconds.
public final class ProbeScheduler: Sendable {
    public struct Entry: Sendable {
        public var probe: any Probe
        public var interval: Duration
        public var timeout: Duration
        /// The pause after a run that left the component unavailable (never
        /// longer than `interval`; a degraded run keeps the interval).
        public var retryInterval: Duration

        public init(probe: any Probe, interval: Duration, timeout: Duration, retryInterval: Duration = .seconds(1)) {
            self.probe = probe
            self.interval = interval
            self.timeout = timeout
            self.retryInterval = retryInterval
        }

        /// The pause before the next run, ±10 %: retries are jittered too, or
        /// a fleet that lost one database would come back to it in lockstep.
        func pause(available: Bool) -> Duration {
            (available ? interval : min(retryInterval, interval)) * Double.random(in: 0.9...1.1)
        }
    }

    /// The running entries by probe name, each with the token of the loop
    /// that runs it: a loop whose token is no longer current ends.
    private let slots: Locked<[String: (entry: Entry, token: Int)]>
    private let nextToken = Atomic<Int>(0)
    private let sink: any ProbeResultSink
    private let stopped = Atomic<Bool>(false)
    private let wake = Condition()
    private let pending: Locked<Set<String>>
    /// Probes asked to run now rather than at their next turn.
    private let kicked = Locked<Set<String>>([])
    /// When each loop last went round (started a run or recorded a result).
    private let beats = Locked<[String: ContinuousClock.Instant]>([:])
    /// Loops and probe runs still going, guarded by `wake`'s lock.
    private let running = Atomic<Int>(0)
    /// Set by `start`: the kept connections' watcher (nil when the system gave no thread).
    private let watcher = Locked<ConnectionWatcher?>(nil)

    public init(entries: [Entry], sink: any ProbeResultSink) {
        self.sink = sink
        pending = Locked(Set(entries.map(\.probe.name)))
        slots = Locked([:])
        slots.withLock { slots in
            for entry in entries { slots[entry.probe.name] = (entry, nextToken.wrappingAdd(1, ordering: .relaxed).oldValue) }
        }
    }

    public func start() {
        let events = ConnectionWatcher { [weak self] probe in self?.runSoon(probe) }
        watcher.withLock { $0 = events }
        let slots = self.slots.withLock { $0 }
        if slots.isEmpty { sink.firstRoundCompleted() }
        for (name, slot) in slots { startLoop(name, token: slot.token) }
    }

    private func startLoop(_ name: String, token: Int) {
        running.add(1, ordering: .relaxed)
        startDetachedThread(name: "sched-\(name)") { [self] in
            loop(name, token: token)
            wake.withLock {
                running.subtract(1, ordering: .relaxed)
                wake.broadcast()
            }
        }
    }

    /// Applies a reloaded configuration. An entry whose probe is the same
    /// object as before keeps its loop (and the probe its kept connection);
    /// a changed interval or timeout takes effect with a run at once. A new
    /// probe gets a loop of its own; a replaced or removed one's loop ends
    /// after its current run, whose result is dropped.
    public func replace(_ entries: [Entry]) {
        var started: [(String, Int)] = [], changed: [String] = [], previousNames: [String] = []
        slots.withLock { slots in
            let previous = slots
            previousNames = Array(previous.keys)
            slots = [:]
            for entry in entries {
                let name = entry.probe.name
                if let old = previous[name], old.entry.probe === entry.probe {
                    slots[name] = (entry, old.token)
                    if old.entry.interval != entry.interval || old.entry.timeout != entry.timeout
                        || old.entry.retryInterval != entry.retryInterval { changed.append(name) }
                } else {
                    let token = nextToken.wrappingAdd(1, ordering: .relaxed).oldValue
                    slots[name] = (entry, token)
                    started.append((name, token))
                }
            }
        }
        wake.withLock {
            kicked.withLock { $0.formUnion(changed) }
            wake.broadcast()  // ended loops notice, changed ones run
        }
        for (name, token) in started { startLoop(name, token: token) }
        let names = Set(entries.map(\.probe.name))
        let watcher = self.watcher.withLock { $0 }
        for name in Set(previousNames).subtracting(names) { watcher?.disarm(name) }
        // A removed probe that never reported no longer holds up readiness.
        let roundDone = pending.withLock { pending -> Bool in
            let waiting = !pending.isEmpty
            pending.formIntersection(names)
            return waiting && pending.isEmpty
        }
        if roundDone { sink.firstRoundCompleted() }
    }

    /// The entry `token`'s loop runs, or nil once it was replaced or removed.
    private func entry(_ name: String, token: Int) -> Entry? {
        slots.withLock { slots in slots[name].flatMap { $0.token == token ? $0.entry : nil } }
    }

    /// The entries running now, by probe name.
    public var entries: [Entry] {
        slots.withLock { $0.values.map(\.entry) }.sorted { $0.probe.name < $1.probe.name }
    }

    /// Asks every loop to end after its current run and waits up to `grace`
    /// seconds for them; returns false if some probe was still running then.
    /// (The process must not exit under a probe in the middle of a C call.)
    @discardableResult
    public func stop(grace: Double = 5) -> Bool {
        let deadline = ContinuousClock.now + .seconds(grace)
        wake.lock()
        defer { wake.unlock() }
        stopped.store(true, ordering: .releasing)
        watcher.withLock { $0 }?.stop()
        wake.broadcast()
        while running.load(ordering: .relaxed) > 0 {
            if !wake.wait(until: deadline) { return running.load(ordering: .relaxed) == 0 }
        }
        return true
    }

    /// True while every loop goes round: each has started a run or recorded
    /// a result within twice its interval plus timeout (plus 5 s). A loop
    /// stuck for longer (a C call that never returns) is worth a restart,
    /// which a service manager's watchdog does when this turns false.
    public var loopsAreAlive: Bool {
        let now = ContinuousClock.now
        let beats = self.beats.withLock { $0 }
        return slots.withLock { $0.values.map(\.entry) }.allSatisfy { entry in
            guard let beat = beats[entry.probe.name] else { return true }  // not started yet
            return now - beat < (entry.interval + entry.timeout) * 2 + .seconds(5)
        }
    }

    /// Runs `probe` as soon as its current run (if any) ends, instead of at
    /// its next turn: for a state change seen elsewhere (a secret recovered).
    public func runSoon(_ probe: String) {
        wake.withLock {
            kicked.withLock { _ = $0.insert(probe) }
            wake.broadcast()
        }
    }

    /// Runs every probe once, in parallel, and returns their results (for `vigil check`).
    public static func runOnce(_ entries: [Entry]) -> [ProbeResult] {
        let results = Locked<[ProbeResult]>([])
        DispatchQueue.concurrentPerform(iterations: entries.count) { index in
            let result = entries[index].probe.run(timeout: entries[index].timeout)
            results.withLock { $0.append(result) }
        }
        return results.withLock { $0 }.sorted { $0.probe < $1.probe }
    }

    private func loop(_ name: String, token: Int) {
        let watcher = self.watcher.withLock { $0 }
        while !stopped.load(ordering: .acquiring), let entry = entry(name, token: token) {
            beats.withLock { $0[name] = .now }
            watcher?.disarm(name, token: token)
            let available = runWatched(entry, token: token)
            watcher?.arm(name, token: token, socket: entry.probe.keptSocket) { self.entry(name, token: token) != nil }
            // Sleep until the next run; wake-ups before it (another loop
            // ending, a reload, spurious ones) only re-check `stopped`,
            // `runSoon` (a connection event among them) and whether this
            // loop still runs the probe.
            let next = ContinuousClock.now + entry.pause(available: available)
            wake.withLock {
                while !stopped.load(ordering: .acquiring) && kicked.withLock({ $0.remove(name) == nil })
                    && self.entry(name, token: token) != nil && wake.wait(until: next) {}
            }
        }
        watcher?.disarm(name, token: token)
    }

    /// Runs the probe on a thread of its own and records its result. A run
    /// still going past its timeout (a C call that ignores the deadline, a
    /// hung DNS lookup) is reported as `timeout` then; its real result is
    /// recorded when it comes, and no new run starts before it ends.
    /// Returns whether the component is available after it (true when stopped).
    private func runWatched(_ entry: Entry, token: Int) -> Bool {
        running.add(1, ordering: .relaxed)
        let run = ProbeRun(entry.probe, timeout: entry.timeout) { [self] in
            wake.withLock {
                running.subtract(1, ordering: .relaxed)
                wake.broadcast()
            }
        }
        let grace = entry.timeout * 0.1 + .milliseconds(100)  // lets the probe report its own timeout first
        if run.wait(until: ContinuousClock.now + entry.timeout + grace, unless: stopped) == nil {
            guard !stopped.load(ordering: .acquiring) else { return true }
            record(ProbeResult(probe: entry.probe.name, reason: .timeout, latency: entry.timeout + grace,
                               detail: "no result within the timeout; the check is still running"), token: token)
        }
        guard let result = run.wait(until: nil, unless: stopped) else { return true }
        record(result, token: token)
        return result.isAvailable
    }

    /// Hands a result to the sink, unless a reload replaced or removed the
    /// probe meanwhile; the first of every probe completes the first round.
    private func record(_ result: ProbeResult, token: Int) {
        guard entry(result.probe, token: token) != nil else { return }
        beats.withLock { $0[result.probe] = .now }
        sink.record(result)
        let roundDone = pending.withLock { pending -> Bool in
            guard pending.remove(result.probe) != nil else { return false }
            return pending.isEmpty
        }
        if roundDone { sink.firstRoundCompleted() }
    }
}

/// One probe run on a detached thread, with a result to wait for.
private struct ProbeRun {
    private let result = Outcome<ProbeResult>()

    init(_ probe: any Probe, timeout: Duration, ended: @escaping @Sendable () -> Void) {
        let result = self.result
        let started = startDetachedThread(name: "probe-\(probe.name)") {
            blockBrokenPipeSignal()
            result.finish(probe.run(timeout: timeout))
            ended()
        }
        if !started {
            result.finish(ProbeResult(probe: probe.name, reason: .timeout, latency: .zero,
                                      detail: "no thread for the run: the process is at its thread limit"))
            ended()
        }
    }

    /// The result, once there is one before `deadline` (nil: no limit) and
    /// before `stopped` is set (checked every 100 ms); else nil.
    func wait(until deadline: ContinuousClock.Instant?, unless stopped: borrowing Atomic<Bool>) -> ProbeResult? {
        while !stopped.load(ordering: .acquiring) {
            let slice = ContinuousClock.now + .milliseconds(100)
            if let outcome = result.wait(until: deadline.map { min($0, slice) } ?? slice) { return outcome }
            if let deadline, deadline <= .now { return nil }
        }
        return result.wait(until: .now)
    }
}
