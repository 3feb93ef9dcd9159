import FoundationEssentials
import VigilCurl
import VigilPlatform

/// Gives the credentials to sign with. Implementations are cheap to call:
/// the chain caches.
public protocol CredentialProvider: Sendable {
    func credentials() throws(AWSError) -> AWSCredentials
    /// Forgets cached credentials the service has rejected (an expired session token).
    func invalidate()
}

extension CredentialProvider {
    public func invalidate() {}
}

/// One place credentials can come from. `load` returns nil when the source
/// is not configured here (its variables or files are absent), so the chain
/// moves on; it throws when the source is configured but fails.
public protocol CredentialSource: Sendable {
    var name: String { get }
    func load() throws(AWSError) -> AWSCredentials?
}

extension AWSError {
    static func credentials(_ source: String, _ why: String) -> AWSError {
        AWSError(code: "CredentialsUnavailable", message: "\(source): \(why)", kind: .configuration)
    }
}

/// Static keys from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// optionally `AWS_SESSION_TOKEN`.
public struct EnvironmentCredentials: CredentialSource {
    public let name = "environment"
    let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) { self.environment = environment }

    public func load() throws(AWSError) -> AWSCredentials? {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty else { return nil }
        guard let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
            throw .credentials(name, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        }
        let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : SecretString($0) }
        return AWSCredentials(accessKeyID: id, secretAccessKey: SecretString(secret), sessionToken: token, source: name)
    }
}

/// The SDKs' default chain, cached: the first configured source wins; its
/// credentials are reused until 5 minutes before they expire, and refreshed
/// in the background from then on, so callers only wait when there are no
/// valid credentials at all.
public final class CredentialChain: CredentialProvider {
    public let sources: [any CredentialSource]
    private let refreshWindow: Double
    private let clock: @Sendable () -> UnixTime
    private let metrics: AWSMetrics?
    private let state = Locked<State>(State())
    /// Serialises loads so a burst of callers triggers one.
    private let loading = Locked<Void>(())

    private struct State {
        var cached: AWSCredentials?
        var refreshing = false
    }

    public init(sources: [any CredentialSource], refreshWindow: Double = 300, metrics: AWSMetrics? = nil,
                clock: @escaping @Sendable () -> UnixTime = { UnixTime.now }) {
        self.sources = sources
        self.refreshWindow = refreshWindow
        self.metrics = metrics
        self.clock = clock
    }

    /// The standard order: environment, web identity, shared files, container, IMDS.
    /// `endpoints`: where web identity reaches STS (`aws.sts_endpoint`, `AWS_ENDPOINT_URL_STS`).
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment,
                                transport: any HTTPTransport = CurlTransport(), region: String?,
                                endpoints: EndpointResolver? = nil, metrics: AWSMetrics? = nil) -> CredentialChain {
        CredentialChain(sources: [
            EnvironmentCredentials(environment: environment),
            WebIdentityCredentials(environment: environment, region: region, transport: transport,
                                   endpoints: endpoints ?? EndpointResolver(environment: environment)),
            ProfileCredentials(environment: environment),
            ContainerCredentials(environment: environment, transport: transport),
            IMDSCredentials(environment: environment, transport: transport),
        ], metrics: metrics)
    }

    public func credentials() throws(AWSError) -> AWSCredentials {
        let now = clock()
        let (cached, startRefresh) = state.withLock { state -> (AWSCredentials?, Bool) in
            guard let cached = state.cached else { return (nil, false) }
            guard let expiry = cached.expiration else { return (cached, false) }
            if now.seconds >= expiry.seconds { return (nil, false) }
            let due = now.seconds >= expiry.seconds - refreshWindow && !state.refreshing
            if due { state.refreshing = true }
            return (cached, due)
        }
        if let cached {
            if startRefresh {
                startDetachedThread(name: "aws-credentials") { [self] in
                    _ = try? reload()
                    state.withLock { $0.refreshing = false }
                }
            }
            return cached
        }
        return try reload()
    }

    /// Forgets the cached credentials (after the service rejected them).
    public func invalidate() { state.withLock { $0.cached = nil } }

    private func reload() throws(AWSError) -> AWSCredentials {
        try loading.withLock { _ throws(AWSError) -> AWSCredentials in
            if let fresh = state.withLock({ $0.cached }), let expiry = fresh.expiration,
               clock().seconds < expiry.seconds - refreshWindow {
                return fresh  // another caller loaded while we waited
            }
            for source in sources {
                if let credentials = try source.load() {
                    state.withLock { $0.cached = credentials }
                    metrics?.credentialsExpire(at: credentials.expiration)
                    return credentials
                }
            }
            throw .credentials("credential chain", "no source configured (tried \(sources.map(\.name).joined(separator: ", ")))")
        }
    }
}
