import VigilAWS
import VigilPlatform

/// Moves an application's dotenv variables into Secrets Manager, never
/// undoing what happened in AWS since.
///
/// A variable named as a configured item's `env` becomes that item's
/// secret, as the JSON keys the probes read (`postgres://` URLs become
/// `username`, `password`, `host`, `port`, `dbname`; `redis://` and
/// `rediss://` URLs `host`, `port`, `password`, `db`, `tls`; a URL's query
/// parameters keys of their own; JSON is kept). With `all`, every other
/// variable goes to `<prefix>/<environment>/<group>`, the group being its
/// name up to the first `_`, lower-cased (`STRIPE_API_KEY` -> `stripe`).
///
/// Every version it writes carries the staging label `vigil-migrated`. A
/// secret whose AWSCURRENT version lacks it was changed in AWS since (a
/// rotation, a console edit) or never written by the migration, and is
/// skipped unless `force`; so is one with a rotation in progress. Keys in
/// AWS that the file lacks are kept unless `prune`.
public struct SecretsMigration: Sendable {
    /// The staging label of the versions the migration wrote.
    public static let stage = "vigil-migrated"

    public enum Action: Sendable, Equatable {
        case create, update, unchanged
        case skip(Skip)
    }

    /// Why a secret that differs from the file is left as it is.
    public enum Skip: String, Sendable {
        case changedInAWS = "AWS changed it since vigil migrate wrote it (a rotation or an edit): --force replaces it"
        case rotating = "a rotation is in progress (a version is AWSPENDING): --force replaces it"
        case notAnObject = "AWS holds a value that is not a JSON object: --force replaces it"
    }

    public struct Options: Sendable {
        public var all = false
        public var force = false
        public var prune = false
        public var prefix: String
        public var environment: String

        public init(all: Bool, force: Bool, prune: Bool, prefix: String, environment: String) {
            (self.all, self.force, self.prune, self.prefix, self.environment) = (all, force, prune, prefix, environment)
        }
    }

    /// Key names, never values: what a write does to the secret's keys.
    public struct KeyChanges: Sendable, Equatable {
        public var added: [String] = []
        public var changed: [String] = []
        public var removed: [String] = []
        /// In AWS, not in the file, and kept (no `prune`).
        public var kept: [String] = []
    }

    /// One secret the file maps to.
    public struct Target: Sendable {
        public var secretID: String
        public var variables: [String]
        public var action: Action
        public var keys: KeyChanges
        let value: String
    }

    public var targets: [Target] = []
    /// Variables not migrated, and why.
    public var skipped: [(variable: String, reason: String)] = []

    public struct Failure: Error, CustomStringConvertible {
        public var secretID: String
        public var error: AWSError
        public var description: String {
            let hint = error.code.hasPrefix("AccessDenied") ? " (the identity needs what `vigil iam-policy --for migrate` prints)" : ""
            return "\(secretID): \(error.code): \(error.message)\(hint)"
        }
    }

    /// Maps the file's variables to secrets and compares each with what AWS holds now.
    public init(_ file: DotEnv, items: [SecretsConfiguration.Item], options: Options, aws: AWSClient) throws(Failure) {
        let api = SecretsManagerAPI(aws: aws)
        for entry in grouped(file, items: items, options: options) {
            targets.append(try Self.plan(entry, options: options, api: api))
        }
    }

    /// The secrets the file's variables make: (secret, variables, JSON).
    private mutating func grouped(_ file: DotEnv, items: [SecretsConfiguration.Item], options: Options)
        -> [(secretID: String, variables: [String], json: JSONMembers)] {
        var grouped: [(secretID: String, variables: [String], json: JSONMembers)] = []
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
        let home = "\(options.prefix)/\(options.environment)"
        for variable in file.variables where !consumed.contains(variable.name) {
            let group = variable.name.prefix { $0 != "_" }.lowercased()
            guard options.all else {
                skipped.append((variable.name, "not the env of a secrets.items entry (--all puts it in \(home)/\(group))"))
                continue
            }
            groups[group, default: []].append((variable.name, variable.value.revealed()))
        }
        for (group, variables) in groups.sorted(by: { $0.key < $1.key }) {
            let members = variables.sorted { $0.0 < $1.0 }.map { (key: $0.0, raw: JSONWriter.quote($0.1)) }
            grouped.append(("\(home)/\(group)", variables.map(\.0).sorted(), JSONMembers(members: members)))
        }
        return grouped
    }

