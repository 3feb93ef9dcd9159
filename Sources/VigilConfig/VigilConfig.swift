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
    public var hooks: [Hook]
    /// Where each set key came from, for `vigil config check`.
    public var origins: [String: String]
    /// The effective text of every key (set or default), for `vigil config check`.
    public var effective: [String: String]
    /// The keys it was checked against, its probe kinds' included.
    public let schema: Schema
    /// What loaded but was likely meant otherwise (a misspelt `VIGIL_*` variable): `serve` logs them, `config check` prints them.
    public var warnings: [String] = []

    /// Loads and validates. `file` nil means defaults + environment + flags;
    /// `kinds` are the probe kinds (`ProbeCatalog.kinds`).
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                            flags: [String: String] = [:], kinds: [any ProbeKind.Type]) throws(ConfigError) -> VigilConfig {
        let schema = Schema(kinds: kinds)
        var raw = RawConfig()
        if let file {
            raw.addYAML(try RawConfig.readText(file, describing: "configuration file"), file: file)
        }
        // The Lambda extension's port variable, where nothing of Vigil's names the endpoint's address.
        if let port = environment["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"], !port.isEmpty, raw.entries["endpoint.listen_address"] == nil {
            raw.set("endpoint.listen_address", "127.0.0.1:\(port)", origin: "env PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")
        }
        raw.addEnvironment(environment, knownKeys: schema.keys)
        raw.addProbeEnvironment(environment, settings: schema.probeSettingNames)
        for (key, value) in flags { raw.set(key, value, origin: "flag --\(key.replacing("_", with: "-"))") }
        var config = try VigilConfig(raw: raw, schema: schema)
        config.warnings = schema.misspeltVariables(environment, probeNames: config.probes.map(\.name))
        return config
    }

    public init(raw: RawConfig, schema: Schema) throws(ConfigError) {
        self.schema = schema
        var reader = ConfigReader(raw: raw, schema: schema)
        web = Web(&reader)
        log = Log(&reader)
        secrets = Secrets(&reader)
        probes = Probes(&reader, secretItems: secrets.itemNames)
        health = Health(&reader)
        aws = AWS(&reader)
        endpoint = Endpoint(&reader)
        cloudWatch = CloudWatch(&reader, environment: secrets.environment)
        hooks = Hook.read(&reader, items: secrets.itemNames)
        origins = raw.entries.mapValues(\.origin)
        effective = Dictionary(uniqueKeysWithValues: schema.keys.map { ($0, reader.text($0)) })
        effective["probes.timeout"] = DurationParser.format(probes.timeout)  // shrunk to fit a short interval when unset
        for probe in probes { effective.merge(probe.effective) { $1 } }
        for item in secrets.items { effective.merge(item.effective) { $1 } }
        if !reader.problems.isEmpty { throw ConfigError(problems: reader.problems) }
    }
}
