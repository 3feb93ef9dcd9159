import VigilAWS
import VigilPlatform

/// A read of any secret by id, as the endpoint asks for it: a version by
/// id or by stage, else AWSCURRENT.
public struct SecretQuery: Sendable, Hashable {
    public var secretID: String
    public var versionID: String?
    public var versionStage: String?

    public init(secretID: String, versionID: String? = nil, versionStage: String? = nil) {
        self.secretID = secretID
        self.versionID = versionID
        // AWSCURRENT asked for by name is the default read: one entry for both.
        self.versionStage = versionID == nil && versionStage == "AWSCURRENT" ? nil : versionStage
    }

    /// Follows AWSCURRENT: a configured item can answer it.
    var followsCurrent: Bool { versionID == nil && versionStage == nil }

    func with(secretID: String) -> SecretQuery { SecretQuery(secretID: secretID, versionID: versionID, versionStage: versionStage) }
}

/// What GetSecretValue said about a value besides the value itself.
public struct SecretDocument: Sendable, Equatable {
    public var arn: String?
    public var name: String?
    public var versionID: String?
    /// The value is SecretBinary, base64 as AWS sends it.
    public var binary: Bool
    public var stages: [String]
    /// Epoch seconds with a fraction, as AWS sent it.
    public var createdDate: Double?

    init(_ fetched: SecretsManagerAPI.Fetched) {
        arn = fetched.arn
        name = fetched.name
        versionID = fetched.versionID
        binary = fetched.binary
        stages = fetched.stages
        createdDate = fetched.createdDate
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
    /// The last `refreshNow` that reached AWS, by entry or configured item.
    var forced: [String: UnixTime] = [:]
    /// Another form of a query (its ARN, its name) -> the entry (or configured item) that holds it.
    var aliases: [SecretQuery: String] = [:]

    static func name(of query: SecretQuery) -> String {
        "read:" + query.secretID + (query.versionID.map { "@id:" + $0 } ?? "") + (query.versionStage.map { "@stage:" + $0 } ?? "")
    }

    /// Drops the least recently read entries past `capacity`, never one
    /// whose AWS read is running (`busy`); returns their names.
    mutating func evict(beyond capacity: Int, busy: (String) -> Bool) -> [String] {
        var victims: [String] = []
        while entries.count > capacity,
              let victim = entries.filter({ !busy($0.key) }).min(by: { $0.value.lastRead < $1.value.lastRead })?.key {
            entries.removeValue(forKey: victim)
            forced.removeValue(forKey: victim)
            victims.append(victim)
        }
        if !victims.isEmpty { aliases = aliases.filter { !victims.contains($0.value) } }
        return victims
    }
}

extension SecretsClient {
    /// `refreshNow` forces an AWS read at most this often per secret: an
    /// application crash-looping on it costs one call per secret per 5 s.
    public static let refreshNowInterval = 5.0

    /// Reads any secret by id (the endpoint): the same cache as `get`, so
    /// refresh-ahead, the emergency TTL, single flight and (for a configured
    /// item's id) the environment fallback serve applications too. Waits for
    /// AWS at most `maxWait` seconds, only when nothing can be served or an
    /// entry nobody read for a TTL is revalidated.
    public func read(_ query: SecretQuery, maxWait: Double, refreshNow: Bool = false) throws(SecretReadError) -> SecretRead {
        let now = clock()
        if !refreshNow, let hit = freshHit(query, at: now) { return hit }
        return try slowRead(query, at: now, maxWait: maxWait, refreshNow: refreshNow)
    }

    /// A fresh entry's answer, or nil at once when the read needs more
    /// (AWS, a stale value, a refresh to start): `read` gives that, and the
    /// endpoint runs it off its event loop. Nearly every read is this one.
    public func cachedRead(_ query: SecretQuery) -> SecretRead? { freshHit(query, at: clock()) }

