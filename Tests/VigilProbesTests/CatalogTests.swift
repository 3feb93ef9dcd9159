import Testing
@testable import VigilConfig
import VigilPlatform
@testable import VigilProbes
import VigilSecrets

@Suite struct CatalogTests {
    /// One list: a kind's name is unique, and every kind, configured by
    /// nothing but its declared required settings (and a secret where it
    /// needs one), gives the catalog the settings its probe is built from.
    @Test func everyKindIsListedOnceAndBuildsFromWhatTheConfigurationRead() throws {
        let names = ProbeCatalog.kinds.map { $0.name }
        #expect(Set(names).count == names.count && names.contains("postgres") && names.contains("secrets"))
        let sample: (ValueCheck) -> String = { check in if case .url = check { "http://127.0.0.1:1/" } else { "127.0.0.1:1" } }
        let targets = ProbeCatalog.kinds.map { kind in
            let settings = kind.settings.filter(\.required).map { "\($0.name): \"\(sample($0.check))\"" }
                + (kind.credentials == .none || kind.credentials == .optional ? [] : ["secret: database"])
            return "  \(kind.name)_target: {\((["kind: \(kind.name)"] + settings).joined(separator: ", "))}"
        }
        var raw = RawConfig()
        raw.addYAML("probes:\n" + targets.joined(separator: "\n") + "\n", file: "test.yml")
        let config = try VigilConfig(raw: raw, schema: Schema(kinds: ProbeCatalog.kinds))
        // Building a probe makes no connection: a client without AWS will do.
        let context = ProbeContext(secrets: SecretsClient(configuration: SecretsConfiguration(items: []), aws: nil, environment: [:]),
                                   minimumHitRatio: 0)
        for kind in ProbeCatalog.kinds {
            let target = try #require(config.probes["\(kind.name)_target"])
            #expect(ProbeCatalog.probe(for: target, context: context)?.name == target.name, "\(kind.name)")
        }
    }

    /// A reload keeps a probe whose definition is unchanged, so every kind
    /// setting, its legacy key (`database.sslmode`, `redis.info`, ...), the
    /// kind, the secret and the headers must each change it; the schedule
    /// must not (the scheduler applies it, and the kept connection stays).
    @Test func everySettingAProbeIsBuiltFromChangesItsDefinitionAndTheScheduleDoesNot() throws {
        let schema = Schema(kinds: ProbeCatalog.kinds)
        func definition(_ yaml: String) throws -> [String: String] {
            var raw = RawConfig()
            raw.addYAML(yaml, file: "test.yml")
            return try #require(try VigilConfig(raw: raw, schema: schema).probes["t"]).definition
        }
        func other(_ check: ValueCheck, than value: String) -> String {
            switch check {
            case .bool: value == "true" ? "false" : "true"
            case .choice(let choices): choices.first { $0 != value } ?? value
            case .url: "http://127.0.0.1:2/other"
            case .hostPort: "127.0.0.1:2"
            case .statuses: "204"
            case .absolutePath: "/run/other.sock"
            case .any: value + "-other"
            }
        }
        var changed = 0
        for kind in ProbeCatalog.kinds {
            let required = kind.settings.filter(\.required).map { setting in
                (setting.name, { if case .url = setting.check { "http://127.0.0.1:1/" } else { "127.0.0.1:1" } }())
            }
            let secret = kind.credentials == .none ? "" : "\n    secret: database"
            func yaml(_ extra: [(String, String)], top: String = "") -> String {
                "\(top)probes:\n  t:\n    kind: \(kind.name)\(secret)\n" + (required + extra).map { "    \($0.0): \"\($0.1)\"\n" }.joined()
            }
            let base = try definition(yaml([]))
            for setting in kind.settings where setting.name != "headers.*" && !setting.required {
                let value = other(setting.check, than: setting.defaultValue)
                #expect(try definition(yaml([(setting.name, value)])) != base, "\(kind.name).\(setting.name)")
                if let legacy = setting.legacyKey {
                    let parts = legacy.split(separator: ".")
                    #expect(try definition(yaml([], top: "\(parts[0]):\n  \(parts[1]): \"\(value)\"\n")) != base, "\(legacy)")
                }
                changed += 1
            }
            for schedule in [("interval", "7s"), ("timeout", "3s"), ("retry_interval", "2s"), ("critical", "false"), ("enabled", "true")] {
                #expect(try definition(yaml([schedule])) == base, "\(kind.name): \(schedule.0) rebuilt the probe")
            }
        }
        #expect(changed >= 12, "the kinds declare fewer settings than expected: \(changed)")
        let http = "probes:\n  t:\n    kind: http\n    url: http://127.0.0.1:1/\n"
        #expect(try definition(http + "    headers:\n      X-Key: a\n") != definition(http + "    headers:\n      X-Key: b\n"))
        #expect(try definition("probes:\n  t: {kind: tcp, address: \"127.0.0.1:1\"}\n")
                    != definition("probes:\n  t: {kind: http, url: \"http://127.0.0.1:1/\"}\n"))
    }

    @Test func statusRanges() {
        let ranges = StatusRanges("200-299, 301,418")
        #expect(ranges?.contains(204) == true && ranges?.contains(301) == true && ranges?.contains(418) == true)
        #expect(ranges?.contains(300) == false && ranges?.contains(500) == false)
        for bad in ["", "2xx", "299-200", "99", "600", "200-", "-200", "200,,204"] { #expect(StatusRanges(bad) == nil, "\(bad)") }
    }

    @Test func hostPort() {
        #expect(HostPort("db.internal:5432") == HostPort(host: "db.internal", port: 5432))
        #expect(HostPort("[::1]:9187")?.host == "::1" && HostPort(":9187")?.host == "")
        #expect(HostPort("example.com") == nil && HostPort("a:b") == nil)
    }

    @Test func secretReferences() {
        #expect(SecretReference.parts("Bearer ${secret:api.token}") == [.text("Bearer "), .reference(item: "api", key: "token")])
        #expect(SecretReference.parts("${secret:a.b}:${secret:c.d}") == [.reference(item: "a", key: "b"), .text(":"),
                                                                         .reference(item: "c", key: "d")])
        #expect(SecretReference.parts("${secret:own} ${x}") == [.reference(item: "", key: "own"), .text(" ${x}")])
        #expect(SecretReference.parts("${secret:own}", ownItem: "api") == [.reference(item: "api", key: "own")])
        for bad in ["${secret:}", "${secret:.k}", "${secret:i.}"] { #expect(SecretReference.parts(bad) == [.text(bad)]) }
        #expect(SecretReference.parts("plain") == [.text("plain")])
    }

    /// An http target's `target` label: scheme, host and port, never the user, password, path or query.
    @Test func anHTTPTargetIsItsOrigin() {
        #expect(HTTPProbe.origin(of: "https://api.example.com/v1/balance?key=x") == "https://api.example.com:443")
        #expect(HTTPProbe.origin(of: "http://user:canary-pass@10.0.0.5:8080/health") == "http://10.0.0.5:8080")
        #expect(HTTPProbe.origin(of: "http://[::1]/ping") == "http://[::1]:80")
        #expect(HTTPProbe.origin(of: "https://[2001:db8::1]:8443#x") == "https://[2001:db8::1]:8443")
    }
}
