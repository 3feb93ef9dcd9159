import CCrypt
import VigilPlatform

/// Checks HTTP basic auth against bcrypt hashes, as the Prometheus
/// exporters' `basic_auth_users` does. bcrypt is slow on purpose (tens of
/// milliseconds), so a verified password is remembered, by a per-process
/// seeded hash rather than in clear, and the next request costs a lookup.
public final class BasicAuthUsers: Sendable {
    private let hashes: [String: String]
    private let verified = Locked<[String: Set<Int>]>([:])
    /// Checks a password against a hash (bcrypt through libxcrypt; tests count calls).
    private let matches: @Sendable (_ password: String, _ hash: String) -> Bool
    /// An unknown user's password is checked against this hash (one of the
    /// configured ones, so the same cost): answering at once would tell which
    /// user names exist.
    private let decoy: String?

    public init(hashes: [String: String],
                matches: @escaping @Sendable (String, String) -> Bool = { vigil_crypt_matches($0, $1) == 1 }) {
        self.hashes = hashes
        self.matches = matches
        decoy = hashes.keys.min().flatMap { hashes[$0] }
    }

    public func verify(user: String, password: String) -> Bool {
        guard let hash = hashes[user] else {
            if let decoy { _ = matches(password, decoy) }
            return false
        }
        var hasher = Hasher()
        hasher.combine(password)
        let key = hasher.finalize()
        if verified.withLock({ $0[user]?.contains(key) == true }) { return true }
        guard matches(password, hash) else { return false }
        verified.withLock { _ = $0[user, default: []].insert(key) }
        return true
    }
}
