internal import CCrypt
import Synchronization
import VigilPlatform

/// Checks HTTP basic auth against bcrypt hashes, as the Prometheus
/// exporters' `basic_auth_users` does. bcrypt is slow on purpose (tens of
/// milliseconds of CPU), so checks are remembered and bounded:
/// - What a check found, pass or fail, is remembered (exporter-toolkit
///   remembers both too) by a digest of the user and password under this
///   process's random hashing seed, never the password in clear: a scraper
///   costs one check and then lookups, and so does a client repeating a
///   wrong password. Issue 27: only passes were remembered, and clients
///   sending a wrong password one after another kept libmicrohttpd's
///   workers hashing (`/health` without credentials: 329 ms at the median,
///   519 ms at p99, against sixteen such clients).
/// - Checks run one at a time, in the order they were admitted (one core
///   hashing at most, as exporter-toolkit's mutex has it), and at most
///   `maxPending` are admitted: the server runs each on a thread of its
///   own while the request is suspended, never on its workers, and answers
///   a request that finds no place at once without a check (`admit`), so
///   new passwords, however many, cost a bounded amount.
public final class BasicAuthUsers: Sendable {
    /// A request's user and password, with the digest their verdict is remembered by.
    public struct Credentials: Sendable {
        let user: String
        let password: String
        let digest: Digest
    }

    /// 128 bits: two SipHash values of the user's and the password's bytes
    /// (bytes, not `String`s: canonically equivalent strings hash alike,
    /// and bcrypt tells them apart), under the process's random seed.
    struct Digest: Hashable, Sendable {
        let high: Int
        let low: Int
    }

    /// A check `admit` let in: `run` it, or `drop` it when it will not run;
    /// either gives its place back, once.
    public final class PendingCheck: Sendable {
        private let users: BasicAuthUsers
        private let credentials: Credentials
        private let settled = Atomic<Bool>(false)

        fileprivate init(_ users: BasicAuthUsers, _ credentials: Credentials) {
            self.users = users
            self.credentials = credentials
        }

        /// Waits for the checks admitted before it, then checks; true when the password is the user's.
        public func run() -> Bool {
            defer { drop() }
            return users.check(credentials)
        }

        public func drop() {
            guard !settled.exchange(true, ordering: .acquiringAndReleasing) else { return }
            users.admitted.subtract(1, ordering: .releasing)
        }
    }

    /// Checks admitted at once, the one hashing included. Each holds a
    /// thread (and its suspended request) while it waits, so a flood of new
    /// passwords holds at most this many; a request past it is not checked.
    /// Above the number of clients guessing at once, a new right password
    /// waits for those ahead (at cost 10, ~50 ms each) instead of being
    /// refused: sixteen guessing clients keep at most sixteen waiting.
    public static let maxPending = 32

    private let hashes: [String: String]
    /// Checks a password against a hash (bcrypt through libxcrypt; tests count calls).
    private let matches: @Sendable (_ password: String, _ hash: String) -> Bool
    /// An unknown user's password is checked against this hash (one of the
    /// configured ones, so the same cost): answering at once would tell which
    /// user names exist. Its failure is remembered like any other.
    private let decoy: String?
    private let verdicts = Locked(Verdicts())
    /// Whose turn it is to hash: checks go in the order they took a ticket.
    private let turns = Monitor(Turns())
    fileprivate let admitted = Atomic<Int>(0)

    private struct Turns {
        var next = 0
        var serving = 0
    }

    /// `matches` nil: libxcrypt's check of a password against a hash.
    public init(hashes: [String: String], matches: (@Sendable (String, String) -> Bool)? = nil) {
        self.hashes = hashes
        self.matches = matches ?? { vigil_crypt_matches($0, $1) == 1 }
        decoy = hashes.keys.min().flatMap { hashes[$0] }
    }

