import VigilAWS
import VigilPlatform

/// Where a value lives.
public enum ValueStore: Sendable, Hashable {
    case secretsManager
    /// Parameter Store's GetParameter, a SecureString decrypted or not (`WithDecryption`): two entries.
    case parameterStore(decrypt: Bool)
}

/// A read of any secret by id, as the endpoint asks for it: a version by
/// id or by stage, else AWSCURRENT. For a parameter, by name: a version
/// (a number) or a label, else the latest.
public struct SecretQuery: Sendable, Hashable {
    public var secretID: String
    public var versionID: String?
    public var versionStage: String?
    public var store: ValueStore

    public init(secretID: String, versionID: String? = nil, versionStage: String? = nil, store: ValueStore = .secretsManager) {
        self.secretID = secretID
        self.versionID = versionID
        // AWSCURRENT asked for by name is the default read: one entry for both.
        self.versionStage = versionID == nil && versionStage == "AWSCURRENT" && store == .secretsManager ? nil : versionStage
        self.store = store
    }

    /// Follows AWSCURRENT: a configured item can answer it.
    var followsCurrent: Bool { versionID == nil && versionStage == nil && store == .secretsManager }

    func with(secretID: String) -> SecretQuery { SecretQuery(secretID: secretID, versionID: versionID, versionStage: versionStage, store: store) }
}

/// What GetParameter said of a parameter besides its value.
public struct ParameterFacts: Sendable, Equatable {
    /// `String`, `StringList` or `SecureString`.
    public var type: String
    public var dataType: String?
    /// `:3` or `:label` when the read named a version or a label.
    public var selector: String?
}

/// What GetSecretValue said about a value besides the value itself.
public struct SecretDocument: Sendable, Equatable {
    public var arn: String?
    public var name: String?
    public var versionID: String?
    /// The value is SecretBinary, base64 as AWS sends it.
    public var binary: Bool
    public var stages: [String]
    /// Epoch seconds with a fraction, as AWS sent it (a parameter's `LastModifiedDate`).
    public var createdDate: Double?
    /// A parameter's type and selector; nil for a secret.
    public var parameter: ParameterFacts?

    init(_ fetched: SecretsManagerAPI.Fetched) {
        arn = fetched.arn
        name = fetched.name
        versionID = fetched.versionID
        binary = fetched.binary
        stages = fetched.stages
        createdDate = fetched.createdDate
        parameter = fetched.parameter
    }

    init(name: String) {
        self.name = name
        binary = false
        stages = []
    }
}

/// A read as served, with how it was served.
public struct SecretRead: Sendable {
    public enum Source: String, Sendable {
        /// A fresh cache entry.
        case cache
        /// Past the TTL while AWS fails (up to the emergency TTL).
        case stale
        /// The configured item's environment fallback.
        case environment
        /// Fetched from AWS for this read (a cold read, `refreshNow`, an idle entry revalidated).
        case aws
    }

    public var value: SecretString
    public var document: SecretDocument
    public var source: Source
    /// Seconds since AWS confirmed the value (nil from the environment).
    public var age: Double?
    /// Keys the configured item (or its probes) needs that this version lacks (`X-Vigil-Missing-Keys`).
    public var missingKeys: [String] = []
}

/// Why a read cannot be answered: AWS's code, message and HTTP status, as
/// the AWS agent passes them on (504 `TimeoutError` when AWS did not answer
/// in time, 502 `ConnectionError` when it could not be reached).
public struct SecretReadError: Error, Sendable, Equatable {
    public var code: String
    public var message: String
    public var status: Int
    /// The class of failure; nil when the read itself timed out.
    public var failure: SecretsFailure?

    init(_ error: AWSError) {
        let failure = SecretsFailure(error)
        self.failure = failure
        switch failure {
        case .timeout: (code, message, status) = ("TimeoutError", "Timeout", 504)
        case .unreachable: (code, message, status) = ("ConnectionError", "Read Error", 502)
        default: (code, message, status) = (error.code, error.message, error.status ?? (error.kind == .client ? 400 : 500))
        }
    }

    static let timedOut = SecretReadError(code: "TimeoutError", message: "Timeout", status: 504, failure: nil)

    init(code: String, message: String, status: Int, failure: SecretsFailure?) {
        (self.code, self.message, self.status, self.failure) = (code, message, status, failure)
    }
}

