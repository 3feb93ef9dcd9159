import VigilConfig
import VigilPlatform
import VigilResults

/// TCP probe: connects to `address` within the timeout and closes; for
/// dependencies Vigil cannot speak to.
public final class TCPProbe: KindProbe {
    public static let name = "tcp"
    public static let summary = "A TCP port: connects within the timeout, nothing else."
    public static let defaultCritical = true
    public static let settings = [KindSetting("address", .hostPort, required: true, help: "tcp: `HOST:PORT` to connect to.")]

    public static func read(_ values: KindValues) -> HostPort? { values.hostPort("address") }

    public let name: String
    public let failureReasons = [ProbeReason.timeout, .refused, .dns, .protocol]
    private let host: String
    private let port: Int

    public init(target: ProbeTarget<HostPort>, context: ProbeContext) {
        name = target.name
        (host, port) = (target.settings.host, target.settings.port)
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
