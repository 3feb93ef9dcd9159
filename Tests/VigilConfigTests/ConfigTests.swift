import Foundation
import Testing
@testable import VigilConfig
import VigilProbes

@Suite struct DurationTests {
    @Test(arguments: [("15s", 15_000), ("1h", 3_600_000), ("500ms", 500), ("1m30s", 90_000), ("2d", 172_800_000)])
    func parses(text: String, milliseconds: Int64) {
        #expect(DurationParser.parse(text) == .milliseconds(milliseconds))
    }

    /// The last two: found by fuzzing, they trapped converting to Int64 milliseconds.
    @Test(arguments: ["", "15", "s", "1.5s", "-1s", "1x", "1s2", "20000000000w", "99999999999999999999s"])
    func rejects(text: String) {
        #expect(DurationParser.parse(text) == nil)
    }

    @Test func formatsShortest() {
        #expect(DurationParser.format(.seconds(90)) == "90s")
        #expect(DurationParser.format(.seconds(3600)) == "1h")
        #expect(DurationParser.format(.milliseconds(1500)) == "1500ms")
    }
}

/// The schema of the kinds Vigil has.
let schema = Schema(kinds: ProbeCatalog.kinds)

@Suite struct ConfigLoadingTests {
    func load(_ yaml: String?, environment: [String: String] = [:], flags: [String: String] = [:]) throws(ConfigError) -> VigilConfig {
        var raw = RawConfig()
        if let yaml { raw.addYAML(yaml, file: "test.yml") }
        raw.addEnvironment(environment, knownKeys: schema.keys)
        raw.addProbeEnvironment(environment, settings: schema.probeSettingNames)
        for (key, value) in flags { raw.set(key, value, origin: "flag") }
        return try VigilConfig(raw: raw, schema: schema)
    }

    func problems(_ yaml: String, environment: [String: String] = [:]) -> [String] {
        do {
            _ = try load(yaml, environment: environment)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    /// `endpoint.tokens.<app>`: a token file and an allow-list, each named when missing or wrong.
    @Test func applicationTokensNeedAFileAndAnAllowList() throws {
        let config = try load("endpoint:\n  tokens:\n    billing: {token_file: /run/vigil/billing.token, allow: [app/prod/*]}\n")
        #expect(config.endpoint.tokens.map(\.name) == ["billing"] && config.endpoint.tokens.first?.allow == ["app/prod/*"])
        let found = problems("endpoint:\n  tokens:\n    billing: {token_file: billing.token}\n    mailer: {token_file: /t, allow: [a*b]}\n")
        #expect(found == [
            "test.yml:3: endpoint.tokens.billing.token_file: required: the absolute path of the application's token file",
            "endpoint.tokens.billing.allow: required: the secret ids the application may read",
            "test.yml:4: endpoint.tokens.mailer.allow: a `*` may only end an entry (a prefix)",
        ], "\(found)")
    }

    @Test func defaultsAreSane() throws {
        let config = try load(nil)
        #expect(config.web.listenAddresses == [":9731"])
        #expect(config.web.telemetryPath == "/metrics")
        #expect(config.probes["database"]?.interval == .seconds(15))
        #expect(config.probes["redis"]?.timeout == .seconds(5))
        #expect(config.probes["redis"]?.critical == true)
        #expect(config.health.unhealthyStatusCode == 503)
        #expect(config.log.format == .logfmt)
    }

    @Test func fileThenEnvironmentThenFlags() throws {
        let yaml = "web:\n  listen_address: \":1000\"\n  threads: 2\nprobes:\n  interval: 30s\n"
        let config = try load(yaml, environment: ["VIGIL_WEB_LISTEN_ADDRESS": ":2000", "VIGIL_PROBES_INTERVAL": "2s"],
                              flags: ["web.listen_address": ":3000"])
        #expect(config.web.listenAddresses == [":3000"])
        #expect(config.web.threads == 2)
        #expect(config.probes["database"]?.interval == .seconds(2))
        #expect(config.origins["probes.interval"] == "env VIGIL_PROBES_INTERVAL")
    }

    @Test func perProbeSettingsInherit() throws {
        let config = try load("probes:\n  interval: 20s\n  redis:\n    interval: 10s\n    critical: false\n")
        #expect(config.probes["database"]?.interval == .seconds(20))
        #expect(config.probes["redis"]?.interval == .seconds(10))
        #expect(config.probes["redis"]?.critical == false)
    }

