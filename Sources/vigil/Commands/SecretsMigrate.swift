import ArgumentParser
import Glibc
import VigilConfig
import VigilPlatform
import VigilSecrets

struct SecretsMigrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Move a dotenv file's variables into Secrets Manager: the configured items' env variables as the JSON "
            + "the probes read, with --all the others by group. Reports every variable; never prints a value.")

    @Option(help: "The dotenv file to read.")
    var from: String

    @Flag(help: "Also migrate variables that are no item's env: into <prefix>/<environment>/<group>, the group being the name up to its first _.")
    var all = false

    @Flag(name: .customLong("dry-run"), help: "Print the plan and change nothing.")
    var dryRun = false

    @Flag(help: "Also replace secrets that AWS changed since vigil migrate wrote them (a rotation, an edit), or that have a rotation in progress.")
    var force = false

    @Flag(help: "Remove the keys that a secret holds and the file does not (named in the plan); without it they are kept.")
    var prune = false

    @Flag(help: "Apply without asking (required without a terminal).")
    var yes = false

    @Option(name: .customLong("kms-key-id"), help: "KMS key for secrets created now (default: aws/secretsmanager).")
    var kmsKeyID: String?

    @Option(name: .customLong("tag"), help: "KEY=VALUE tag for secrets created now; repeatable.")
    var tags: [String] = []

    @OptionGroup var options: ConfigOptions

    func validate() throws {
        for tag in tags where !tag.contains("=") || tag.hasPrefix("=") { throw ValidationError("--tag \(tag): expected KEY=VALUE") }
    }

    func run() throws {
        let config = try options.load()
        let file: DotEnv
        do {
            file = try DotEnv(parsing: try readTextFile(from, limit: 1 << 20))
        } catch {
            throw reportFailure("\(from): \(error)", exitCode: 65)  // EX_DATAERR
        }
        for warning in file.warnings { writeStandardError("vigil: \(from): \(warning)\n") }
        guard let aws = SecretsSetup.aws(config: config.aws, registry: nil) else { throw reportFailure("no AWS region: set AWS_REGION") }
        let migration: SecretsMigration
        do throws(SecretsMigration.Failure) {
            let options = SecretsMigration.Options(all: all, force: force, prune: prune, prefix: config.secrets.prefix,
                                                   environment: config.secrets.environment)
            migration = try SecretsMigration(file, items: SecretsSetup.configuration(config.secrets).items, options: options, aws: aws)
        } catch {
            throw reportFailure(error)
        }
        report(migration)
        let changes = migration.targets.filter { $0.action == .create || $0.action == .update }
        let held = migration.targets.count { if case .skip = $0.action { true } else { false } }
        guard !changes.isEmpty else {
            return print(held == 0 ? "nothing to change: every secret already holds these values" : "nothing to change: \(held) secret(s) skipped")
        }
        guard !dryRun else { return print("dry run: nothing changed") }
        guard yes || confirm("apply \(changes.count) change(s) to Secrets Manager?") else {
            throw reportFailure(isatty(0) == 1 ? "not applied" : "no terminal to ask: run again with --yes")
        }
        let tagPairs = tags.map { tag in (key: String(tag.prefix { $0 != "=" }), value: String(tag.drop { $0 != "=" }.dropFirst())) }
        do throws(SecretsMigration.Failure) {
            try migration.apply(aws: aws, kmsKeyID: kmsKeyID, tags: tagPairs) { target in
                print("\(target.action == .create ? "created" : "updated") \(target.secretID)")
            }
        } catch {
            throw reportFailure(error)
        }
    }

    /// Every variable, what becomes of it, and each secret's key names; no values.
    private func report(_ migration: SecretsMigration) {
        var rows: [[String]] = []
        for target in migration.targets {
            let state = switch target.action {
            case .create: "migrate (create)"
            case .update: "migrate (update)"
            case .unchanged: "unchanged"
            case .skip: "skipped"
            }
            let reason = if case .skip(let why) = target.action { "\(target.secretID): \(why.rawValue)" } else { target.secretID }
            rows += target.variables.map { [$0, state, reason] }
        }
        rows += migration.skipped.map { [$0.variable, "skipped", $0.reason] }
        print(TextTable.render(header: ["VARIABLE", "STATE", "SECRET / REASON"], rows: rows))
        for target in migration.targets where target.action != .create {
            let keys = target.keys
            let parts = [("adds", keys.added), ("changes", keys.changed), ("removes", keys.removed),
                         ("keeps", keys.kept)].filter { !$0.1.isEmpty }.map { "\($0.0) \($0.1.joined(separator: ", "))" }
            guard !parts.isEmpty else { continue }
            let note = keys.kept.isEmpty ? "" : " (kept: not in the file; --prune removes them)"
            print("\(target.secretID): \(parts.joined(separator: "; "))\(note)")
        }
    }

    private func confirm(_ question: String) -> Bool {
        guard isatty(0) == 1 else { return false }
        print("\(question) [y/N] ", terminator: "")
        return ["y", "yes"].contains(readLine()?.lowercased() ?? "")
    }
}