    /// What to do with one secret: its stages say whether AWS changed it, its value which keys differ.
    private static func plan(_ entry: (secretID: String, variables: [String], json: JSONMembers), options: Options,
                             api: SecretsManagerAPI) throws(Failure) -> Target {
        func target(_ action: Action, _ keys: KeyChanges, _ value: JSONMembers) -> Target {
            Target(secretID: entry.secretID, variables: entry.variables, action: action, keys: keys, value: value.text)
        }
        let stages: [String: [String]]
        do throws(AWSError) {
            stages = try api.versionStages(entry.secretID)
        } catch where error.code == "ResourceNotFoundException" {
            return target(.create, KeyChanges(added: entry.json.keys), entry.json)
        } catch {
            throw Failure(secretID: entry.secretID, error: error)
        }
        guard let current = stages.first(where: { $0.value.contains("AWSCURRENT") }) else {
            return target(.update, KeyChanges(added: entry.json.keys), entry.json)  // created, its first version never written
        }
        let held: JSONMembers?
        do throws(AWSError) {
            held = JSONMembers(try api.getSecretValue(entry.secretID, versionID: current.key).value)
        } catch {
            throw Failure(secretID: entry.secretID, error: error)
        }
        guard let held else {
            return target(options.force ? .update : .skip(.notAnObject), KeyChanges(added: entry.json.keys), entry.json)
        }
        let (merged, keys) = merge(held, entry.json, prune: options.prune)
        guard merged != held else { return target(.unchanged, keys, merged) }
        if !options.force, stages.values.contains(where: { $0.contains("AWSPENDING") }) { return target(.skip(.rotating), keys, merged) }
        if !options.force, !current.value.contains(stage) { return target(.skip(.changedInAWS), keys, merged) }
        return target(.update, keys, merged)
    }

    /// AWS's members in their order with the file's values, the file's new keys after them; AWS's other keys kept unless pruned.
    static func merge(_ held: JSONMembers, _ file: JSONMembers, prune: Bool) -> (JSONMembers, KeyChanges) {
        var keys = KeyChanges()
        var merged: [(key: String, raw: String)] = []
        for member in held.members {
            if let raw = file[member.key] {
                if !JSONMembers.same(member.raw, raw) { keys.changed.append(member.key) }
                merged.append((member.key, raw))
            } else if prune {
                keys.removed.append(member.key)
            } else {
                keys.kept.append(member.key)
                merged.append(member)
            }
        }
        for member in file.members where held[member.key] == nil {
            keys.added.append(member.key)
            merged.append(member)
        }
        return (JSONMembers(members: merged), keys)
    }

    /// Creates and updates what the plan says, in order; stops at the first failure.
    /// Each version written is labelled AWSCURRENT and `vigil-migrated`.
    public func apply(aws: AWSClient, kmsKeyID: String?, tags: [(key: String, value: String)],
                      progress: (Target) -> Void) throws(Failure) {
        let api = SecretsManagerAPI(aws: aws)
        for target in targets where target.action == .create || target.action == .update {
            do throws(AWSError) {
                if target.action == .create { try create(target, api: api, kmsKeyID: kmsKeyID, tags: tags) }
                try api.putSecretValue(target.secretID, value: target.value, token: Self.requestToken(),
                                       stages: ["AWSCURRENT", Self.stage])
            } catch {
                throw Failure(secretID: target.secretID, error: error)
            }
            progress(target)
        }
    }

    /// The secret without a version: its first is written like every later one, labelled.
    /// A create retried after AWS made it finds the secret, still without a version.
    private func create(_ target: Target, api: SecretsManagerAPI, kmsKeyID: String?,
                        tags: [(key: String, value: String)]) throws(AWSError) {
        do {
            try api.createSecret(target.secretID, kmsKeyID: kmsKeyID, tags: tags)
        } catch where error.code == "ResourceExistsException" {
            guard try api.versionStages(target.secretID).isEmpty else { throw error }
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

    /// The secret's members for a variable's value: a JSON object as it is,
    /// a connection URL as the probes' keys plus its query parameters.
    static func json(_ value: String, variable: String) throws(CredentialsError) -> JSONMembers {
        if value.hasPrefix("{") {
            guard let members = JSONMembers(value) else { throw .malformed(source: variable, reason: "not a JSON object") }
            return members
        }
        let typed: String
        switch value.prefix(while: { $0 != ":" }) {
        case "postgres", "postgresql": typed = TypedCredentials.json(try ConnectionURL.database(value, source: variable))
        case "redis", "rediss": typed = TypedCredentials.json(try ConnectionURL.redis(value, source: variable))
        default: throw .malformed(source: variable, reason: "not JSON or a connection URL")
        }
        var members = JSONMembers(typed) ?? JSONMembers(members: [])
        for parameter in ConnectionURL.parameters(value) {
            guard members[parameter.name] == nil else {
                throw .malformed(source: variable, reason: "query parameter \(parameter.name) is given twice, or repeats a part of the URL: keep one")
            }
            members.members.append((parameter.name, JSONWriter.quote(parameter.value)))
        }
        return members
    }
}