extension SecretsFailure {
    /// An outage, not an answer: a cached value is served past its TTL
    /// (throttling included, unlike the AWS agent). Denied and not found are
    /// answers, passed on once the TTL ends.
    var isTransient: Bool { ![.accessDenied, .notFound].contains(self) }
}

/// The secrets read by id that are not configured items: one entry per
/// secret and version (a name, its ARN and its partial ARN share one once
/// AWS has named them), the least recently read evicted past the capacity.
struct ReadTable: Sendable {
    struct Entry: Sendable {
        var item: SecretsConfiguration.Item
        var lastRead: UnixTime
    }

    var entries: [String: Entry] = [:]
    /// Another form of a query (its ARN, its name) -> the entry (or configured item) that holds it.
    var aliases: [SecretQuery: String] = [:]

    static func name(of query: SecretQuery) -> String {
        let kind = switch query.store {
        case .secretsManager: "read:"
        case .parameterStore(let decrypt): decrypt ? "parameter+decrypted:" : "parameter:"
        }
        return kind + query.secretID + (query.versionID.map { "@id:" + $0 } ?? "") + (query.versionStage.map { "@stage:" + $0 } ?? "")
    }

    /// Drops the least recently read entries past `capacity`, never one
    /// that is `busy` (an AWS read running, a reader waiting, the read
    /// asking now); returns their names.
    mutating func evict(beyond capacity: Int, busy: (String) -> Bool) -> [String] {
        var victims: [String] = []
        while entries.count > capacity,
              let victim = entries.filter({ !busy($0.key) }).min(by: { $0.value.lastRead < $1.value.lastRead })?.key {
            entries.removeValue(forKey: victim)
            victims.append(victim)
        }
        if !victims.isEmpty { aliases = aliases.filter { !victims.contains($0.value) } }
        return victims
    }

    /// Once AWS has named a secret, its name, ARN and partial ARN (without
    /// the random suffix) find the same entry (not for an entry evicted
    /// meanwhile, nor for a parameter: its entry is found by the name asked).
    mutating func learnAliases(of item: SecretsConfiguration.Item, _ document: SecretDocument) {
        // A parameter read by `name:3` is answered with the name alone: an alias would pin every later read to version 3.
        guard !item.isRead || entries[item.name] != nil, item.store == .secretsManager else { return }
        let query = SecretQuery(secretID: item.secretID, versionID: item.versionID, versionStage: item.versionStage, store: item.store)
        var forms = [document.name, document.arn].compactMap { $0 }
        if let arn = document.arn, arn.count > 7 { forms.append(String(arn.dropLast(7))) }
        for form in forms where form != item.secretID { aliases[query.with(secretID: form)] = item.name }
    }

    /// A configured item (by id, or by an alias AWS gave it), else the read
    /// entry for the query (true), existing or new. An alias to an item a
    /// reload removed is ignored.
    func resolve(_ query: SecretQuery, items: [String: SecretsConfiguration.Item]) -> (item: SecretsConfiguration.Item, isEntry: Bool) {
        let (name, isEntry) = resolveName(query, items: items)
        if !isEntry, let configured = items[name] { return (configured, false) }
        return (entries[name]?.item ?? Self.readItem(name, query), true)
    }

    /// `resolve`'s name alone, without copying an item (the warm read's path).
    func resolveName(_ query: SecretQuery, items: [String: SecretsConfiguration.Item]) -> (name: String, isEntry: Bool) {
        if query.followsCurrent {
            for (name, item) in items where item.secretID == query.secretID { return (name, false) }
        }
        let aliased = aliases[query].flatMap { items[$0] != nil || entries[$0] != nil ? $0 : nil }
        let name = aliased ?? Self.name(of: query)
        return (name, items[name] == nil)
    }

    private static func readItem(_ name: String, _ query: SecretQuery) -> SecretsConfiguration.Item {
        var item = SecretsConfiguration.Item(name: name, secretID: query.secretID, required: false)
        item.versionID = query.versionID
        item.versionStage = query.versionStage
        item.store = query.store
        item.isRead = true
        return item
    }
}

extension SecretsClient {
    /// `refreshNow` lets a read through to AWS at most this often per
    /// secret (an application crash-looping on it costs one call per secret
    /// a second); one that comes sooner waits for the next, or joins one
    /// that began after it: never answered from before the request.
    public static let refreshNowInterval = 1.0

