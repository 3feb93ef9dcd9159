import Synchronization
import VigilSecrets

/// Holds a probe's connection between runs: opens one when there is none
/// (or it went bad), drops it after any failure so the next run reconnects.
final class ConnectionKeeper<Connection>: Sendable {
    /// Only the probe's own thread uses the connection; the mutex makes that
    /// checkable and lets the keeper be shared with `vigil check`.
    private let kept = Mutex<Connection?>(nil)

    init() {}

    func use(isUsable: (Connection) -> Bool = { _ in true },
             open: () throws(ProbeFailure) -> sending Connection,
             _ body: (Connection) throws(ProbeFailure) -> Void) throws(ProbeFailure) {
        try kept.withLock { (kept: inout Connection?) throws(ProbeFailure) in
            do throws(ProbeFailure) {
                if let current = kept, isUsable(current) {
                    try body(current)
                } else {
                    kept = nil
                    let fresh = try open()
                    try body(fresh)
                    kept = fresh
                }
            } catch {
                kept = nil
                throw error
            }
        }
    }
}

extension CredentialsSource {
    /// The credentials, or a probe failure saying why there are none.
    func get() throws(ProbeFailure) -> Credentials {
        do throws(CredentialsError) { return try fetch() } catch {
            throw ProbeFailure(reason: .credentialsUnavailable, detail: error.description)
        }
    }
}
