import VigilAWS
import VigilPlatform

/// Moves an application's dotenv variables into Secrets Manager.
///
/// A variable named as a configured item's `env` becomes that item's
/// secret, as the JSON keys the probes read (`postgres://` URLs become
/// `username`, `password`, `host`, `port`, `dbname`; `redis://` and
/// `rediss://` URLs `host`, `port`, `password`, `db`, `tls`; JSON is kept).
/// With `all`, every other variable goes to `<prefix>/<environment>/<group>`,
/// the group being its name up to the first `_`, lower-cased
/// (`STRIPE_API_KEY` -> `stripe`), as a JSON object of the variables.
/// Secrets are created when missing and given a new version only when the
/// value differs; the request token is derived from the secret and the
/// value, so a retried or repeated run creates nothing twice.
public struct SecretsMigration: Sendable {
    public enum Action: String, Sendable { case create, update, unchanged }

    /// One secret the file maps to.
    public struct Target: Sendable {
        public var secretID: String
        public var variables: [String]
        public var action: Action
        let value: String
    }

    public var targets: [Target] = []
    /// Variables not migrated, and why.
    public var skipped: [(variable: String, reason: String)] = []

    public struct Failure: Error, CustomStringConvertible {
        public var secretID: String
        public var error: AWSError
        public var description: String { "\(secretID): \(error.code): \(error.message)" }
    }

    /// Maps the file's variables to secrets and reads what each holds now.
    public init(_ file: DotEnv, items: [SecretsConfiguration.Item], all: Bool, prefix: String, environment: String,
                aws: AWSClient) throws(Failure) {
        var grouped: [(secretID: String, variables: [String], json: String)] = []
        var consumed: Set<String> = []
        for item in items {
            guard let name = item.fallbackVariable, let value = file[name] else { continue }
            consumed.insert(name)
            do throws(CredentialsError) {
                grouped.append((item.secretID, [name], try Self.json(value.revealed(), variable: name)))
            } catch {
                skipped.append((name, "\(error) (secrets.items.\(item.name) expects JSON or a postgres://, redis:// or rediss:// URL)"))
            }
        }
        var groups: [String: [(String, String)]] = [:]
        for variable in file.variables where !consumed.contains(variable.name) {
            let group = variable.name.prefix { $0 != "_" }.lowercased()
            guard all else {
                skipped.append((variable.name, "not the env of a secrets.items entry (--all puts it in \(prefix)/\(environment)/\(group))"))
                continue
            }
            groups[group, default: []].append((variable.name, variable.value.revealed()))
        }
        for (group, variables) in groups.sorted(by: { $0.key < $1.key }) {
            let json = JSONWriter.object(variables.sorted { $0.0 < $1.0 }.map { ($0.0, JSONWriter.quote($0.1)) })
            grouped.append(("\(prefix)/\(environment)/\(group)", variables.map(\.0).sorted(), json))
        }
        let api = SecretsManagerAPI(aws: aws)
        for entry in grouped {
            let action: Action
            do throws(AWSError) {
                action = try api.getSecretValue(entry.secretID).value == entry.json ? .unchanged : .update
            } catch where error.code == "ResourceNotFoundException" {
                action = .create
            } catch {
                throw Failure(secretID: entry.secretID, error: error)
            }
            targets.append(Target(secretID: entry.secretID, variables: entry.variables, action: action, value: entry.json))
        }
    }

    /// Creates and updates what the plan says, in order; stops at the first failure.
    public func apply(aws: AWSClient, kmsKeyID: String?, tags: [(key: String, value: String)],
                      progress: (Target) -> Void) throws(Failure) {
        let api = SecretsManagerAPI(aws: aws)
        for target in targets where target.action != .unchanged {
            let token = Self.requestToken()
            do throws(AWSError) {
                if target.action == .create {
                    try api.createSecret(target.secretID, value: target.value, token: token, kmsKeyID: kmsKeyID, tags: tags)
                } else {
                    try api.putSecretValue(target.secretID, value: target.value, token: token)
                }
            } catch {
                throw Failure(secretID: target.secretID, error: error)
            }
            progress(target)
        }
    }

    /// A random version id (`ClientRequestToken`) for one write; the AWS
    /// client sends it again on a retry, so a retried call makes no second
    /// version, and a repeated run finds the value unchanged. Not derived
    /// from the value: the version id is readable with DescribeSecret alone
    /// (a hash of a guessable password could be checked offline), and a value
    /// moved back to an earlier one would carry that version's token, which
    /// AWS ignores instead of making it current again.
    static func requestToken() -> String {
        let hex = Array(Crypto.hex((0..<16).map { _ in UInt8.random(in: .min ... .max) }))
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(hex[$0]) }.joined(separator: "-")
    }

    /// The secret's JSON for a variable's value: JSON objects as they are, connection URLs as the probes' keys.
    static func json(_ value: String, variable: String) throws(CredentialsError) -> String {
        if value.hasPrefix("{") {
            guard TypedCredentials.members(value) != nil else { throw .malformed(source: variable, reason: "not a JSON object") }
            return value
        }
        switch value.prefix(while: { $0 != ":" }) {
        case "postgres", "postgresql": return TypedCredentials.json(try ConnectionURL.database(value, source: variable))
        case "redis", "rediss": return TypedCredentials.json(try ConnectionURL.redis(value, source: variable))
        default: throw .malformed(source: variable, reason: "not JSON or a connection URL")
        }
    }
}
