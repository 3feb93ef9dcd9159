import FoundationEssentials
import Glibc
import VigilConfig
import VigilPlatform
import VigilResults
import VigilSecrets

/// SMTP probe, for the e-mail credentials applications send with: connect,
/// EHLO, STARTTLS (or TLS from the start), AUTH PLAIN or LOGIN with the user
/// and password of its secret, QUIT. Never a MAIL command: nothing is sent,
/// nothing queued. No connection is kept (mail servers drop idle sessions
/// within minutes, and a login a run is what is checked). A refused login
/// (535) refreshes the secret by force and tries once more, as the database
/// and Redis probes do after a rotation.
public final class SMTPProbe: KindProbe {
    public static let name = "smtp"
    public static let summary = "An SMTP server: connects, STARTTLS, logs in (AUTH PLAIN or LOGIN) with its secret, QUIT; never sends mail."
    public static let defaultCritical = false
    /// JSON keys (`host` and `port` optional: `address` may give them), or a URL `smtp://user:password@host:port`.
    public static let credentials = KindCredentials.required(keys: ["username", "password"])
    public static let settings = [
        KindSetting("address", .hostPort, help: "smtp: `HOST:PORT` of the server; empty = `host` and `port` (default 587) of its secret."),
        KindSetting("tls", default: "starttls", .choice(TLSMode.allCases.map(\.rawValue)),
                    help: "smtp: `starttls` (refused, reason `tls`, when the server does not offer it), `starttls_if_offered`, "
                        + "`implicit` (TLS from the first byte, port 465) or `off`."),
        KindSetting("auth", default: "auto", .choice(["auto", "plain", "login"]),
                    help: "smtp: the AUTH mechanism; `auto` = PLAIN when offered, else LOGIN."),
        KindSetting("ca_file", .any, help: caFileHelp),
        KindSetting("server_name", .any, help: "smtp: name to check in the server's certificate; empty = the host connected to."),
        KindSetting("ehlo_name", .any, help: "smtp: the name Vigil gives in EHLO; empty = this host's name."),
    ]

    /// How TLS is used: the `tls` setting.
    public enum TLSMode: String, CaseIterable, Sendable {
        /// STARTTLS, refused (`tls`) when the server does not offer it.
        case starttls
        /// STARTTLS when offered, else the login in the clear.
        case starttlsIfOffered = "starttls_if_offered"
        /// TLS from the first byte (port 465, "SMTPS").
        case implicit
        case off
    }

    public struct Settings: Sendable {
        public var address: HostPort?
        public var tls: TLSMode
        /// `PLAIN` or `LOGIN`; nil chooses.
        public var mechanism: String?
        public var caFile: String?
        public var serverName: String?
        public var ehloName: String?

        public init(address: HostPort? = nil, tls: TLSMode = .starttls, mechanism: String? = nil, caFile: String? = nil,
                    serverName: String? = nil, ehloName: String? = nil) {
            (self.address, self.tls, self.mechanism, self.caFile, self.serverName, self.ehloName)
                = (address, tls, mechanism, caFile, serverName, ehloName)
        }
    }

    public static func read(_ values: KindValues) -> Settings? {
        guard let tls = values.text("tls").flatMap(TLSMode.init(rawValue:)), let auth = values.text("auth") else { return nil }
        return Settings(address: values.hostPort("address"), tls: tls, mechanism: auth == "auto" ? nil : auth.uppercased(),
                        caFile: values.nonEmpty("ca_file"), serverName: values.nonEmpty("server_name"), ehloName: values.nonEmpty("ehlo_name"))
    }

    public let name: String
    public let failureReasons = ProbeReason.connectionFailures
    private let settings: Settings
    private let credentials: CredentialsSource<SMTPCredentials>

    public init(name: String, settings: Settings, credentials: CredentialsSource<SMTPCredentials>) {
        (self.name, self.settings, self.credentials) = (name, settings, credentials)
    }

    public convenience init(target: ProbeTarget<Settings>, context: ProbeContext) {
        self.init(name: target.name, settings: target.settings,
                  credentials: .secret(target.secret ?? target.name, in: context.secrets, SMTPCredentials.init))
    }

