import VigilAWS

/// A refresh the shell must start on a thread of its own (decided under
/// the lock, started after it is released).
struct Launch: Sendable {
    var item: SecretsConfiguration.Item
    var id: Int
    var forced: Bool
}

/// Everything the secrets client holds, behind its one lock: the
/// configuration, one `SecretMachine` per secret (configured items and
/// endpoint reads alike), the endpoint's read table, and the schedule's
/// wake-up flags.
struct ClientState {
    var configuration: SecretsConfiguration
    var items: [String: SecretsConfiguration.Item]
    var policy: SecretPolicy
    var secrets: [String: SecretMachine]
    var reads = ReadTable()
    /// Cleared after DescribeSecret is denied: version checks then use GetSecretValue
    /// (a GetSecretValue-only policy is common and must not leave secrets stale).
    var describeAllowed = true
    /// The last id given to a refresh or AWSPENDING read (ids only grow).
    var lastFlight = 0
    /// Called when a secret starts failing, changes failure class, or recovers.
    var handlers: [@Sendable () -> Void] = []
    /// The schedule: running, asked to stop, poked since its last sleep (a
    /// refresh ended, a reload: the next due time moved).
    var scheduling = false
    var stopped = false
    var poked = false
    /// AWS access is configured (else the environment fallback alone serves).
    let hasAWS: Bool
    /// The process environment, for the items' fallback variables.
    let environment: [String: String]

    init(configuration: SecretsConfiguration, primaryRegion: String?, environment: [String: String]) {
        self.configuration = configuration
        hasAWS = primaryRegion != nil
        self.environment = environment
        items = Self.byName(configuration.items)
        policy = SecretPolicy(configuration, primaryRegion: primaryRegion)
        secrets = items.mapValues { _ in SecretMachine() }
    }

    private static func byName(_ items: [SecretsConfiguration.Item]) -> [String: SecretsConfiguration.Item] {
        Dictionary(items.map { ($0.name, $0) }) { first, _ in first }
    }

    /// A new refresh for `item` as `Launch`, or nil when one is running.
    mutating func launch(_ item: SecretsConfiguration.Item, forced: Bool, at now: UnixTime) -> Launch? {
        let id = lastFlight + 1
        guard secrets[item.name, default: SecretMachine()].launch(id: id, forced: forced, at: now) else { return nil }
        lastFlight = id
        return Launch(item: item, id: id, forced: forced)
    }

    /// A reload: an item whose secret id is unchanged keeps its machine; a
    /// new one, or one that names another secret now, starts anew; a removed
    /// one goes (unless the endpoint reads it).
    mutating func reconfigure(_ configuration: SecretsConfiguration) {
        let previous = items
        let items = Self.byName(configuration.items)
        let moved = Set(previous.keys.filter { items[$0]?.secretID != previous[$0]?.secretID })
        reads.aliases = reads.aliases.filter { !moved.contains($0.value) }
        for (name, item) in items where previous[name]?.secretID != item.secretID { secrets[name] = SecretMachine() }
        for (name, item) in items where previous[name]?.secretID == item.secretID && previous[name]?.checkedKeys != item.checkedKeys {
            secrets[name]?.requiredKeysChanged(to: item.checkedKeys)
        }
        for name in secrets.keys where items[name] == nil && reads.entries[name] == nil { secrets.removeValue(forKey: name) }
        (self.configuration, self.items) = (configuration, items)
        policy = SecretPolicy(configuration, primaryRegion: policy.primaryRegion)
        poked = true
    }

    /// The items the schedule refreshes: every configured one, and the read
    /// entries read within the last TTL (nobody reads the others: they are
    /// revalidated on their next read instead). A read entry AWS answered
    /// with a denial or a deletion is not retried in the background either:
    /// the application's next read asks again.
    func refreshedItems(at now: UnixTime) -> [String: SecretsConfiguration.Item] {
        var refreshed = items
        for (name, entry) in reads.entries where refreshed[name] == nil && now.seconds - entry.lastRead.seconds < policy.ttl {
            if secrets[name]?.failure.map({ !$0.reason.isTransient }) ?? false { continue }
            refreshed[name] = entry.item
        }
        return refreshed
    }