    /// `previous` when it checks against the same hashes, so what it
    /// remembered stays (every reload builds new users, a certificate
    /// renewal's too), else these.
    public func replacing(_ previous: BasicAuthUsers?) -> BasicAuthUsers {
        guard let previous, previous.hashes == hashes else { return self }
        return previous
    }

    public func credentials(user: String, password: String) -> Credentials {
        func digest(_ part: UInt8) -> Int {
            var hasher = Hasher()
            hasher.combine(part)
            for text in [user, password] {
                let bytes = Array(text.utf8)
                hasher.combine(bytes.count)
                bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
            }
            return hasher.finalize()
        }
        return Credentials(user: user, password: password, digest: Digest(high: digest(1), low: digest(2)))
    }

    /// What an earlier check of these credentials found; nil when none is remembered.
    public func remembered(_ credentials: Credentials) -> Bool? {
        verdicts.withLock { $0.verdict(credentials.digest) }
    }

    /// A place for a check of `credentials`, or nil when `maxPending` are admitted already.
    public func admit(_ credentials: Credentials) -> PendingCheck? {
        var count = admitted.load(ordering: .relaxed)
        while count < Self.maxPending {
            let (exchanged, original) = admitted.compareExchange(expected: count, desired: count + 1, ordering: .acquiringAndReleasing)
            if exchanged { return PendingCheck(self, credentials) }
            count = original
        }
        return nil
    }

    /// Checks admitted and not yet run or dropped.
    public var pendingChecks: Int { admitted.load(ordering: .acquiring) }

    /// Checks that took their turn and have not ended (the one hashing included).
    var waitingChecks: Int { turns.withLock { $0.next - $0.serving } }

    /// The remembered verdict, else a check on the calling thread, which
    /// waits for its turn without a place: for callers that may wait.
    public func verify(user: String, password: String) -> Bool {
        let credentials = credentials(user: user, password: password)
        return remembered(credentials) ?? check(credentials)
    }

    /// One check at a time, in turn, remembered; none when a check ahead
    /// was of the same credentials (a burst of one client's requests costs one).
    fileprivate func check(_ credentials: Credentials) -> Bool {
        let ticket = turns.withLock { turns in
            defer { turns.next += 1 }
            return turns.next
        }
        _ = turns.wait(until: nil) { $0.serving == ticket ? () : nil }
        defer { turns.update { $0.serving += 1 } }
        if let verdict = remembered(credentials) { return verdict }
        let passed = hashCheck(credentials)
        verdicts.withLock { $0.record(credentials.digest, passed: passed) }
        return passed
    }

    private func hashCheck(_ credentials: Credentials) -> Bool {
        guard let hash = hashes[credentials.user] else {
            if let decoy { _ = matches(credentials.password, decoy) }
            return false
        }
        return matches(credentials.password, hash)
    }
}

/// Verdicts by digest, passes and failures apart: wrong guesses, however
/// many, cannot push the right passwords out.
struct Verdicts {
    private var passed = RecentDigests(capacity: 256)
    private var failed = RecentDigests(capacity: 1024)

    func verdict(_ digest: BasicAuthUsers.Digest) -> Bool? {
        if passed.contains(digest) { return true }
        return failed.contains(digest) ? false : nil
    }

    mutating func record(_ digest: BasicAuthUsers.Digest, passed: Bool) {
        if passed { self.passed.insert(digest) } else { failed.insert(digest) }
    }
}

/// The last `capacity` digests inserted, the oldest forgotten first.
struct RecentDigests {
    private let capacity: Int
    private var members: Set<BasicAuthUsers.Digest> = []
    private var order: [BasicAuthUsers.Digest] = []
    private var next = 0

    init(capacity: Int) { self.capacity = capacity }

    func contains(_ digest: BasicAuthUsers.Digest) -> Bool { members.contains(digest) }

    mutating func insert(_ digest: BasicAuthUsers.Digest) {
        guard members.insert(digest).inserted else { return }
        guard order.count == capacity else { return order.append(digest) }
        members.remove(order[next])
        order[next] = digest
        next = (next + 1) % capacity
    }
}
