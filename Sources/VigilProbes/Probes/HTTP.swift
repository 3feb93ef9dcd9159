import VigilConfig
import VigilCurl
import VigilPlatform
import VigilResults
import VigilSecrets

/// HTTP probe: one request (GET or HEAD) a run over libcurl (the handle
/// and its connection kept between runs). Up when the status is one of
/// `expect_status`. A 401 or 403 outside it means the credential Vigil holds
/// was refused: the secrets the headers use are refreshed by force and the
/// request is tried once more, as the database and Redis probes do after an
/// authentication failure. Header values are built per run and never kept,
/// logged or shown; the failure detail holds the status only.
public final class HTTPProbe: KindProbe {
    public static let name = "http"
    public static let summary = "An HTTP(S) endpoint: answers with the expected status and accepts the credential sent."
    public static let defaultCritical = true
    public static let credentials = KindCredentials.optional
    public static let settings = [
        KindSetting("url", .url, required: true, help: "http: the URL to request (`http://` or `https://`)."),
        KindSetting("method", default: "GET", .choice(["GET", "HEAD"]), help: "http: `GET` or `HEAD`."),
        KindSetting("expect_status", default: "200-299", .statuses,
                    help: "http: the statuses that count as up: `200`, `200-299` or a comma list of both."),
        KindSetting("headers.*", .any, help: "http: request headers; `${secret:<item>.<key>}` in a value is replaced by that secret's key, "
                        + "`${secret:<key>}` by a key of the target's own `secret`."),
        KindSetting("ca_file", .any, help: caFileHelp),
        KindSetting("unix_socket", .absolutePath,
                    help: "http: connect through this Unix socket (an absolute path) instead of to the URL's host."),
    ]

    public struct Settings: Sendable {
        public var url: String
        public var method: String
        public var expect: StatusRanges
        public var headers: [(name: String, value: String)]
        public var caFile: String?
        public var unixSocket: String?

        public init(url: String, method: String = "GET", expect: StatusRanges, headers: [(name: String, value: String)] = [],
                    caFile: String? = nil, unixSocket: String? = nil) {
            (self.url, self.method, self.expect, self.headers, self.caFile, self.unixSocket) = (url, method, expect, headers, caFile, unixSocket)
        }
    }

    public static func read(_ values: KindValues) -> Settings? {
        guard let url = values.text("url"), let method = values.text("method"), let expect = values.statuses("expect_status") else { return nil }
        return Settings(url: url, method: method, expect: expect, headers: values.headers, caFile: values.nonEmpty("ca_file"),
                        unixSocket: values.nonEmpty("unix_socket"))
    }

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
    /// The CAs its certificate is verified with (nil: the system's).
    private let caFile: String?
    /// The server's certificates at the kept connection's handshake (libcurl
    /// reports them only on the exchange that shook hands).
    private let certificate = Locked<CertificateExpiry?>(nil)

    public init(target: ProbeTarget<Settings>, context: ProbeContext) {
        let settings = target.settings
        name = target.name
        url = settings.url
        origin = Self.origin(of: url)
        method = settings.method
        expect = settings.expect
        headers = settings.headers.map { ($0.name, SecretReference.parts($0.value, ownItem: target.secret)) }
        let items = Set(settings.headers.flatMap { SecretReference.items(in: $0.value, ownItem: target.secret) })
        sources = Dictionary(uniqueKeysWithValues: items.map { ($0, .secret($0, in: context.secrets) { value, _ in value }) })
        var options = CurlTransport.Options()
        options.caBundle = settings.caFile
        caFile = settings.caFile
        options.unixSocket = settings.unixSocket
        options.maxResponseBytes = 64 << 10  // the status is what counts; a larger body is cut
        options.truncatesBody = true
        options.maxIdleHandles = 1
        options.reportsCertificates = url.lowercased().hasPrefix("https://")
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
        result.certificate = certificate.withLock { $0 }
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
        case .success(let reply):
            if !reply.peerCertificates.isEmpty {
                let expiry = Certificates.verified(pem: reply.peerCertificates, caFile: caFile)
                certificate.withLock { $0 = expiry }
            }
            return reply.status
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