    /// One tick of the clock: entries past the emergency TTL dropped, the
    /// refreshes due started, and the seconds until the next is due.
    mutating func tick(at now: UnixTime) -> (launches: [Launch], next: Double) {
        for index in secrets.indices { secrets.values[index].expire(at: now, policy) }
        guard hasAWS else { return ([], 15) }  // nothing to refresh: gauges only
        let due = refreshedItems(at: now)
        var launches: [Launch] = []
        var next = now.seconds + 15
        for (name, item) in due {
            guard let index = secrets.index(forKey: name) else { continue }
            if secrets.values[index].wantsRefresh(at: now), let launched = launch(item, forced: false, at: now) {
                launches.append(launched)
            } else if let wake = secrets.values[index].nextWake(ttl: policy.ttl) {
                next = min(next, wake.seconds)
            }
        }
        return (launches, next - now.seconds)
    }
}

/// The decisions of the client's calls, made under its lock: which refresh
/// to start, which to wait for, what to serve. The shell performs them; the
/// simulator in the tests makes the same ones.
extension ClientState {
    /// What `get` does: answer from a fresh entry, or start the refresh due
    /// and wait for a refresh (`wait`) unless something can be served at once.
    struct Lookup {
        var item: SecretsConfiguration.Item
        var fresh: CacheEntry?
        var launch: Launch?
        var wait: Int?
    }

    mutating func lookup(_ name: String, at now: UnixTime) -> Lookup? {
        guard let item = items[name], let index = secrets.index(forKey: name) else { return nil }
        // The hit, nearly every lookup: read in place (a copy of the machine cost more than the rest).
        if let entry = secrets.values[index].freshEntry(at: now, ttl: policy.ttl) {
            return Lookup(item: item, fresh: secrets.values[index].forLogins(entry))
        }
        let machine = secrets.values[index]
        let launched = hasAWS && machine.wantsRefresh(at: now) ? launch(item, forced: false, at: now) : nil
        let servable = machine.isWithinEmergency(at: now, limit: policy.emergencyTTL) || hasEnvironmentValue(item, machine)
        return Lookup(item: item, launch: launched, wait: servable ? nil : secrets[name]?.flight?.id)
    }

    /// What `forceRefresh` does after a failed login: drops a stand-in the
    /// login failed with (`dropped`), and starts a forced read when allowed
    /// (or joins the one running).
    struct Force {
        var item: SecretsConfiguration.Item
        var dropped: Bool
        var launch: Launch?
        var wait: Int?
    }

    mutating func force(_ name: String, failedVersion: String?, at now: UnixTime, minimumInterval: Double) -> Force? {
        guard let item = items[name], secrets[name] != nil else { return nil }
        let dropped = failedVersion.map { [policy] in secrets[name]?.loginFailed(version: $0, policy) ?? false } ?? false
        guard hasAWS, secrets[name]?.forcePermitted(at: now, minimumInterval: minimumInterval) == true else {
            return Force(item: item, dropped: dropped)
        }
        let launched = launch(item, forced: true, at: now)
        return Force(item: item, dropped: dropped, launch: launched, wait: secrets[name]?.flight?.id)
    }

    /// How the refresh of `item` goes: a version check first when a value
    /// from AWS is held, the read is not forced, the stage is followed (no
    /// pinned version) and DescribeSecret is allowed, else the value at once;
    /// and whether the secret is failing (every region one attempt: its
    /// backoff is the retry).
    func refreshPlan(_ item: SecretsConfiguration.Item, forced: Bool) -> (checksVersion: Bool, failing: Bool) {
        let machine = secrets[item.name]
        let held = machine?.entry.map { $0.source == .aws && $0.versionID != nil } ?? false
        return (!forced && held && item.versionID == nil && describeAllowed, (machine?.failures ?? 0) > 0)
    }

    /// An AWSPENDING read for `name` (its id) when `startPending` allows one.
    mutating func pending(_ name: String, at now: UnixTime, interval: Double) -> Int? {
        let id = lastFlight + 1
        guard hasAWS, secrets[name]?.startPending(id: id, at: now, interval: interval) == true else { return nil }
        lastFlight = id
        return id
    }

    /// What the cache serves for `item`, in order: fresh, emergency cache,
    /// environment fallback (held from then on).
    enum Served {
        case fresh(CacheEntry)
        case stale(CacheEntry)
        case environment(String)
        /// Nothing: why, for the error.
        case unavailable(String)
    }

