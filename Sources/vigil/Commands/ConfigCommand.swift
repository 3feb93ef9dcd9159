import ArgumentParser
import VigilConfig

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Configuration tools.", subcommands: [ConfigCheck.self, ConfigReference.self])
}

struct ConfigCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a configuration file (with VIGIL_* overrides) and print the effective settings; exit 78 if invalid.")

    @Argument(help: "The YAML file to check.")
    var file: String

    func run() throws {
        let config = try loadConfiguration(file: file)
        print("\(file): OK")
        for key in Schema.keys {
            let origin = config.origins[key].map { "  # \($0)" } ?? ""
            print("  \(key) = \(config.effective[key] ?? "")\(origin)")
        }
    }
}

struct ConfigReference: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reference", abstract: "Print every configuration key as a Markdown table.")

    func run() { print(Schema.markdownTable()) }
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print version and build information.")

    func run() {
        print("vigil \(BuildInfo.version) (revision \(BuildInfo.revision))")
    }
}
