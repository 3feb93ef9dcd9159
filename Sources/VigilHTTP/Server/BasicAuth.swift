import CCrypt
import Synchronization

/// Checks HTTP basic auth against bcrypt hashes, as the Prometheus
/// exporters' `basic_auth_users` does. bcrypt is slow on purpose (tens of
/// milliseconds), so a verified password is remembered, by a per-process
/// seeded hash rather than in clear, and the next request costs a lookup.
public final class BasicAuthUsers: Sendable {
    private let hashes: [String: String]
    private let verified = Mutex<[String: Set<Int>]>([:])

    public init(hashes: [String: String]) { self.hashes = hashes }

    public func verify(user: String, password: String) -> Bool {
        guard let hash = hashes[user] else { return false }
        var hasher = Hasher()
        hasher.combine(password)
        let key = hasher.finalize()
        if verified.withLock({ $0[user]?.contains(key) == true }) { return true }
        guard vigil_crypt_matches(password, hash) == 1 else { return false }
        verified.withLock { _ = $0[user, default: []].insert(key) }
        return true
    }
}