    public func run(timeout: Duration) -> ProbeResult {
        let deadline = Deadline(after: timeout)
        let timer = PhaseTimer()
        var target: HostPort?, usedTLS = false, certificate: CertificateExpiry?
        var result = measureRefreshingCredentials({ credentials.refresh(deadline.remainingSeconds) },
                                                  accepted: credentials.accepted) { () throws(ProbeFailure) in
            let login = try credentials.get(deadline)
            guard let address = settings.address ?? login.address else {
                throw ProbeFailure(reason: .credentialsUnavailable, detail: "no address: set the target's address or host in its secret")
            }
            target = address
            let session = try SMTPConnection(host: address.host, port: address.port, tls: settings.tls,
                                             certificate: (settings.caFile, settings.serverName),
                                             ehloName: settings.ehloName ?? Self.hostName, deadline: deadline, timer: timer)
            (usedTLS, certificate) = (session.usesTLS, session.certificate)
            try timer.time("auth") { () throws(ProbeFailure) in
                try session.login(username: login.username, password: login.password.revealed(), mechanism: settings.mechanism,
                                  deadline: deadline)
            }
            session.quit(deadline: deadline)
        }
        result.phases = timer.phases
        result.target = target?.text
        result.certificate = certificate
        // Whether the login went over TLS (with `starttls_if_offered` it may not
        // have), and the earlier version it used while the secret is malformed.
        result.addFacts(about: name, [("tls", settings.tls == .starttlsIfOffered ? (usedTLS ? "true" : "false") : nil),
                                      ("login_version", credentials.standIn())])
        return result
    }

    /// This host's name, for EHLO.
    static let hostName: String = {
        var bytes = [CChar](repeating: 0, count: 256)
        guard gethostname(&bytes, bytes.count - 1) == 0 else { return "localhost" }
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
}

/// An SMTP login: from a JSON secret (`username`, `password`, and `host`,
/// `port` where the target does not name its `address`) or a URL
/// `smtp://user:password@host:port` (`smtps://` defaults to 465).
public struct SMTPCredentials: Sendable {
    public var address: HostPort?
    public var username: String
    public var password: SecretString

    public init(address: HostPort?, username: String, password: SecretString) {
        (self.address, self.username, self.password) = (address, username, password)
    }

    init(_ secret: SecretValue, requiredKeys: [String]) throws(CredentialsError) {
        let text = secret.value.revealed(), source = "secret \(secret.name)"
        guard text.first == "{" else { self = try Self(url: text, source: source); return }
        guard let json = JSONMembers(text) else { throw .malformed(source: source, reason: "not a JSON object") }
        let string = { (keys: [String]) in keys.lazy.compactMap { json[$0].flatMap(JSONMembers.decodedString) }.first }
        let missing = Set(requiredKeys + ["username", "password"])
            .filter { json[$0] == nil && !($0 == "username" && json["user"] != nil) }.sorted()
        guard missing.isEmpty else {
            throw .malformed(source: source, reason: "missing key\(missing.count > 1 ? "s" : "") \(missing.joined(separator: ", "))")
        }
        guard let username = string(["username", "user"]), let password = string(["password"]) else {
            throw .malformed(source: source, reason: "username and password must be strings")
        }
        let port = json["port"].flatMap { Int($0) ?? JSONMembers.decodedString($0).flatMap { Int($0) } } ?? 587
        address = string(["host", "hostname"]).map { HostPort(host: $0, port: port) }
        (self.username, self.password) = (username, SecretString(password))
    }

    private init(url: String, source: String) throws(CredentialsError) {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme, ["smtp", "smtps"].contains(scheme) else {
            throw .malformed(source: source, reason: "neither a JSON object nor an smtp:// URL")
        }
        guard let user = parts.user, !user.isEmpty, let password = parts.password else {
            throw .malformed(source: source, reason: "no user name and password in the URL")
        }
        address = parts.host.map { HostPort(host: $0, port: parts.port ?? (scheme == "smtps" ? 465 : 587)) }
        (username, self.password) = (user, SecretString(password))
    }
}
