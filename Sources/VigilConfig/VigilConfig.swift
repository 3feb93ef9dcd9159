import FoundationEssentials

/// Vigil's configuration, typed and validated. Build it with `load`, which
/// layers the YAML file, `VIGIL_*` environment variables and flags.
public struct VigilConfig: Sendable {
    public var web: Web
    public var log: Log
    public var probes: Probes
    public var health: Health
    public var aws: AWS
    public var secrets: Secrets
    public var endpoint: Endpoint
    public var cloudWatch: CloudWatch
    /// Where each set key came from, for `vigil config check`.
    public var origins: [String: String]
    /// The effective text of every key (set or default), for `vigil config check`.
    public var effective: [String: String]

    /// Loads and validates. `file` nil means defaults + environment + flags.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                            flags: [String: String] = [:]) throws(ConfigError) -> VigilConfig {
        var raw = RawConfig()
        if let file {
            raw.addYAML(try RawConfig.readText(file, describing: "configuration file"), file: file)
        }
        raw.addEnvironment(environment, knownKeys: Schema.keys)
        raw.addProbeEnvironment(environment, settings: Schema.probeSettingNames)
        for (key, value) in flags { raw.set(key, value, origin: "flag --\(key.replacing("_", with: "-"))") }
        return try VigilConfig(raw: raw)
    }

    public init(raw: RawConfig) throws(ConfigError) {
        var reader = ConfigReader(raw: raw)
        web = Web(&reader)
        log = Log(&reader)
        secrets = Secrets(&reader)
        probes = Probes(&reader, secretItems: secrets.itemNames)
        health = Health(&reader)
        aws = AWS(&reader)
        endpoint = Endpoint(&reader)
        cloudWatch = CloudWatch(&reader, environment: secrets.environment)
        origins = raw.entries.mapValues(\.origin)
        effective = Dictionary(uniqueKeysWithValues: Schema.keys.map { ($0, reader.text($0)) })
        for probe in probes { effective.merge(probe.effective) { $1 } }
        if !reader.problems.isEmpty { throw ConfigError(problems: reader.problems) }
    }
}