    /// Reads any secret by id (the endpoint): the same cache as `get`, so
    /// refresh-ahead, the emergency TTL, single flight and (for a configured
    /// item's id) the environment fallback serve applications too. Waits for
    /// AWS at most `maxWait` seconds, only when nothing can be served, an
    /// entry nobody read for a TTL is revalidated, or `refreshNow` asks.
    public func read(_ query: SecretQuery, maxWait: Double, refreshNow: Bool = false) throws(SecretReadError) -> SecretRead {
        let now = clock()
        if !refreshNow, let hit = freshHit(query, at: now) { return hit }
        return try slowRead(query, at: now, maxWait: maxWait, refreshNow: refreshNow)
    }

    /// Reads of several secrets' AWSCURRENT by id at once (the endpoint's
    /// batch): the fresh ones from the cache, all the others with one
    /// BatchGetSecretValue per 20 (as the start-up load), each then answered
    /// as `read` would, within `maxWait` seconds for all.
    public func readBatch(_ queries: [SecretQuery], maxWait: Double) -> [Result<SecretRead, SecretReadError>] {
        let now = clock()
        let deadline = ContinuousClock.now + .seconds(maxWait)
        let (resolved, ttl) = state.withLock { state in
            (queries.map { state.readItem(for: $0, at: now, refreshNow: false) }, state.policy.ttl)
        }
        var cold: [String: (item: SecretsConfiguration.Item, machine: SecretMachine)] = [:]
        for (item, machine, _, _) in resolved {
            let fresh = machine.isFresh(at: now, ttl: ttl)
            metrics.lookup(hit: fresh, own: false)
            if !fresh { cold[item.name] = (item, machine) }
        }
        // Those due (not within a failing secret's backoff) in one batch, unless a smaller read
        // cache evicted their entry while the batch was resolved; then each as `read` would:
        // waited for, or served at once when it can be (stale while AWS fails, the environment).
        let held = state.withLock { state in cold.values.filter { state.secrets[$0.item.name] != nil } }
        _ = loadInBatches(held.filter { $0.machine.wantsRefresh(at: now) }.map(\.item), at: now)
        for (item, machine) in held { revalidate(item, machine, at: now, until: deadline) }
        return resolved.map { item, machine, _, _ in
            Result { () throws(SecretReadError) in try answer(item, confirmedBefore: machine.entry?.confirmedAt) }
        }
    }

    /// A fresh entry's answer, or nil at once when the read needs more
    /// (AWS, a stale value, a refresh to start): `read` gives that, and the
    /// endpoint runs it off its event loop. Nearly every read is this one.
    public func cachedRead(_ query: SecretQuery) -> SecretRead? { freshHit(query, at: clock()) }

    /// Creates the `_other` series of the secrets metrics (the endpoint does, when enabled).
    public func prepareReads() { metrics.prepare(secrets: [SecretsMetrics.otherLabel]) }

    /// A fresh entry's answer in one short lock hold (the warm read, nearly
    /// every read): nothing to create, evict, force or wait for.
    private func freshHit(_ query: SecretQuery, at now: UnixTime) -> SecretRead? {
        let entry = state.withLock { state -> CacheEntry? in
            let (name, isEntry) = state.reads.resolveName(query, items: state.items)
            if isEntry {
                guard state.reads.entries[name] != nil else { return nil }
                state.reads.entries[name]?.lastRead = now
            }
            return state.secrets[name]?.freshEntry(at: now, ttl: state.policy.ttl)
        }
        guard let entry else { return nil }
        metrics.lookup(hit: true, own: false)
        return SecretRead(value: entry.value, document: entry.document ?? SecretDocument(name: query.secretID), source: .cache,
                          age: max(0, now.seconds - entry.confirmedAt.seconds), missingKeys: entry.missingKeys)
    }

    /// Everything but a fresh hit: `read` past its first check.
    private func slowRead(_ query: SecretQuery, at now: UnixTime, maxWait: Double,
                          refreshNow: Bool) throws(SecretReadError) -> SecretRead {
        let deadline = ContinuousClock.now + .seconds(maxWait)
        let (item, machine, arrival, forces) = state.withLock { $0.readItem(for: query, at: now, refreshNow: refreshNow) }
        if forces {
            metrics.lookup(hit: false, own: false)
            guard forceRead(item, arrival: (arrival, now), until: deadline) else { throw .timedOut }
        } else if machine.isFresh(at: now, ttl: state.withLock({ $0.policy.ttl })) {
            metrics.lookup(hit: true, own: false)
        } else {
            metrics.lookup(hit: false, own: false)
            revalidate(item, machine, at: now, until: deadline)
        }
        return try answer(item, confirmedBefore: machine.entry?.confirmedAt)
    }