    mutating func serve(_ item: SecretsConfiguration.Item, at now: UnixTime, forLogins: Bool) -> Served {
        let machine = secrets[item.name] ?? SecretMachine()
        let served = { (entry: CacheEntry) in forLogins ? machine.forLogins(entry) : entry }
        if let entry = machine.freshEntry(at: now, ttl: policy.ttl) { return .fresh(served(entry)) }
        if let entry = machine.entry, machine.isWithinEmergency(at: now, limit: policy.emergencyTTL) { return .stale(served(entry)) }
        if let text = environmentValue(item) {
            secrets[item.name]?.tookEnvironment(SecretString(text), at: now)
            return .environment(text)
        }
        return .unavailable(machine.failure.map { "\($0.code) (\($0.reason.rawValue))" }
            ?? (!hasAWS ? "no AWS access configured" : machine.flight != nil ? "no answer yet" : "not loaded"))
    }

    /// The environment is a fallback: it serves at once only after AWS failed
    /// for this secret, or once it has been served (a first lookup that
    /// waited out `maxWait` on a hung refresh); on a first lookup AWS is asked.
    func hasEnvironmentValue(_ item: SecretsConfiguration.Item, _ machine: SecretMachine) -> Bool {
        if machine.holdsEnvironment { return true }
        return (machine.failures > 0 || !hasAWS) && environmentValue(item) != nil
    }

    func environmentValue(_ item: SecretsConfiguration.Item) -> String? {
        guard let variable = item.fallbackVariable, let text = environment[variable], !text.isEmpty else { return nil }
        return text
    }
}

/// The endpoint's reads by id.
extension ClientState {
    /// The configured item or read entry that answers `query`, marked read
    /// now (created if new, the least recently read evicted past the
    /// capacity, never this one or a busy one); its machine as it is now,
    /// the id the next refresh will get, and whether `refreshNow` forces a
    /// read (never within a failing secret's backoff, nor without AWS).
    mutating func readItem(for query: SecretQuery, at now: UnixTime,
                           refreshNow: Bool) -> (SecretsConfiguration.Item, SecretMachine, arrival: Int, forces: Bool) {
        let (item, isEntry) = reads.resolve(query, items: items)
        if isEntry {
            reads.entries[item.name] = ReadTable.Entry(item: item, lastRead: now)
            if secrets[item.name] == nil { secrets[item.name] = SecretMachine() }
            let evicted = reads.evict(beyond: configuration.readCapacity) { [secrets] name in
                name == item.name || secrets[name]?.busy == true
            }
            for name in evicted { secrets.removeValue(forKey: name) }
        }
        let machine = secrets[item.name] ?? SecretMachine()
        return (item, machine, lastFlight + 1, refreshNow && hasAWS && now >= machine.nextAttempt)
    }

    /// A read past its TTL (`machine` as it was when the read arrived):
    /// starts the refresh due, and names the refresh to wait for unless
    /// something can be served at once (AWS failing, a refresh under way).
    mutating func revalidate(_ item: SecretsConfiguration.Item, _ machine: SecretMachine, at now: UnixTime) -> (Launch?, wait: Int?) {
        let launched = hasAWS && machine.wantsRefresh(at: now) ? launch(item, forced: false, at: now) : nil
        let failing = machine.failure.map { $0.reason.isTransient } ?? false
        let servable = machine.holdsEnvironment
            || (failing && item.fallbackVariable != nil)
            || ((failing || machine.flight != nil) && machine.isWithinEmergency(at: now, limit: policy.emergencyTTL))
        return (launched, servable ? nil : secrets[item.name]?.flight?.id)
    }

    /// One step of a `refreshNow` read that arrived when the next flight id
    /// was `arrival`: the refresh to join (started here when its turn came,
    /// `launch`), or how long to wait for its turn.
    mutating func refreshNow(_ item: SecretsConfiguration.Item, arrival: Int, at now: UnixTime,
                             interval: Double) -> (SecretMachine.RefreshNow, Launch?) {
        guard let machine = secrets[item.name] else { return (.wait(until: nil), nil) }
        let step = machine.refreshNow(arrival: arrival, at: now, interval: interval)
        guard step == .launch else { return (step, nil) }
        let id = lastFlight + 1
        guard secrets[item.name]?.launchRefreshNow(id: id, at: now) == true else { return (step, nil) }
        lastFlight = id
        return (.join(id), Launch(item: item, id: id, forced: true))
    }
}
