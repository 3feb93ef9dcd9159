
/// TCP probe: connects to `address` within the timeout and closes; for
/// dependencies Vigil cannot speak to.
public final class TCPProbe: Probe {
    public let name: String
    public let failureReasons = [ProbeReason.timeout, .refused, .dns, .protocol]
    private let host: String
    private let port: Int

    init(target: ProbeTarget, context: ProbeContext) {
        name = target.name
        let address = target.settings["address"] ?? ""
        let colon = address.lastIndex(of: ":") ?? address.endIndex
        host = String(address[..<colon].drop { $0 == "[" }.reversed().drop { $0 == "]" }.reversed())
        port = colon < address.endIndex ? Int(address[address.index(after: colon)...]) ?? 0 : 0
    }

    public func run(timeout: Duration) -> ProbeResult {
        let deadline = Deadline(after: timeout)
        let timer = PhaseTimer()
        var result = measure { () throws(ProbeFailure) in
            _ = try timer.time("connect") { () throws(ProbeFailure) in try TCPConnection(host: host, port: port, deadline: deadline) }
        }
        result.phases = timer.phases
        return result
    }
}
