import ArgumentParser
import FoundationEssentials
import Glibc
import Logging
import VigilConfig
import VigilCurl
import VigilEndpoint
import VigilPlatform
import VigilSecrets

/// `vigil exec -- node server.js`: an application that reads `process.env`
/// unchanged gets its secrets there, and is restarted when they rotate
/// (envconsul's and `chamber exec`'s model; docs/exec.md).
struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command with secrets in its environment (each item's env name, a URL rebuilt for postgres and redis "
            + "items, else NAME_KEY per key), restart it when one changes, pass it every signal and exit with its status.",
        discussion: "Values come from the running Vigil's endpoint (its cache and token) when it answers, else from AWS directly. "
            + "They are only ever in the command's environment: never in argv, the log or vigil's own environment.")

    enum Source: String, ExpressibleByArgument, CaseIterable {
        case auto, endpoint, aws
    }

    @Option(name: .customLong("secret"), help: "A secrets.items name to give the command; repeat for several (default: every item).")
    var secrets: [String] = []

    @Option(help: "Send this signal when a secret changes, instead of restarting (for a command that re-reads its secrets itself).")
    var signal: String?

    @Option(name: .customLong("kill-signal"), help: "The signal that stops the command before a restart.")
    var killSignal = "TERM"

    @Option(name: .customLong("kill-timeout"), help: "How long the command has to stop before SIGKILL.")
    var killTimeout = "10s"

    @Option(help: "Where values come from: auto (the endpoint when a Vigil answers there, else AWS), endpoint or aws.")
    var from: Source = .auto

    @Option(name: .customLong("token-file"), help: ArgumentHelp("The endpoint token to read with (an application's own, endpoint.tokens); "
        + "default: the endpoint's (endpoint.token_file or endpoint.token_variables)."))
    var tokenFile: String?

    @OptionGroup var options: ConfigOptions

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command after --: vigil exec -- node server.js") }
        for (flag, name) in [("--signal", signal), ("--kill-signal", killSignal)] where name.map(SignalName.parse) == .some(nil) {
            throw ValidationError("\(flag): \(name ?? "") is not one of " + SignalName.known.keys.sorted().joined(separator: ", "))
        }
        guard DurationParser.parse(killTimeout) != nil else { throw ValidationError("--kill-timeout: expected a duration such as 10s") }
    }

    func run() throws {
        Supervisor.blockSignals()  // before any thread: every thread then inherits the mask
        let config = try options.load()
        let logger = LogSetup.bootstrap(config.log)
        let items = try selected(SecretsSetup.configuration(for: config).items)
        let feed = try feed(config, logger: logger)
        let forms = Dictionary(uniqueKeysWithValues: items.map { ($0.name, Self.form(of: $0, in: config)) })
        let read = { @Sendable () throws(ExecFailure) -> (environment: [String], versions: [String: String]) in
            try Self.environment(items, forms: forms, feed: feed, logger: logger)
        }
        let first: (environment: [String], versions: [String: String])
        do throws(ExecFailure) {
            first = try read()
        } catch {
            throw reportFailure(error)
        }
        logger.info("secrets read", metadata: ["from": "\(feed.description)", "secrets": "\(items.map(\.name).joined(separator: ","))"])
        let supervisor = Supervisor(
            command: command,
            options: .init(onChange: signal.flatMap(SignalName.parse).map { .signal($0) } ?? .restart,
                           killSignal: SignalName.parse(killSignal) ?? SIGTERM, grace: DurationParser.parse(killTimeout) ?? .seconds(10)),
            logger: logger, environment: { () throws(ExecFailure) in try read().environment })
        feed.follow(items, from: first.versions) { supervisor.changed($0) }
        let status: Int32
        do throws(ExecFailure) {
            status = try supervisor.run(first.environment)
        } catch {
            throw reportFailure(error)
        }
        throw ExitCode(status)
    }

    private func selected(_ items: [SecretsConfiguration.Item]) throws -> [SecretsConfiguration.Item] {
        guard !secrets.isEmpty else { return items }
        return try secrets.map { name in
            guard let item = items.first(where: { $0.name == name }) else {
                throw ValidationError("--secret \(name): not a secrets.items name (\(items.map(\.name).joined(separator: ", ")))")
            }
            return item
        }
    }

    /// The endpoint when a Vigil answers there (unless `--from aws`), else a client of its own.
    private func feed(_ config: VigilConfig, logger: Logger) throws -> any SecretFeed {
        if from != .aws, config.endpoint.enabled {
            do {
                let token = try tokenFile.map { try EndpointToken(file: $0, variables: [], environment: [:]) }
                    ?? EndpointToken(file: config.endpoint.tokenFile, variables: config.endpoint.tokenVariables,
                                     environment: ProcessInfo.processInfo.environment)
                let address = config.endpoint.listenAddress
                var transport = CurlTransport.Options()
                transport.unixSocket = address.hasPrefix("unix:") ? String(address.dropFirst(5)) : nil
                let feed = EndpointFeed(base: transport.unixSocket == nil ? "http://\(address)" : "http://localhost",
                                        pathPrefix: config.endpoint.pathPrefix, header: config.endpoint.tokenHeaders[0], token: token,
                                        transport: CurlTransport(options: transport), logger: logger)
                if feed.isServing() || from == .endpoint { return feed }
                logger.info("no Vigil answers at the endpoint: reading from AWS", metadata: ["address": "\(address)"])
            } catch where from == .auto {
                logger.info("no endpoint token: reading from AWS", metadata: ["error": "\(error)"])
            }
        } else if from == .endpoint {
            throw reportFailure("--from endpoint: endpoint.enabled is false in the configuration", exitCode: exitConfigError)
        }
        let client = SecretsSetup.client(config: config, registry: nil, logger: logger)
        client.preload(maxWait: config.aws.timeout.timeInterval)
        return ClientFeed(client: client)
    }

    /// The `.env` form of an item: its `env` name holds a URL when a
    /// postgres or redis target logs in with it, else the value as it is;
    /// an item without `env` gives one variable per key.
    static func form(of item: SecretsConfiguration.Item, in config: VigilConfig) -> SecretEnvironment.Form {
        guard let variable = item.fallbackVariable else { return .keys(prefix: item.name) }
        let kinds = config.probes.filter { ($0.secret ?? $0.name) == item.name }.map { $0.kind.name }
        if kinds.contains("postgres") { return .databaseURL(variable) }
        if kinds.contains("redis") { return .redisURL(variable) }
        return .text(variable)
    }

    /// The application's environment: `vigil exec`'s own with the secrets'
    /// variables set over it; the versions read. An item that is not
    /// required and cannot be read is left out, with a warning.
    static func environment(_ items: [SecretsConfiguration.Item], forms: [String: SecretEnvironment.Form], feed: any SecretFeed,
                            logger: Logger) throws(ExecFailure) -> (environment: [String], versions: [String: String]) {
        var variables: [String: String] = ProcessInfo.processInfo.environment
        var versions: [String: String] = [:]
        for item in items {
            do throws(ExecFailure) {
                let secret = try feed.read(item)
                versions[item.name] = secret.versionID
                do throws(CredentialsError) {
                    for variable in try SecretEnvironment.variables(secret, form: forms[item.name] ?? .keys(prefix: item.name)) {
                        variables[variable.name] = variable.value.revealed()
                    }
                } catch {
                    throw ExecFailure(description: "\(item.name): \(error)")
                }
            } catch where !item.required {
                logger.warning("secret left out of the environment", metadata: ["secret": "\(item.name)", "error": "\(error)"])
            }
        }
        return (variables.map { "\($0.key)=\($0.value)" }, versions)
    }
}
