import Foundation

/// Why a probe failed, from a fixed set: these become metric labels.
public enum ProbeReason: String, Sendable, CaseIterable {
    case ok, timeout, refused, dns, tls, auth, `protocol`
    case credentialsUnavailable = "credentials_unavailable"
}

/// The outcome of one probe run: a plain immutable value.
public struct ProbeResult: Sendable, Equatable {
    public var probe: String
    public var reason: ProbeReason
    /// Wall time of the whole run.
    public var latency: Duration
    public var finishedAt: Date
    /// A short human explanation for logs and `/health` details. Never holds
    /// secret values: probes build it from fixed text and server messages.
    public var detail: String

    public var succeeded: Bool { reason == .ok }

    public init(probe: String, reason: ProbeReason, latency: Duration, finishedAt: Date = Date(), detail: String = "") {
        self.probe = probe
        self.reason = reason
        self.latency = latency
        self.finishedAt = finishedAt
        self.detail = detail
    }
}

/// One probe: blocking, bounded by `timeout`, run on a thread of its own
/// (never on Swift's cooperative pool). Implementations may keep a
/// connection between runs; the scheduler never runs one probe twice at once.
public protocol Probe: AnyObject, Sendable {
    var name: String { get }
    func run(timeout: Duration) -> ProbeResult
}

/// A failure inside a probe, carried to the result.
struct ProbeFailure: Error {
    var reason: ProbeReason
    var detail: String
}

extension Probe {
    /// Times `body` and turns its outcome into a result.
    func measure(_ body: () throws(ProbeFailure) -> Void) -> ProbeResult {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            try body()
            return ProbeResult(probe: name, reason: .ok, latency: clock.now - start)
        } catch {
            return ProbeResult(probe: name, reason: error.reason, latency: clock.now - start, detail: error.detail)
        }
    }
}
