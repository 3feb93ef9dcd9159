import ArgumentParser
import VigilCloudWatch
import VigilConfig
import VigilProbes
import VigilPlatform

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Configuration tools.", subcommands: [ConfigCheck.self, ConfigReference.self])
}

struct ConfigCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a configuration file (with VIGIL_* overrides) and print the effective settings; exit 78 if invalid.")

    @Argument(help: "The YAML file to check (or --config, or $VIGIL_CONFIG).")
    var file: String?

    @OptionGroup var options: ConfigOptions

    func validate() throws {
        if file != nil && options.file != nil { throw ValidationError("give the file once: as the argument or with --config") }
    }

    /// As `serve` loads it: the same file, variables, flags and checks, so what passes here starts there.
    func run() throws {
        var options = options
        options.file = file ?? options.file
        let config = try options.load()
        _ = try WebSecurity.loadOrExit(config.web.configFile)  // as serve will
        if config.endpoint.enabled {
            _ = try EndpointSetup.tokenOrExit(config.endpoint)
            _ = try EndpointSetup.applicationsOrExit(config.endpoint)
        }
        for warning in config.warnings { writeStandardError("vigil: warning: \(warning)\n") }
        print("\(options.resolvedFile ?? "(no file: defaults and VIGIL_* variables)"): OK")
        let known = Set(config.schema.keys)
        for key in config.schema.keys + config.effective.keys.filter({ !known.contains($0) }).sorted() {
            let origin = config.origins[key].map { "  # \($0)" } ?? ""
            print("  \(key) = \(config.effective[key] ?? "")\(origin)")
        }
        if config.cloudWatch.enabled { print(Self.cloudWatchCost(config)) }
    }

    /// What publishing costs in custom metrics: the figure people miss when a
    /// per-instance dimension multiplies it by the fleet.
    static func cloudWatchCost(_ config: VigilConfig) -> String {
        let metrics = CloudWatchPublisher.customMetricCount(probes: config.probes.filter(\.enabled).map(\.name))
        // us-east-1 list price: $0.30 a metric a month for the first 10,000, $0.10 for the next 240,000.
        let monthly = { (instances: Int) -> String in
            let count = Double(metrics * instances)
            return (min(count, 10_000) * 0.30 + max(0, count - 10_000) * 0.10).decimalString(digits: 2)
        }
        let scope = config.cloudWatch.instanceDimension
            ? "per instance (cloudwatch.instance_dimension): 1 instance $\(monthly(1)), 100 $\(monthly(100)), 1000 $\(monthly(1000)) a month"
            : "shared by every instance with the same dimensions: $\(monthly(1)) a month whatever the fleet size"
        return "cloudwatch: \(metrics) custom metrics\(config.cloudWatch.errorCodeDimension ? " (+1 per AWS error code seen)" : ""), \(scope)"
    }
}

struct ConfigReference: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reference", abstract: "Print every configuration key as a Markdown table.")

    func run() { print(Schema(kinds: ProbeCatalog.kinds).markdownTable()) }
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print version and build information.")

    func run() {
        print("vigil \(BuildInfo.version) (revision \(BuildInfo.revision))")
    }
}
