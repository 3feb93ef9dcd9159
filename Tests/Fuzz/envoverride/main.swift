// libFuzzer target: the configuration's layers (Sources/VigilConfig, through
// VigilConfig.load): a YAML file, then VIGIL_* environment variables, then
// flags. Input: an optional YAML document ended by a NUL byte, then one item
// a line: `NAME=VALUE` an environment variable (a NAME of digits only names
// the N-th known key's variable), `--key=value` a flag. Checks: no crash or
// trap on any names and values (a bad value is a ConfigError listing at
// least one problem, each one blaming a layer that was given); on success
// every known key's effective text is the flag's, else the variable's
// (with its origin), else, without a file, the schema default (an unset
// probes.timeout shrunk to a shorter probes.interval).
import FoundationEssentials

private let file = "fuzz-config.yml"  // in the run's directory, .build-fuzz/envoverride

/// The default targets' kinds, declared without their runs (those need
/// libpq and OpenSSL): what is fuzzed is the layering, not a kind's settings.
private protocol DefaultKind: ProbeKind where Settings == NoSettings {}
extension DefaultKind {
    static var summary: String { "" }
    static var defaultCritical: Bool { true }
    static var settings: [KindSetting] { [] }
    static func read(_ values: KindValues) -> NoSettings? { NoSettings() }
}
private enum Postgres: DefaultKind { static let name = "postgres" }
private enum Redis: DefaultKind { static let name = "redis" }
private enum Secrets: DefaultKind { static let name = "secrets" }
private let schema = Schema(kinds: [Postgres.self, Redis.self, Secrets.self])

/// Known key -> (variable, default); input-independent, so checked and built once.
private let known: [(key: String, variable: String, defaultValue: String)] = schema.keys.map { key in
    let setting = schema.setting(key), variable = RawConfig.environmentName(for: key)
    check(setting.environmentName == variable, "\(key): variable \(setting.environmentName), expected \(variable)")
    return (key, variable, setting.defaultValue)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = UnsafeBufferPointer(start: data, count: size)[...]
    var yaml: String?
    if let nul = bytes.firstIndex(of: 0) {
        yaml = String(decoding: bytes[..<nul], as: UTF8.self)
        bytes = bytes[(nul + 1)...]
    }
    var environment: [String: String] = [:]
    var flags: [String: String] = [:]
    for line in bytes.split(separator: UInt8(ascii: "\n")).map({ String(decoding: $0, as: UTF8.self) }) {
        guard let equals = line.firstIndex(of: "=") else { continue }
        var name = String(line[..<equals])
        let value = String(line[line.index(after: equals)...])
        if name.hasPrefix("--") {
            flags[String(name.dropFirst(2))] = value
            continue
        }
        if !name.isEmpty, name.utf8.count <= 4, let index = UInt(name) { name = known[Int(index % UInt(known.count))].variable }
        environment[name] = value
    }
    if let yaml { check(FileManager.default.createFile(atPath: file, contents: Data(yaml.utf8)), "cannot write \(file)") }

    do throws(ConfigError) {
        let config = try VigilConfig.load(file: yaml == nil ? nil : file, environment: environment, flags: flags, kinds: schema.kinds)
        for (key, variable, defaultValue) in known {
            if let flag = flags[key] {
                check(config.effective[key] == flag, "\(key): flag \(flag) lost to \(config.effective[key] ?? "nil")")
            } else if let value = environment[variable] {
                check(config.effective[key] == value, "\(key): \(variable)=\(value) lost to \(config.effective[key] ?? "nil")")
                check(config.origins[key] == "env \(variable)", "\(key): origin \(config.origins[key] ?? "nil")")
            } else if yaml == nil {
                // An unset probes.timeout shrinks to fit a shorter probes.interval (docs/configuration.md).
                let expected = key == "probes.timeout"
                    ? DurationParser.format(min(DurationParser.parse(defaultValue)!, config.probes.interval)) : defaultValue
                check(config.effective[key] == expected, "\(key): \(config.effective[key] ?? "nil") set from nowhere")
            }
        }
    } catch {
        check(!error.problems.isEmpty, "a ConfigError without problems")
        check(!error.description.isEmpty)
        for problem in error.problems {
            guard let origin = problem.origin else { continue }
            if origin.hasPrefix("env ") {
                check(environment[String(origin.dropFirst(4))] != nil, "blames \(origin), not given")
            } else if origin.hasPrefix("flag --") {
                check(flags.keys.contains { "flag --\($0.replacing("_", with: "-"))" == origin }, "blames \(origin), not given")
            }
        }
    }
    return 0
}
