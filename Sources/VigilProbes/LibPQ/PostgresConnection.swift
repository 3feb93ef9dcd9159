internal import CLibPQ
import Glibc
import VigilPlatform
import VigilResults
import VigilSecrets

/// A libpq connection, owned: opened without blocking past a deadline,
/// closed on deinit. Only this folder sees libpq types.
final class PostgresConnection {
    private let handle: OpaquePointer
    /// Whether the session is encrypted (`sslmode=prefer` falls back to
    /// plain text), and the certificates the server presented.
    private(set) var usesTLS = false
    private(set) var certificate: CertificateExpiry?

    /// Connects with non-blocking libpq calls so the deadline holds even when
    /// the server accepts the TCP connection and never answers. Nothing but
    /// libpq's standard startup parameters is sent (user, database,
    /// `application_name`): PgBouncer closes a client that sends `options`
    /// ("unsupported startup parameter") and RDS Proxy refuses every
    /// command-line option. The server-side bound is set per query instead.
    init(_ credentials: DatabaseCredentials, tls: PostgresTLS, deadline: Deadline, connectTimeout: Duration) throws(ProbeFailure) {
        var parameters: [(String, String)] = [
            ("port", String(credentials.port)),
            ("user", credentials.username), ("password", credentials.password.revealed()),
            ("dbname", credentials.database), ("sslmode", tls.mode),
            // libpq's own bound (whole seconds, at least 2) backs up the deadline polled below.
            ("application_name", "vigil"),
            ("connect_timeout", String(max(2, Int(connectTimeout.components.seconds) + 1))),
        ]
        // libpq 15 looks only in ~/.postgresql/root.crt: "empty = the system's" is given here.
        if let root = tls.rootCertificate ?? (tls.mode.hasPrefix("verify") ? SystemCABundle.path : nil) {
            parameters.append(("sslrootcert", root))
        }
        parameters += try Self.hostParameters(credentials.host, port: credentials.port, deadline: deadline)
        let started: OpaquePointer? = withCStrings(parameters.map(\.0)) { keys in
            withCStrings(parameters.map(\.1)) { values in PQconnectStartParams(keys, values, 0) }
        }
        guard let started else { throw ProbeFailure(reason: .protocol, detail: "libpq: out of memory") }
        handle = started
        // Refused or unusable parameters fail at once, before any socket exists.
        if PQstatus(handle) == CONNECTION_BAD { throw classify(errorMessage) }
        var state = PGRES_POLLING_WRITING
        while state != PGRES_POLLING_OK {
            guard state != PGRES_POLLING_FAILED else { throw classify(errorMessage) }
            let fd = PQsocket(handle)
            guard fd >= 0 else { throw classify(errorMessage) }
            let events = Int16(state == PGRES_POLLING_READING ? POLLIN : POLLOUT)
            guard deadline.wait(fd: fd, for: events) else {
                throw ProbeFailure(reason: .timeout, detail: "connect did not complete in time")
            }
            state = PQconnectPoll(handle)
        }
        usesTLS = PQsslInUse(handle) == 1
        if usesTLS, let ssl = PQsslStruct(handle, "OpenSSL") { certificate = Certificates.met(by: OpaquePointer(ssl)) }
    }

    deinit { PQfinish(handle) }

    /// libpq resolves `host` inside PQconnectPoll, blocking past any deadline:
    /// names are resolved here (bounded) and passed as `hostaddr`, every
    /// address in order, with `host` kept for certificate checks. A socket
    /// directory (`/var/run/postgresql`) needs no lookup.
    private static func hostParameters(_ host: String, port: Int, deadline: Deadline) throws(ProbeFailure) -> [(String, String)] {
        guard !host.hasPrefix("/") else { return [("host", host)] }
        let addresses = try Resolver.resolve(host, port: port, deadline: deadline).map(\.numeric)
        return [("host", Array(repeating: host, count: addresses.count).joined(separator: ",")),
                ("hostaddr", addresses.joined(separator: ","))]
    }

    var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }
    /// The socket, for `ConnectionWatcher`.
    var descriptor: Int32 { PQsocket(handle) }

    /// Runs a query that returns rows, bounded by the deadline.
    func query(_ sql: String, deadline: Deadline) throws(ProbeFailure) {
        guard PQsendQuery(handle, sql) == 1 else { throw classify(errorMessage) }
        var failure: ProbeFailure?
        while true {
            while PQisBusy(handle) == 1 {
                guard deadline.wait(fd: PQsocket(handle), for: Int16(POLLIN)) else {
                    throw ProbeFailure(reason: .timeout, detail: "query did not complete in time")
                }
                guard PQconsumeInput(handle) == 1 else { throw classify(errorMessage) }
            }
            guard let result = PQgetResult(handle) else { break }
            let status = PQresultStatus(result)
            if status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK {
                failure = ProbeFailure(reason: .protocol, detail: String(cString: PQresultErrorMessage(result)).trimmed)
            }
            PQclear(result)
        }
        if let failure { throw failure }
    }

    private var errorMessage: String { String(cString: PQerrorMessage(handle)).trimmed }

    private func classify(_ message: String) -> ProbeFailure {
        let lower = message.lowercased()
        let reason: ProbeReason =
            if lower.contains("password authentication failed") || lower.contains("no password supplied")
                || lower.contains("authentication failed") || lower.contains("role") && lower.contains("does not exist") { .auth }
            else if lower.contains("connection refused") { .refused }
            else if lower.contains("could not translate host name") || lower.contains("name or service not known") { .dns }
            else if lower.contains("ssl") || lower.contains("certificate") { .tls }
            else if lower.contains("timeout") || lower.contains("timed out") { .timeout }
            else { .protocol }
        return ProbeFailure(reason: reason, detail: message)
    }
}

extension String {
    var trimmed: String {
        String(self.split(whereSeparator: \.isNewline).first ?? "")
            .trimmingPrefix("FATAL:  ").description
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicated = strings.map { strdup($0) } + [nil]
    defer { duplicated.forEach { free($0) } }
    return duplicated.map { UnsafePointer($0) }.withUnsafeBufferPointer { body($0.baseAddress!) }
}