    @Test func everyProblemIsReportedWithKeyAndLine() {
        let found = problems("web:\n  threads: lots\n  colour: blue\nlog:\n  format: xml\n")
        #expect(found.contains("test.yml:2: web.threads: invalid value \"lots\": expected an integer from 1 to 64"))
        #expect(found.contains("test.yml:3: web.colour: unknown key"))
        #expect(found.contains { $0.hasPrefix("test.yml:5: log.format: invalid value \"xml\"") })
        #expect(found.count == 3)
    }

    /// `vigil config check` once passed what `serve` then refused or trapped
    /// on: a port past 65535, and a duration too long to convert.
    @Test func whatServeWouldRefuseOrTrapOnIsAProblem() {
        #expect(problems("web:\n  listen_address: \":99999\"\n").first?.hasPrefix("test.yml:2: web.listen_address: invalid address") == true)
        #expect(problems("web:\n  listen_address: [\"127.0.0.1:9731\", \"[::1]:70000\"]\n").count == 1)
        // The endpoint also listens on a Unix socket: an absolute path that fits sockaddr_un.
        #expect(problems("endpoint:\n  listen_address: unix:/run/vigil/endpoint.sock\n").isEmpty)
        #expect(problems("endpoint:\n  listen_address: unix:run/endpoint.sock\n").first?.contains("absolute path") == true)
        #expect(problems("endpoint:\n  listen_address: unix:/\(String(repeating: "a", count: 120))\n").count == 1)
        #expect(problems("web:\n  listen_address: unix:/run/vigil.sock\n").count == 1, "the web listener takes HOST:PORT only")
        let durations = schema.settings.filter { !$0.isPattern && DurationParser.parse($0.defaultValue) != nil }
        #expect(durations.count >= 10)
        for setting in durations {
            let variable = setting.environmentName
            #expect(problems("", environment: [variable: "10000w"]).contains { $0.hasPrefix("env \(variable): \(setting.key):") },
                    "\(setting.key) = 10000w")
        }
    }

    /// The check is the serve: an address with a scheme, or a host this machine cannot resolve, is refused at load (exit 78 for both).
    @Test func aListenAddressIsCheckedAsTheServerWillListen() {
        #expect(problems("web:\n  listen_address: \"http://127.0.0.1:20555\"\n")
            == ["test.yml:2: web.listen_address: invalid address \"http://127.0.0.1:20555\": a listen address has no scheme "
                + "(TLS comes from web.config_file): expected HOST:PORT or :PORT, e.g. 127.0.0.1:9731"])
        #expect(problems("web:\n  listen_address: \"no-such-host.invalid:9731\"\n").first?.contains("cannot resolve host \"no-such-host.invalid\"") == true)
        #expect(problems("web:\n  listen_address: [\"localhost:0\", \"127.0.0.1:0\", \":0\"]\n").isEmpty)
    }

    /// A misspelt key names the one it likely meant, per target and per item too; a tab in YAML says so.
    @Test func misspeltKeysAndTabsGetAPlainHint() {
        #expect(problems("probes:\n  intervall: 2s\n") == ["test.yml:2: probes.intervall: unknown key (did you mean probes.interval?)"])
        #expect(problems("probes:\n  replica:\n    kind: tcp\n    adress: a:1\n").first
            == "test.yml:4: probes.replica.adress: unknown key (did you mean probes.replica.address?)")
        #expect(problems("metrics:\n  path: /x\n") == ["test.yml:2: metrics.path: unknown key"], "nothing near: no guess")
        #expect(problems("web:\n\tthreads: 2\n").first?.hasSuffix("(a tab: YAML indents with spaces only; replace the tabs on this line)") == true)
    }

    @Test func aMisspeltVariableIsAWarningNamingTheNearestAndOthersAreLeftAlone() throws {
        let config = try VigilConfig.load(file: nil, environment: ["VIGIL_PROBES_INTERVALL": "2s", "VIGIL_TEST_PG_PORT": "1",
                                                                   "VIGIL_PROBES_DATABASE_TIMOUT": "1s", "VIGIL_LOG_LEVEL": "info"], kinds: ProbeCatalog.kinds)
        #expect(config.warnings == [
            "environment variable VIGIL_PROBES_DATABASE_TIMOUT is not a setting and is ignored: did you mean VIGIL_PROBES_DATABASE_TIMEOUT?",
            "environment variable VIGIL_PROBES_INTERVALL is not a setting and is ignored: did you mean VIGIL_PROBES_INTERVAL?",
        ])
    }

    /// `config check` prints what serve uses: the items, and a timeout shrunk to a short interval.
    @Test func theEffectiveValuesAreWhatServeUses() throws {
        let config = try load("secrets:\n  items:\n    db: {env: DATABASE_URL, keys: [password]}\n", environment: ["VIGIL_PROBES_INTERVAL": "2s"])
        #expect(config.effective["probes.timeout"] == "2s" && config.probes.timeout == .seconds(2))
        #expect(config.effective["secrets.items.db.env"] == "DATABASE_URL" && config.effective["secrets.items.db.keys"] == "password")
        #expect(config.effective["secrets.items.db.id"] == "vigil/production/db")
    }

    /// Every setting says whether a reload applies it; those read once at start are the listeners, AWS, CloudWatch and the log format.
    @Test func everySettingDeclaresWhenItApplies() {
        let restart = Set(schema.settings.filter { $0.applies == .restart }.map(\.key))
        #expect(restart.contains("web.listen_address") && restart.contains("aws.region") && restart.contains("endpoint.listen_address"))
        #expect(!restart.contains("web.telemetry_path") && !restart.contains("endpoint.allow") && !restart.contains("secrets.environment"))
        #expect(restart.allSatisfy { ["web.", "log.format", "aws.", "endpoint.", "cloudwatch."].contains(where: $0.hasPrefix) }, "\(restart)")
    }

    /// The Lambda extension's port variable places the endpoint where nothing of Vigil's does, and is checked like it.
    @Test func theLambdaExtensionsPortVariableWhenNothingElseNamesTheAddress() throws {
        let port = ["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "2999"]
        #expect(try VigilConfig.load(file: nil, environment: port, kinds: ProbeCatalog.kinds).endpoint.listenAddress == "127.0.0.1:2999")
        let both = port.merging(["VIGIL_ENDPOINT_LISTEN_ADDRESS": "127.0.0.1:3001"]) { $1 }
        #expect(try VigilConfig.load(file: nil, environment: both, kinds: ProbeCatalog.kinds).endpoint.listenAddress == "127.0.0.1:3001")
        #expect(throws: ConfigError.self) { try VigilConfig.load(file: nil, environment: ["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "x"], kinds: ProbeCatalog.kinds) }
    }

    @Test func environmentProblemsNameTheVariable() {
        let found = problems("", environment: ["VIGIL_PROBES_TIMEOUT": "soon"])
        #expect(found.first?.hasPrefix("env VIGIL_PROBES_TIMEOUT: probes.timeout: invalid value") == true)
    }

    @Test func unknownSectionsListsAndSyntaxErrorsAreProblems() {
        #expect(problems("metrics:\n  path: /x\n") == ["test.yml:2: metrics.path: unknown key"])
        #expect(problems("web:\n  telemetry_path:\n    - a\n").first?.contains("not a list") == true)
        #expect(problems("secrets:\n  items:\n    db:\n      keys: [user, password]\n") == [])
        #expect(problems("secrets:\n  items:\n    db:\n      keys: [{a: b}]\n").first?.contains("list of plain values") == true)
        #expect(problems("web: [unclosed\n").first?.contains("YAML syntax error") == true)
    }

    @Test func yamlProblemsCarryTheirLine() {
        #expect(problems("web:\n  threads: 4\nlog: [a\n").first?.hasPrefix("test.yml:4: (document): YAML syntax error: line 4") == true)
        #expect(problems("web:\n  threads: 4\n  threads: 8\n") == ["test.yml:3: web.threads: duplicate key"])
        #expect(problems("web:\n  listen_address: &a \":9\"\nlog:\n  level: *a\n")
            == ["test.yml:4: log.level: YAML aliases are not supported"])
        #expect(problems("- a\n- b\n") == ["test.yml:1: (document): expected a mapping of sections"])
        let deep = "web: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n"
        #expect(problems(deep) == ["test.yml:1: (document): YAML syntax error: line 1, column 37: nested deeper than 32 levels"])
    }

    @Test func yamlScalarsKeepTheirText() throws {
        let config = try load("web:\n  listen_address: \"127.0.0.1:9\"\n  # a comment\n  telemetry_path: '/m'\nlog:\n  level: ~\n")
        #expect(config.web.listenAddresses == ["127.0.0.1:9"])
        #expect(config.web.telemetryPath == "/m")
        #expect(config.log.level == (try load(nil)).log.level)
        #expect(problems("") == [] && problems("# only a comment\n") == [] && problems("---\n") == [])
        #expect(problems("web:\r\n  threads: 3\r\n") == [] && problems("\u{FEFF}web:\n  threads: 3\n") == [])
        #expect(problems("web:\n  threads: 3\n---\nweb:\n  threads: 9\n")
            == ["test.yml:3: (document): YAML syntax error: line 3, column 1: a second YAML document; the file must hold one"])
    }

    @Test func unreadableFilesSayWhy() throws {
        func fileProblems(_ path: String) -> [String] {
            do {
                _ = try VigilConfig.load(file: path, environment: [:], kinds: ProbeCatalog.kinds)
                return []
            } catch {
                return error.problems.map(\.description)
            }
        }
        #expect(fileProblems("/nonexistent/vigil.yml")
            == ["/nonexistent/vigil.yml: (file): cannot read the configuration file: No such file or directory"])
        #expect(fileProblems("/dev/zero") == ["/dev/zero: (file): cannot read the configuration file: larger than 1024 KB"])
        let binary = "/tmp/vigil-config-test-\(getpid()).yml"
        try Data([0x77, 0x65, 0x62, 0x3a, 0xff, 0xfe, 0x0a]).write(to: URL(fileURLWithPath: binary))
        defer { try? FileManager.default.removeItem(atPath: binary) }
        #expect(fileProblems(binary) == ["\(binary): (file): cannot read the configuration file: not UTF-8 text"])
    }

    @Test func timeoutMustFitTheInterval() {
        #expect(problems("probes:\n  interval: 1s\n  timeout: 2s\n").first?.hasPrefix("test.yml:3: probes.timeout") == true)
        #expect(problems("probes:\n  redis:\n    timeout: 20s\n").first?.hasPrefix("test.yml:3: probes.redis.timeout") == true)
    }

    @Test func telemetryPathMustNotShadowHealth() {
        #expect(problems("web:\n  telemetry_path: /health\n").count == 1)
        #expect(problems("web:\n  telemetry_path: metrics\n").count == 1)
    }

    @Test func secretItemsAreAMap() throws {
        let config = try load("secrets:\n  prefix: shop\n  environment: prod\n  items:\n    db:\n      keys: [username, password]\n"
                              + "      env: DB_URL\n    stripe:\n      id: arn:aws:x\n      required: false\n")
        #expect(config.secrets.items.map(\.name) == ["db", "stripe"])
        #expect(config.secrets.items[0].id == "shop/prod/db")
        #expect(config.secrets.items[0].keys == ["username", "password"])
        #expect(config.secrets.items[0].environmentVariable == "DB_URL")
        #expect(config.secrets.items[1].id == "arn:aws:x" && !config.secrets.items[1].required)
        #expect(problems("secrets:\n  items:\n    db:\n      colour: red\n") == ["test.yml:4: secrets.items.db.colour: unknown key"])
        #expect(try load(nil, environment: ["VIGIL_SECRETS_TTL": "5s"]).secrets.ttl == .seconds(5))
        // secrets.max_entries bounds the items: a file (or a reload) with more is refused.
        #expect(problems("secrets:\n  max_entries: 1\n  items:\n    a: {id: a}\n    b: {id: b}\n").first?
                    .contains("secrets.max_entries: fewer than the 2 configured items") == true)
    }

    @Test func failoverRegionsAndTheirEndpoints() throws {
        let config = try load("aws:\n  region: us-east-1\n  failover_regions: [us-west-2, eu-west-1]\n  secretsmanager_endpoints:\n"
                              + "    us-west-2: http://127.0.0.1:4566\n", environment: ["VIGIL_AWS_FAILOVER_DELAY": "250ms"])
        #expect(config.aws.failoverRegions == ["us-west-2", "eu-west-1"])
        #expect(config.aws.secretsManagerEndpoints == ["us-west-2": "http://127.0.0.1:4566"])
        #expect(config.aws.failoverDelay == .milliseconds(250))
        #expect(try load(nil, environment: ["VIGIL_AWS_FAILOVER_REGIONS": "eu-central-1,eu-west-1"]).aws.failoverRegions
            == ["eu-central-1", "eu-west-1"])
        #expect(problems("aws:\n  failover_regions: [Frankfurt]\n")
            == ["test.yml:2: aws.failover_regions: `Frankfurt` is not a region name (like eu-west-1)"])
        #expect(problems("aws:\n  region: us-east-1\n  failover_regions: [us-east-1]\n")
            == ["test.yml:3: aws.failover_regions: lists a region twice, or the primary (aws.region)"])
        #expect(problems("aws:\n  secretsmanager_endpoints:\n    us-west-2: ftp://x\n")
            == ["test.yml:3: aws.secretsmanager_endpoints.us-west-2: expected an http:// or https:// URL"])
    }

    @Test func cloudWatchSettings() throws {
        let config = try load(nil, environment: ["VIGIL_CLOUDWATCH_ENABLED": "true", "VIGIL_CLOUDWATCH_INTERVAL": "5s"])
        #expect(config.cloudWatch.enabled && config.cloudWatch.interval == .seconds(5))
        #expect(config.cloudWatch.dimensions.map(\.name) == ["Environment"])
        #expect(problems("cloudwatch:\n  namespace: AWS/EC2\n").first?.contains("AWS/") == true)
        #expect(problems("cloudwatch:\n  storage_resolution: 5\n").count == 1)
        let custom = try load("cloudwatch:\n  dimensions:\n    Service: checkout\n    Team: payments\n")
        #expect(custom.cloudWatch.dimensions.map(\.name) == ["Service", "Team"])
    }

    @Test func cloudWatchDimensionsCloudWatchWouldRejectAreConfigErrors() {
        #expect(problems("cloudwatch:\n  dimensions:\n    Service: \"\"\n")
            == ["test.yml:3: cloudwatch.dimensions.Service: must be 1-1024 characters (CloudWatch rejects an empty dimension value)"])
        let many = (1...29).map { "    D\($0): x\n" }.joined()
        #expect(problems("cloudwatch:\n  dimensions:\n" + many).first?.contains("at most 28 dimensions") == true)
    }

    @Test func emptyValueMeansDefault() throws {
        #expect(try load("web:\n  threads:\n").web.threads == 4)
    }
}

