import ArgumentParser
import Logging
import VigilConfig
import VigilProbes
import VigilSecrets

struct SecretsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets", abstract: "Inspect the secrets Vigil serves (values only on explicit request).",
        subcommands: [SecretsList.self, SecretsGet.self, SecretsMigrate.self])
}

struct SecretsList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Load every configured secret and print name, id, source, region, version, age, state and lifecycle findings "
            + "(DescribeSecret: deletion scheduled, rotation stuck or overdue, replicas out of sync); never values. "
            + "Exits 1 when a required secret is missing.")

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let config = try options.load()
        let client = SecretsSetup.client(config: config, registry: nil, logger: quietLogger)
        client.preload()
        // Read each as the probes (and `vigil check`) do: where AWS failed, the environment fallback is taken and shown.
        for item in client.configuration.items { _ = try? client.get(item.name, maxWait: 0) }
        client.describeItems()
        let statuses = client.statuses()
        let rows = statuses.map { status in
            [status.name, status.secretID, status.source?.rawValue ?? "-",
             (status.region ?? "-") + (status.fromReplica ? " (replica)" : ""),
             (status.versionID ?? "-") + (status.pending ? " (AWSPENDING)" : ""),
             status.age.map { "\(Int($0))s" } ?? "-", status.state.rawValue + (status.lastError.map { " (\($0))" } ?? ""),
             status.findings.isEmpty ? "-" : status.findings.map(\.rawValue).joined(separator: ",")]
        }
        print(TextTable.render(header: ["NAME", "SECRET ID", "SOURCE", "REGION", "VERSION", "AGE", "STATE", "FINDINGS"], rows: rows))
        if statuses.contains(where: { $0.required && $0.state == .missing }) { throw ExitCode.failure }
    }
}

struct SecretsGet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Fetch one secret and print its metadata; its value only with --reveal (to stdout). "
            + "With --id, no configuration file is needed: region, endpoint and credentials come from the AWS environment.")

    @Argument(help: "Logical name of a configured secret.")
    var name: String?

    @Option(name: .customLong("id"), help: "A Secrets Manager id or ARN, instead of a configured name.")
    var secretID: String?

    @Flag(help: "Print the secret value to stdout.")
    var reveal = false

    @OptionGroup var options: ConfigOptions

    func validate() throws {
        guard (name == nil) != (secretID == nil) else { throw ValidationError("give either NAME or --id SECRET_ID") }
    }

    func run() throws {
        let client: SecretsClient
        let lookup: String
        if let secretID {
            let config = try VigilConfig.load(file: nil, kinds: ProbeCatalog.kinds)
            guard let aws = SecretsSetup.aws(config: config.aws, registry: nil) else {
                throw ValidationError("no AWS region: set AWS_REGION")
            }
            client = SecretsSetup.client(SecretsConfiguration(items: [.init(name: secretID, secretID: secretID)]), aws: aws, config.aws,
                                         registry: nil, environment: [:], logger: quietLogger)
            lookup = secretID
        } else {
            client = SecretsSetup.client(config: try options.load(), registry: nil, logger: quietLogger)
            lookup = name ?? ""
        }
        let secret: SecretValue
        do throws(SecretsError) {
            secret = try client.get(lookup)
        } catch where error.reason == .unknownSecret {
            let names = client.configuration.items.map(\.name).joined(separator: ", ")
            throw reportFailure("no configured secret named \(lookup): the configuration has \(names.isEmpty ? "none" : names) "
                                + "(secrets.items; or give a Secrets Manager id with --id)")
        } catch {
            throw reportFailure(error)
        }
        if reveal {
            print(secret.value.revealed())
        } else {
            print(TextTable.render(header: ["NAME", "SECRET ID", "SOURCE", "VERSION", "LENGTH"],
                                   rows: [[secret.name, secret.secretID, secret.source.rawValue, secret.versionID ?? "-",
                                           "\(secret.value.revealed().utf8.count) bytes"]]))
        }
    }
}

/// The CLI's tables report; only errors go to stderr, through the error path.
let quietLogger = Logger(label: "vigil.cli") { _ in SwiftLogNoOpLogHandler() }