    /// A read past its TTL: starts a refresh when one is due, and waits for
    /// it unless something can be served at once; an entry nobody read for a
    /// while is revalidated first.
    private func revalidate(_ item: SecretsConfiguration.Item, _ machine: SecretMachine, at now: UnixTime,
                            until deadline: ContinuousClock.Instant) {
        let (launched, flight) = state.withLock { $0.revalidate(item, machine, at: now) }
        start(launched)
        if let flight { waitFor(item.name, flight: flight, until: deadline) }
    }

    /// `refreshNow`: waits until a refresh that began after the read arrived
    /// (`arrival`: the first flight id it may take, and the time) has
    /// answered, starting one when its turn comes; false when `deadline`
    /// passed first (a refresh that got no thread answers nothing: the next
    /// turn is waited for).
    private func forceRead(_ item: SecretsConfiguration.Item, arrival: (id: Int, at: UnixTime),
                           until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let now = clock()
            let step = state.withLock { $0.refreshNow(item, arrival: arrival.id, at: now, interval: Self.refreshNowInterval) }
            start(step.1)
            switch step.0 {
            case .join(let id):
                waitFor(item.name, flight: id, until: deadline)
                if state.withLock({ $0.secrets[item.name]?.answered(since: arrival.at) ?? true }) { return true }
                guard ContinuousClock.now < deadline else { return false }
            case .wait(let turn):
                guard ContinuousClock.now < deadline else { return false }
                let wake = turn.map { min(deadline, ContinuousClock.now + .seconds(max(0, $0.seconds - now.seconds))) } ?? deadline
                let running = state.withLock { $0.secrets[item.name]?.flight?.id }
                _ = state.wait(until: wake) { $0.secrets[item.name]?.flight?.id == running ? nil : () }
            case .launch:
                continue
            }
        }
    }

    /// What the cache holds for `item` now, as a read's answer.
    /// `confirmedBefore`: when AWS had confirmed the value before this read
    /// (a later confirmation means AWS answered for it: source `aws`).
    private func answer(_ item: SecretsConfiguration.Item, confirmedBefore: UnixTime?) throws(SecretReadError) -> SecretRead {
        let now = clock()
        let (machine, ttl) = state.withLock { ($0.secrets[item.name] ?? SecretMachine(), $0.policy.ttl) }
        let fresh = machine.isFresh(at: now, ttl: ttl)
        // A read entry past its TTL passes on a denial or a deletion (configured
        // items keep the client's rules: emergency cache, then environment).
        if item.isRead, !fresh, let error = machine.lastError, machine.failure?.reason.isTransient == false {
            throw SecretReadError(error)
        }
        let value: SecretValue
        do {
            value = try serve(item, forLogins: false)  // AWSCURRENT as AWS has it, even when malformed for the probes
        } catch {
            if machine.flight != nil { throw .timedOut }
            throw machine.lastError.map(SecretReadError.init) ?? .timedOut
        }
        let source: SecretRead.Source = switch value.source {
        case .aws: value.confirmedAt != confirmedBefore ? .aws : .cache
        case .emergencyCache: .stale
        case .environment: .environment
        }
        // The entry of the version served: its document (whose id is the answer's ETag) and the keys it
        // lacks. `serve` took the lock again, and the entry may have moved between the two (a stand-in
        // dropped, AWSCURRENT moved).
        let entry = value.source == .environment ? nil
            : [state.withLock { $0.secrets[item.name]?.entry }, machine.entry].compactMap { $0 }.first { $0.versionID == value.versionID }
        var document = entry?.document ?? SecretDocument(name: item.secretID)
        if value.source != .environment { document.versionID = value.versionID }
        return SecretRead(value: value.value, document: document, source: source,
                          age: value.confirmedAt.map { max(0, now.seconds - $0.seconds) }, missingKeys: entry?.missingKeys ?? [])
    }
}
