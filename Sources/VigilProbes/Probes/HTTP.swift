import VigilAWS
import VigilPlatform
import VigilSecrets

/// HTTP probe: one request (GET or HEAD) a run over libcurl (the handle
/// and its connection kept between runs). Up when the status is one of
/// `expect_status`. A 401 or 403 outside it means the credential Vigil holds
/// was refused: the secrets the headers use are refreshed by force and the
/// request is tried once more, as the database and Redis probes do after an
/// authentication failure. Header values are built per run and never kept,
/// logged or shown; the failure detail holds the status only.
public final class HTTPProbe: Probe {
    public let name: String
    public let failureReasons = ProbeReason.connectionFailures + [.unexpectedStatus]
    private let url: String
    /// `scheme://host:port` of `url` (the port spelled out): its target.
    private let origin: String
    private let method: String
    private let expect: StatusRanges
    private let headers: [(name: String, value: [SecretReference.Part])]
    /// The secret items the headers refer to, by name: refreshed by force after a 401/403.
    private let sources: [String: CredentialsSource<SecretValue>]
    private let transport: CurlTransport

    init(target: ProbeTarget, context: ProbeContext) {
        name = target.name
        url = target.settings["url"] ?? ""
        origin = Self.origin(of: url)
        method = target.settings["method"] ?? "GET"
        expect = StatusRanges(target.settings["expect_status"] ?? "") ?? StatusRanges("200-299")!
        headers = target.headers.map { ($0.name, SecretReference.parts($0.value, ownItem: target.secret)) }
        let items = Set(target.headers.flatMap { SecretReference.items(in: $0.value, ownItem: target.secret) })
        sources = Dictionary(uniqueKeysWithValues: items.map { ($0, .secret($0, in: context.secrets) { value, _ in value }) })
        var options = CurlTransport.Options()
        options.caBundle = target.settings["ca_file"].nonEmpty
        options.unixSocket = target.settings["unix_socket"].nonEmpty
        options.maxResponseBytes = 64 << 10  // the status is what counts; a larger body is cut
        options.truncatesBody = true
        options.maxIdleHandles = 1
        transport = CurlTransport(options: options)
    }

    public func run(timeout: Duration) -> ProbeResult {
        let deadline = Deadline(after: timeout)
        let timer = PhaseTimer()
        let attempt = { () throws(ProbeFailure) in try self.request(deadline, timer) }
        // Without secrets in the headers a retry would send the same request again.
        var result = sources.isEmpty ? measure(attempt) : measureRefreshingCredentials({ refreshSecrets(deadline) }, accepted: {
            for source in sources.values { source.accepted() }
        }, attempt)
        result.phases = timer.phases
        result.target = origin
        return result
    }

    /// One request: returns when its status is expected.
    private func request(_ deadline: Deadline, _ timer: PhaseTimer) throws(ProbeFailure) {
        let request = HTTPRequestSpec(method: method, url: url, headers: try resolvedHeaders(deadline),
                                      timeout: max(0.001, deadline.remainingSeconds))
        let status = try timer.time("request") { () throws(ProbeFailure) in try perform(request) }
        guard !expect.contains(status) else { return }
        if status == 401 || status == 403 { throw ProbeFailure(reason: .auth, detail: "HTTP \(status): the credential was refused") }
        throw ProbeFailure(reason: .unexpectedStatus, detail: "HTTP \(status)")
    }

    private func perform(_ request: HTTPRequestSpec) throws(ProbeFailure) -> Int {
        switch transport.perform(request) {
        case .success(let reply): return reply.status
        case .failure(.timeout): throw ProbeFailure(reason: .timeout, detail: "no answer in time")
        case .failure(.dns): throw ProbeFailure(reason: .dns, detail: "cannot resolve the host")
        case .failure(.refused): throw ProbeFailure(reason: .refused, detail: "connection refused")
        case .failure(.tls(let why)): throw ProbeFailure(reason: .tls, detail: why)
        case .failure(.network(let why)): throw ProbeFailure(reason: .protocol, detail: why)
        case .failure(.responseTooLarge): throw ProbeFailure(reason: .protocol, detail: "response too large")  // not with truncatesBody
        }
    }

    /// Header values with their secret references replaced.
    private func resolvedHeaders(_ deadline: Deadline) throws(ProbeFailure) -> [(name: String, value: String)] {
        var resolved: [(name: String, value: String)] = []
        for header in headers {
            var value = ""
            for part in header.value {
                switch part {
                case .text(let text): value += text
                case .reference(let item, let key):
                    do throws(CredentialsError) {
                        guard let source = sources[item] else { throw .unavailable("no secret \(item)") }  // every item has one
                        value += try TypedCredentials.field(try source.fetch(deadline.remainingSeconds), key: key).revealed()
                    } catch {
                        throw ProbeFailure(reason: .credentialsUnavailable, detail: "header \(header.name): \(error)")
                    }
                }
            }
            resolved.append((header.name, value))
        }
        return resolved
    }

    private func refreshSecrets(_ deadline: Deadline) {
        for source in sources.values { source.refresh(deadline.remainingSeconds) }
    }

    /// `https://api.example.com/v1?x` -> `https://api.example.com:443`: no
    /// path, query or user info (where a credential could be).
    static func origin(of url: String) -> String {
        guard let parts = URLParts(url) else { return url }  // the configuration lets only http(s) URLs through
        let explicitPort = HostPort(String(parts.authority)).map { !$0.host.isEmpty } ?? false
        let hostPort = explicitPort ? String(parts.authority) : "\(parts.authority):\(parts.scheme == "https" ? 443 : 80)"
        return "\(parts.scheme)://\(hostPort)"
    }
}