@Suite struct ShippedDocsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A package that ships a library (VigilSecrets) pins its dependencies
    /// by range: with `exact:`, every package that adds the library and
    /// another version of swift-prometheus fails to resolve.
    @Test func dependenciesArePinnedByRange() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let pins = manifest.split(separator: "\n").filter { $0.contains(".package(url:") }
        #expect(pins.count == 3)
        #expect(pins.allSatisfy { $0.contains("from:") }, "\(pins)")
    }

    @Test func exampleConfigIsValid() throws {
        _ = try VigilConfig.load(file: Self.root.appendingPathComponent("docs/vigil.example.yml").path, environment: [:], kinds: ProbeCatalog.kinds)
    }

    /// Every Vigil configuration shown in docs/*.md and the README (a ```yaml
    /// block whose top-level keys are Vigil's sections) validates as shown.
    @Test func everyConfigurationInTheDocsValidates() throws {
        let sections = Set(schema.settings.map { String($0.key.prefix { $0 != "." }) })
        let docs = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.map { "docs/\($0)" } + ["README.md"]
        var checked = 0
        for doc in docs {
            let text = try String(contentsOf: Self.root.appendingPathComponent(doc), encoding: .utf8)
            for block in text.components(separatedBy: "```yaml\n").dropFirst().map({ $0.components(separatedBy: "```")[0] }) {
                var raw = RawConfig()
                raw.addYAML(block, file: doc)
                let top = Set(raw.entries.keys.map { String($0.prefix { $0 != "." }) })
                guard !top.isEmpty, top.isSubset(of: sections) else { continue }
                checked += 1
                do {
                    // Safe to copy: a third party's outage must not take the reader's instances out of service.
                    let critical = try VigilConfig(raw: raw, schema: schema).probes.filter { $0.kind.name == "http" && $0.critical }.map(\.name)
                    #expect(critical.isEmpty, "\(doc): http targets without critical: false: \(critical)")
                } catch {
                    Issue.record("\(doc): a configuration that does not validate: \(error.problems.map(\.description))")
                }
            }
        }
        #expect(checked >= 2, "found only \(checked) configurations in the docs")
    }

    @Test func referenceDocumentsEveryKeyAndVariable() throws {
        let reference = try String(contentsOf: Self.root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        #expect(reference.contains(schema.markdownTable()), "docs/configuration.md is not in step: run scripts/update-config-docs")
        for setting in schema.settings {
            #expect(reference.contains("`\(setting.key)`"), "docs/configuration.md lacks \(setting.key)")
            if !setting.isPattern {
                #expect(reference.contains(setting.environmentName), "docs/configuration.md lacks \(setting.environmentName)")
            }
        }
    }
}
