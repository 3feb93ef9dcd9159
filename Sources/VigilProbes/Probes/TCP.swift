import VigilPlatform

/// TCP probe: connects to `address` within the timeout and closes; for
/// dependencies Vigil cannot speak to.
public final class TCPProbe: Probe {
    public let name: String
    public let failureReasons = [ProbeReason.timeout, .refused, .dns, .protocol]
    private let host: String
    private let port: Int

    init(target: ProbeTarget, context: ProbeContext) {
        name = target.name
        let address = HostPort(target.settings["address"] ?? "")  // checked by the configuration
        host = address?.host ?? ""
        port = address?.port ?? 0
    }

    public func run(timeout: Duration) -> ProbeResult {
        let deadline = Deadline(after: timeout)
        let timer = PhaseTimer()
        var result = measure { () throws(ProbeFailure) in
            _ = try timer.time("connect") { () throws(ProbeFailure) in try TCPConnection(host: host, port: port, deadline: deadline) }
        }
        result.phases = timer.phases
        result.target = HostPort(host: host, port: port).text
        return result
    }
}
