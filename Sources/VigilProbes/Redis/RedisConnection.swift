import VigilResults
import VigilSecrets

/// A Redis client connection speaking just enough RESP to authenticate and
/// ping, every call bounded by the probe's deadline. Server error text never
/// leaves this type: Redis echoes a command's arguments (AUTH's password
/// among them) in some errors, so only the error's code word is reported.
final class RedisConnection {
    private let socket: any ByteStream
    private var buffer: [UInt8] = []
    private let reader = RESPReader()
    /// A reply larger than this is cut off: the probe reads PING and a few
    /// INFO sections (about 3 KB); a peer sending without end must not hold it.
    static let maxReplyBytes = 256 * 1024
    /// False once a command failed: its reply may still arrive, so the
    /// connection must not be used again.
    private(set) var isUsable = true
    /// The socket, for `ConnectionWatcher`.
    var descriptor: Int32 { socket.descriptor }
    /// The server's certificates (`rediss://`); nil in plain text.
    var certificate: CertificateExpiry? { socket.certificate }

    init(_ credentials: RedisCredentials, tls: RedisTLS, deadline: Deadline) throws(ProbeFailure) {
        let tcp = try TCPConnection(host: credentials.host, port: credentials.port, deadline: deadline)
        socket = credentials.tls
            ? try TLSStream(tcp, host: credentials.host, caFile: tls.caFile, serverName: tls.serverName, deadline: deadline)
            : tcp
        if let password = credentials.password {
            let auth = [credentials.username, password.revealed()].compactMap { $0 }
            let reply = try command(["AUTH"] + auth, deadline: deadline)
            if case .error(let message) = reply {
                let code = Self.errorCode(message)
                let reason: ProbeReason = code == "WRONGPASS" || code == "NOAUTH" || message.contains("invalid") ? .auth : .protocol
                throw ProbeFailure(reason: reason, detail: "AUTH refused (\(code))")
            }
        }
        if credentials.database != 0 {
            _ = try expect(command(["SELECT", String(credentials.database)], deadline: deadline), "OK")
        }
    }

    func ping(deadline: Deadline) throws(ProbeFailure) {
        try expect(command(["PING"], deadline: deadline), "PONG")
    }

    /// Role, connected clients and used memory from `INFO`, as gauges.
    func info(deadline: Deadline) throws(ProbeFailure) -> [ProbeMeasurement] {
        // Plain `INFO` (the default sections hold clients, memory and
        // replication): several section names are an error before Redis 7,
        // and ElastiCache 6.2 is common. About 4 KB a run.
        let reply = try command(["INFO"], deadline: deadline)
        if case .error(let message) = reply {
            throw ProbeFailure(reason: .protocol, detail: "error reply (\(Self.errorCode(message)))")
        }
        guard case .bulk(let body?) = reply else { throw ProbeFailure(reason: .protocol, detail: "unexpected reply to INFO") }
        var fields: [Substring: Substring] = [:]
        for line in String(decoding: body, as: UTF8.self).split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon]] = line[line.index(after: colon)...]
        }
        var measurements: [ProbeMeasurement] = []
        if let clients = fields["connected_clients"].flatMap({ Double($0) }) {
            measurements.append(ProbeMeasurement(metric: "vigil_redis_connected_clients",
                                                 help: "Clients connected to Redis (INFO connected_clients).",
                                                 labels: [:], value: clients))
        }
        if let memory = fields["used_memory"].flatMap({ Double($0) }) {
            measurements.append(ProbeMeasurement(metric: "vigil_redis_used_memory_bytes",
                                                 help: "Memory Redis uses (INFO used_memory).", labels: [:], value: memory))
        }
        if let role = fields["role"] {
            let known = role == "master" ? "master" : role == "slave" || role == "replica" ? "replica" : "other"
            for candidate in ["master", "replica", "other"] {
                measurements.append(ProbeMeasurement(metric: "vigil_redis_role", help: "Redis replication role: 1 for the current one.",
                                                     labels: ["role": candidate], value: candidate == known ? 1 : 0))
            }
        }
        return measurements
    }

    private func expect(_ reply: RESPValue, _ expected: String) throws(ProbeFailure) {
        switch reply {
        case .simple(expected): return
        case .error(let message) where message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS"):
            throw ProbeFailure(reason: .auth, detail: "refused (\(Self.errorCode(message)))")
        case .error(let message): throw ProbeFailure(reason: .protocol, detail: "error reply (\(Self.errorCode(message))), wanted \(expected)")
        default: throw ProbeFailure(reason: .protocol, detail: "unexpected reply, wanted \(expected)")
        }
    }

    func command(_ arguments: [String], deadline: Deadline) throws(ProbeFailure) -> RESPValue {
        isUsable = false
        let reply = try exchange(arguments, deadline: deadline)
        isUsable = true
        return reply
    }

    /// The leading word of a Redis error (`ERR`, `WRONGPASS`, `NOAUTH`), the only part reported.
    static func errorCode(_ message: String) -> String {
        let word = message.prefix { $0.isLetter && $0.isUppercase }.prefix(24)
        return word.isEmpty ? "ERR" : String(word)
    }

    private func exchange(_ arguments: [String], deadline: Deadline) throws(ProbeFailure) -> RESPValue {
        var request = Array("*\(arguments.count)\r\n".utf8)
        for argument in arguments {
            request += Array("$\(argument.utf8.count)\r\n".utf8) + Array(argument.utf8) + [13, 10]
        }
        try socket.write(request, deadline: deadline)
        return try socket.readReply(into: &buffer, limit: Self.maxReplyBytes, deadline: deadline) { (bytes) throws(ProbeFailure) in
            switch reader.parse(bytes) {
            case .value(let value, let consumed): (value, consumed)
            case .needMore: nil
            case .invalid(let why): throw ProbeFailure(reason: .protocol, detail: "bad RESP reply: \(why)")
            }
        }
    }
}
