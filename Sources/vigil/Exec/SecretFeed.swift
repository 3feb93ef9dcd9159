import FoundationEssentials
import Glibc
import Logging
import VigilCurl
import VigilEndpoint
import VigilPlatform
import VigilSecrets

/// Where `vigil exec` reads its secrets and learns of a new version.
protocol SecretFeed: Sendable {
    /// What the feed is, for the log: `endpoint 127.0.0.1:2773` or `aws`.
    var description: String { get }
    /// The current value, waiting at most a read's bound.
    func read(_ item: SecretsConfiguration.Item) throws(ExecFailure) -> SecretValue
    /// Calls `changed` (on a thread of the feed's) each time one of `items` serves another version than `versions` had.
    func follow(_ items: [SecretsConfiguration.Item], from versions: [String: String], changed: @escaping @Sendable (String) -> Void)
}

/// Why `vigil exec` could not read a secret: names it and the cause, never a value.
struct ExecFailure: Error, CustomStringConvertible {
    var description: String
}

/// The running Vigil's endpoint: its cache and its token. A change is a
/// long poll (`If-None-Match` with the version held, `wait`) answered 200,
/// which comes the moment Vigil holds another version.
struct EndpointFeed: SecretFeed {
    let base: String
    let pathPrefix: String
    let header: String
    let token: EndpointToken
    let transport: CurlTransport
    let logger: Logger
    /// What one long poll asks to wait: under `endpoint.max_wait`'s default (5 m), so never cut.
    static let wait = 240.0

    var description: String { "endpoint \(base)" }

    /// Answers `/ping` within a second: a running Vigil is there.
    func isServing() -> Bool {
        (try? transport.perform(HTTPRequestSpec(method: "GET", url: base + "/ping", timeout: 1)).get().status) == 200
    }

    func read(_ item: SecretsConfiguration.Item) throws(ExecFailure) -> SecretValue {
        guard let answer = try get(item, holding: nil), let value = answer.value else {
            throw ExecFailure(description: "\(item.name) (\(item.secretID)): the endpoint answered without a value")
        }
        return value
    }

    func follow(_ items: [SecretsConfiguration.Item], from versions: [String: String], changed: @escaping @Sendable (String) -> Void) {
        for item in items {
            startDetachedThread(name: "exec-poll") { [self] in
                var held = versions[item.name]
                var pause: UInt32 = 1
                while true {
                    let asked = SteadyClock.monotonicSeconds()
                    do throws(ExecFailure) {
                        if let answer = try get(item, holding: held, wait: Self.wait), answer.version != held {
                            held = answer.version
                            changed(item.name)
                            pause = 1
                            continue
                        }
                    } catch {
                        // Vigil restarting or down: the application keeps running with what it has.
                        logger.warning("cannot follow the secret", metadata: ["secret": "\(item.name)", "error": "\(error)"])
                    }
                    // Nothing new, and sooner than a long poll waits: Vigil could not hold the poll (a value
                    // with no version, from the environment; a stale one while AWS fails) or failed. Ask again
                    // after a pause (1 s, doubling to 30 s), not at once.
                    if SteadyClock.monotonicSeconds() - asked < 1 {
                        sleep(pause)
                        pause = min(pause * 2, 30)
                    } else {
                        pause = 1
                    }
                }
            }
        }
    }

    /// One read; with `holding` and `wait`, a long poll: nil when it ended 304 (nothing new).
    private func get(_ item: SecretsConfiguration.Item, holding version: String?, wait: Double = 0)
        throws(ExecFailure) -> (version: String?, value: SecretValue?)? {
        token.refresh()  // a token file replaced meanwhile (`vigil token init --rotate`)
        var headers = [(name: header, value: token.current.revealed())]
        var url = base + pathPrefix + item.secretID
        if let version, wait > 0 {
            headers.append((name: "If-None-Match", value: "\"\(version)\""))
            url += "?wait=\(Int(wait))"
        }
        let reply: HTTPReply
        switch transport.perform(HTTPRequestSpec(method: "GET", url: url, headers: headers, timeout: wait + 10)) {
        case .success(let answer): reply = answer
        case .failure(let error): throw ExecFailure(description: "\(item.name): cannot reach Vigil's endpoint at \(base): \(error)")
        }
        if reply.status == 304 { return nil }
        guard reply.status == 200, let document = try? JSONDecoder().decode(Document.self, from: Data(reply.body)),
              let text = document.secretString else {
            // The endpoint's error bodies name the secret and the cause (docs/endpoint.md), never a value.
            let why = reply.status == 200 ? "a binary secret has no text for the environment" : String(decoding: reply.body.prefix(300), as: UTF8.self)
            throw ExecFailure(description: "\(item.name) (\(item.secretID)): the endpoint answered \(reply.status): \(why)")
        }
        return (document.versionID, SecretValue(name: item.name, secretID: item.secretID, value: SecretString(text),
                                                versionID: document.versionID, source: .aws, confirmedAt: nil))
    }

    private struct Document: Decodable {
        var versionID: String?
        var secretString: String?
        enum CodingKeys: String, CodingKey { case versionID = "VersionId", secretString = "SecretString" }
    }
}

/// No Vigil running: a secrets client of `vigil exec`'s own, on the same
/// configuration (AWS, the emergency cache in memory, the environment
/// fallback), refreshing every TTL as `serve`'s does.
struct ClientFeed: SecretFeed {
    let client: SecretsClient
    var description: String { "aws" }

    func read(_ item: SecretsConfiguration.Item) throws(ExecFailure) -> SecretValue {
        do throws(SecretsError) {
            return try client.get(item.name)
        } catch {
            throw ExecFailure(description: "\(error)")
        }
    }

    func follow(_ items: [SecretsConfiguration.Item], from versions: [String: String], changed: @escaping @Sendable (String) -> Void) {
        let held = Locked(versions)
        let names = Set(items.map(\.name))
        client.onStateChange { [client] in
            for status in client.statuses() where names.contains(status.name) {
                guard let version = status.versionID,
                      held.withLock({ $0.updateValue(version, forKey: status.name) }) != version else { continue }
                changed(status.name)
            }
        }
        client.startRefreshing()
    }
}