    /// Everything but a fresh hit: `read` past its first check.
    private func slowRead(_ query: SecretQuery, at now: UnixTime, maxWait: Double,
                          refreshNow: Bool) throws(SecretReadError) -> SecretRead {
        let known = refreshNow ? item(for: query).name : nil
        let backingOff = known.map { name in records.withLock { now < ($0[name]?.nextAttempt ?? now) } } ?? false
        // A forced read respects a failing secret's backoff, and comes at most every `refreshNowInterval`.
        let (item, forced) = readItem(for: query, at: now, forcing: refreshNow && !backingOff)
        let record = records.withLock { $0[item.name] } ?? SecretRecord()
        let ttl = configuration.ttl
        let deadline = ContinuousClock.now + .seconds(maxWait)
        if forced {
            metrics.lookup(hit: false)
            launchRefresh(item, force: true)?.wait(until: deadline)
        } else if record.isFresh(at: now, ttl: ttl) {
            metrics.lookup(hit: true)
        } else {
            metrics.lookup(hit: false)
            let kicked = record.wantsRefresh(at: now) ? launchRefresh(item, force: false) : nil
            // Served at once while AWS is failing or a refresh is under way;
            // an entry nobody read for a while is revalidated first.
            let failing = record.failure.map { $0.reason.isTransient } ?? false
            let servable = record.entry?.source == .environment
                || (failing && item.fallbackVariable != nil)
                || ((failing || record.refreshStarted != nil)
                    && record.isWithinEmergency(at: now, limit: configuration.emergencyTTL))
            if !servable { (kicked ?? flights.running(item.name))?.wait(until: deadline) }
        }
        return try answer(item, confirmedBefore: record.entry?.confirmedAt)
    }

    /// Creates the `_other` series of the secrets metrics (the endpoint does, when enabled).
    public func prepareReads() { metrics.prepare(secrets: [SecretsMetrics.otherLabel]) }

    /// A fresh entry's answer in three short lock holds (the warm read,
    /// nearly every read): nothing to create, evict, force or wait for.
    private func freshHit(_ query: SecretQuery, at now: UnixTime) -> SecretRead? {
        let (items, ttl) = settings.withLock { ($0.items, $0.configuration.ttl) }
        let name = reads.withLock { table -> String? in
            let (name, isEntry) = Self.resolveName(query, items: items, table: table)
            guard isEntry else { return name }
            guard table.entries[name] != nil else { return nil }
            table.entries[name]?.lastRead = now
            return name
        }
        guard let name, let entry = records.withLock({ $0[name]?.freshEntry(at: now, ttl: ttl) }) else { return nil }
        metrics.lookup(hit: true)
        return SecretRead(value: entry.value, document: entry.document ?? SecretDocument(name: query.secretID), source: .cache,
                          age: max(0, now.seconds - entry.confirmedAt.seconds))
    }

    /// The configured item or read entry that answers `query`, without marking it read.
    private func item(for query: SecretQuery) -> SecretsConfiguration.Item {
        let items = self.items
        return reads.withLock { table in Self.resolve(query, items: items, table: table).item }
    }

    /// The configured item or read entry that answers `query`, marked read
    /// now (created if new, the least recently read evicted past the
    /// capacity); and whether to force an AWS read (`forcing`, and the last
    /// forced one `refreshNowInterval` ago).
    private func readItem(for query: SecretQuery, at now: UnixTime, forcing: Bool) -> (SecretsConfiguration.Item, Bool) {
        let (items, capacity) = settings.withLock { ($0.items, $0.configuration.readCapacity) }
        let (item, forced, evicted) = reads.withLock { table -> (SecretsConfiguration.Item, Bool, [String]) in
            let (item, isEntry) = Self.resolve(query, items: items, table: table)
            if isEntry { table.entries[item.name] = ReadTable.Entry(item: item, lastRead: now) }
            let forced = forcing && table.forced[item.name].map { now.seconds - $0.seconds >= Self.refreshNowInterval } ?? forcing
            if forced { table.forced[item.name] = now }
            return (item, forced, table.evict(beyond: capacity) { flights.running($0) != nil })
        }
        if !evicted.isEmpty { records.withLock { records in for name in evicted { records.removeValue(forKey: name) } } }
        return (item, forced)
    }

    /// A configured item (by id, or by an alias AWS gave it), else the read
    /// entry for the query (true), existing or new. An alias to an item a
    /// reload removed is ignored.
    private static func resolve(_ query: SecretQuery, items: [String: SecretsConfiguration.Item],
                                table: ReadTable) -> (item: SecretsConfiguration.Item, isEntry: Bool) {
        let (name, isEntry) = resolveName(query, items: items, table: table)
        if !isEntry, let configured = items[name] { return (configured, false) }
        return (table.entries[name]?.item ?? readItem(name, query), true)
    }

