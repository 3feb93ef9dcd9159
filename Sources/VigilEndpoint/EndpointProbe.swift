import VigilConfig
import VigilPlatform
import VigilProbes
import VigilResults

/// The endpoint as a `/health` component: a GET of its own `/ping` each
/// run, through the same listener applications use (an HTTP probe once the
/// listener is bound), so a listener that stopped answering shows. The
/// token is loaded by then: without one the endpoint does not start, and a
/// re-read that fails keeps the token in use. Not critical: applications
/// lose a source, Vigil's own probes do not.
public final class EndpointProbe: Probe {
    public let name = "endpoint"
    public let failureReasons = ProbeReason.connectionFailures + [.unexpectedStatus]
    private let context: ProbeContext
    private let inner = Locked<(any Probe)?>(nil)

    public init(context: ProbeContext) { self.context = context }

    /// Points the probe at the bound listener (`http://HOST:PORT`, or a Unix socket's path).
    public func attach(base: String, unixSocket: String? = nil) {
        let settings = HTTPProbe.Settings(url: base + "/ping", expect: StatusRanges("200")!, unixSocket: unixSocket)
        let probe = HTTPProbe(target: ProbeTarget(name: name, settings: settings), context: context)
        inner.withLock { $0 = probe }
    }

    public func run(timeout: Duration) -> ProbeResult {
        guard let probe = inner.withLock({ $0 }) else {
            return ProbeResult(probe: name, reason: .refused, latency: .zero, detail: "the endpoint's listener is not started")
        }
        return probe.run(timeout: timeout)
    }
}