    /// `resolve`'s name alone, without copying an item (the warm read's path).
    private static func resolveName(_ query: SecretQuery, items: [String: SecretsConfiguration.Item],
                                    table: ReadTable) -> (name: String, isEntry: Bool) {
        if query.followsCurrent {
            for (name, item) in items where item.secretID == query.secretID { return (name, false) }
        }
        let aliased = table.aliases[query].flatMap { items[$0] != nil || table.entries[$0] != nil ? $0 : nil }
        let name = aliased ?? ReadTable.name(of: query)
        return (name, items[name] == nil)
    }

    private static func readItem(_ name: String, _ query: SecretQuery) -> SecretsConfiguration.Item {
        var item = SecretsConfiguration.Item(name: name, secretID: query.secretID, required: false)
        item.versionID = query.versionID
        item.versionStage = query.versionStage
        item.isRead = true
        return item
    }

    /// What the cache holds for `item` now, as a read's answer.
    /// `confirmedBefore`: when AWS had confirmed the value before this read
    /// (a later confirmation means AWS answered for it: source `aws`).
    private func answer(_ item: SecretsConfiguration.Item, confirmedBefore: UnixTime?) throws(SecretReadError) -> SecretRead {
        let now = clock()
        let record = records.withLock { $0[item.name] } ?? SecretRecord()
        let fresh = record.isFresh(at: now, ttl: configuration.ttl)
        // A read entry past its TTL passes on a denial or a deletion (configured
        // items keep the client's rules: emergency cache, then environment).
        if item.isRead, !fresh, let error = record.lastError, record.failure?.reason.isTransient == false {
            throw SecretReadError(error)
        }
        let value: SecretValue
        do {
            value = try serve(item)
        } catch {
            if flights.running(item.name) != nil { throw .timedOut }
            throw record.lastError.map(SecretReadError.init) ?? .timedOut
        }
        let source: SecretRead.Source = switch value.source {
        case .aws: value.confirmedAt != confirmedBefore ? .aws : .cache
        case .emergencyCache: .stale
        case .environment: .environment
        }
        let document = value.source == .environment ? SecretDocument(name: item.secretID)
            : record.entry?.document ?? SecretDocument(name: item.secretID)
        return SecretRead(value: value.value, document: document, source: source,
                          age: value.confirmedAt.map { max(0, now.seconds - $0.seconds) })
    }

    /// The items the schedule refreshes: every configured one, and the read
    /// entries read within the last TTL (nobody reads the others: they are
    /// revalidated on their next read instead).
    /// A read entry AWS answered with a denial or a deletion is not retried
    /// in the background either: the application's next read asks again.
    func refreshedItems(at now: UnixTime) -> [String: SecretsConfiguration.Item] {
        let ttl = configuration.ttl
        let recent = reads.withLock { $0.entries.filter { now.seconds - $0.value.lastRead.seconds < ttl }.mapValues(\.item) }
        let answered = records.withLock { records in
            Set(recent.keys.filter { records[$0]?.failure.map { !$0.reason.isTransient } ?? false })
        }
        return items.merging(recent.filter { !answered.contains($0.key) }) { configured, _ in configured }
    }

    /// After an AWS read of an entry evicted meanwhile, its record goes too.
    func dropIfEvicted(_ item: SecretsConfiguration.Item) {
        guard item.isRead, reads.withLock({ $0.entries[item.name] == nil }) else { return }
        records.withLock { _ = $0.removeValue(forKey: item.name) }
    }

    /// Once AWS has named a secret, its name, ARN and partial ARN (without
    /// the random suffix) find the same entry.
    func learnAliases(of item: SecretsConfiguration.Item, _ document: SecretDocument) {
        let query = SecretQuery(secretID: item.secretID, versionID: item.versionID, versionStage: item.versionStage)
        var forms = [document.name, document.arn].compactMap { $0 }
        if let arn = document.arn, arn.count > 7 { forms.append(String(arn.dropLast(7))) }
        reads.withLock { table in
            guard item.isRead ? table.entries[item.name] != nil : true else { return }  // evicted meanwhile
            for form in forms where form != item.secretID { table.aliases[query.with(secretID: form)] = item.name }
        }
    }

    /// Forgets the aliases of configured items whose secret changed (a reload).
    func forgetAliases(to names: Set<String>) {
        reads.withLock { table in table.aliases = table.aliases.filter { !names.contains($0.value) } }
    }
}
