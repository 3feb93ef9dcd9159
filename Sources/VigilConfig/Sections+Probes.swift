import VigilPlatform

extension VigilConfig {
    /// One probe target, `probes.<name>`: its kind, schedule and the kind's
    /// settings, checked against its `ProbeKind`.
    public struct Probe: Sendable {
        public var name: String
        public var kind: any ProbeKind.Type
        public var enabled: Bool
        public var critical: Bool
        public var interval: Duration
        public var timeout: Duration
        /// The time between runs while the target fails.
        public var retryInterval: Duration
        /// The `secrets.items` entry the target's credentials come from.
        public var secret: String?
        /// The kind's settings, typed (a `kind.Settings`).
        public var settings: any Sendable
        /// The kind's settings as checked text, for `vigil config check` (and reuse after a reload).
        var texts: [String: String]
        /// `headers.*` (http), sorted by name; values may hold `${secret:<item>.<key>}` and `${secret:<key>}`.
        var headers: [(name: String, value: String)]

        /// Everything its probe is built from, resolved: the kind, the secret,
        /// each kind setting as it applies (its default, or the legacy
        /// `database.*` / `redis.*` key it falls back to) and the headers. A
        /// reload that leaves it equal keeps the probe and its connection.
        public var definition: [String: String] {
            var definition = texts.merging([("kind", kind.name), ("secret", secret ?? "")]) { _, fixed in fixed }
            for header in headers { definition["headers." + header.name] = header.value }
            return definition
        }

        /// The secret keys its headers read (`${secret:<item>.<key>}`, `${secret:<key>}`).
        public var secretReferences: [(item: String, key: String)] {
            headers.flatMap { SecretReference.parts($0.value, ownItem: secret) }.compactMap { part in
                if case .reference(let item, let key) = part { (item, key) } else { nil }
            }
        }

        /// The common settings every kind takes.
        static let commonSettings = ["kind", "enabled", "critical", "interval", "timeout", "retry_interval", "secret"]

        /// Every setting's effective text, for `vigil config check`.
        var effective: [String: String] {
            let common = ["kind": kind.name, "enabled": "\(enabled)", "critical": "\(critical)",
                          "interval": DurationParser.format(interval), "timeout": DurationParser.format(timeout),
                          "retry_interval": DurationParser.format(retryInterval), "secret": secret ?? ""]
            return Dictionary(uniqueKeysWithValues: common.merging(texts) { $1 }.map { ("probes.\(name).\($0.key)", $0.value) }
                + headers.map { ("probes.\(name).headers.\($0.name)", $0.value) })
        }
    }

    /// Every target: the default ones (`database`, `redis`, `secrets`)
    /// first, then the others by name.
    public struct Probes: Sendable, Sequence {
        public var all: [Probe]
        /// `probes.interval`, the effective `probes.timeout` and `probes.retry_interval`: for components no
        /// target defines (the endpoint).
        public var interval: Duration
        public var timeout: Duration
        public var retryInterval: Duration

        public subscript(name: String) -> Probe? { all.first { $0.name == name } }
        public func makeIterator() -> IndexingIterator<[Probe]> { all.makeIterator() }

        init(_ reader: inout ConfigReader, secretItems: [String]) {
            let interval = reader.duration("probes.interval", atLeast: .milliseconds(100))
            // An unset timeout shrinks to fit a short interval (VIGIL_PROBES_INTERVAL=2s just works).
            var timeout = reader.duration("probes.timeout", atLeast: .milliseconds(10))
            if !reader.isSet("probes.timeout") { timeout = Swift.min(timeout, interval) }
            reader.check("probes.timeout", timeout <= interval,
                         "timeout (\(DurationParser.format(timeout))) must not exceed probes.interval (\(DurationParser.format(interval)))")
            for kind in reader.schema.kinds {  // the top-level defaults are checked even when no target uses them
                for setting in kind.settings { if let legacy = setting.legacyKey { reader.checked(legacy, setting.check) } }
            }
            let configured = reader.raw.names(under: "probes").filter { !reader.schema.isKnown("probes.\($0)") }
                .subtracting(Schema.defaultProbes.map(\.name))
            let retryInterval = reader.duration("probes.retry_interval", atLeast: .milliseconds(100))
            (self.interval, self.timeout, self.retryInterval) = (interval, timeout, retryInterval)
            all = (Schema.defaultProbes.map(\.name) + configured.sorted()).compactMap { name in
                Self.target(name, &reader, schedule: (interval, timeout, retryInterval), secretItems: secretItems)
            }
        }

        private static func target(_ name: String, _ reader: inout ConfigReader,
                                   schedule: (interval: Duration, timeout: Duration, retry: Duration),
                                   secretItems: [String]) -> Probe? {
            let base = "probes.\(name)"
            // `overall` is the component label of the aggregate health series.
            reader.check("\(base).kind", name != "overall", "\"overall\" is reserved (vigil_health_status{component=\"overall\"}): choose another target name")
            let implied = Schema.defaultProbes.first { $0.name == name }?.kind ?? ""
            let written = reader.text("\(base).kind")
            let kindName = written.isEmpty ? implied : written
            guard let kind = reader.schema.kind(kindName) else {
                let kinds = reader.schema.kinds.map { $0.name }.joined(separator: ", ")
                reader.check("\(base).kind", false, kindName.isEmpty ? "required for a probe not named database, redis or secrets: one of \(kinds)"
                                                                  : "unknown kind \"\(kindName)\": expected one of \(kinds)")
                return nil
            }
            checkSettingsBelong(to: kind, base: base, &reader)
            var probe = Probe(name: name, kind: kind, enabled: reader.bool("\(base).enabled"),
                              critical: reader.text("\(base).critical").isEmpty ? kind.defaultCritical : reader.bool("\(base).critical"),
                              interval: reader.duration("\(base).interval", inheriting: schedule.interval),
                              timeout: reader.duration("\(base).timeout", inheriting: schedule.timeout),
                              retryInterval: reader.duration("\(base).retry_interval", inheriting: schedule.retry),
                              secret: nil, settings: NoSettings(), texts: [:], headers: [])
            if !reader.isSet("\(base).timeout") && !reader.isSet("probes.timeout") { probe.timeout = Swift.min(probe.timeout, probe.interval) }
            let blamed = reader.isSet("\(base).timeout") ? "\(base).timeout" : "\(base).interval"
            reader.check(blamed, probe.timeout <= probe.interval || !reader.isSet(blamed),
                         "timeout (\(DurationParser.format(probe.timeout))) must not exceed the interval (\(DurationParser.format(probe.interval)))")
            var passed: [String: String] = [:]
            for setting in kind.settings where setting.name != "headers.*" {
                let key = "\(base).\(setting.name)"
                let value = reader.isSet(key) ? reader.checked(key, setting.check)
                                              : setting.legacyKey.map { reader.text($0) } ?? setting.defaultValue
                reader.check(key, !setting.required || !value.isEmpty, "required for a probe of kind \(kindName)")
                probe.texts[setting.name] = value
                if value.isEmpty || setting.check.accepts(value) { passed[setting.name] = value }
            }
            probe.headers = reader.map("\(base).headers")
            probe.secret = secret(for: probe, &reader, items: secretItems)
            checkHeaders(of: probe, &reader, items: secretItems)
            // nil only after a failed check, which the load reports.
            guard let settings = kind.read(KindValues(texts: passed, headers: probe.headers)) else { return nil }
            probe.settings = settings
            return probe
        }

        /// A key of another kind (`probes.replica.url` on a postgres target) is an error naming it.
        private static func checkSettingsBelong(to kind: any ProbeKind.Type, base: String, _ reader: inout ConfigReader) {
            let own = Set(Probe.commonSettings + kind.settings.map(\.name))
            let others = kind.settings.isEmpty ? "none" : kind.settings.map(\.name).joined(separator: ", ")
            for key in reader.raw.entries.keys.sorted() where key.hasPrefix(base + ".") && reader.schema.isKnown(key) {
                let setting = String(key.dropFirst(base.count + 1))
                let name = setting.hasPrefix("headers.") ? "headers.*" : setting
                reader.check(key, own.contains(name), "not a setting of a \(kind.name) probe (its own settings: \(others))")
            }
        }

        /// Header references must name configured items; `${secret:<key>}` needs the target's own secret.
        private static func checkHeaders(of probe: Probe, _ reader: inout ConfigReader, items: [String]) {
            for header in probe.headers {
                for item in SecretReference.items(in: header.value, ownItem: probe.secret) {
                    reader.check("probes.\(probe.name).headers.\(header.name)", !item.isEmpty,
                                 "${secret:<key>} refers to the target's own secret, and it has none: set probes.\(probe.name).secret "
                                    + "or write ${secret:<item>.<key>}")
                    reader.check("probes.\(probe.name).headers.\(header.name)", item.isEmpty || items.contains(item),
                                 "refers to secret item \"\(item)\", which secrets.items does not configure")
                }
            }
        }

        /// `secret`, else the item named like the target.
        private static func secret(for probe: Probe, _ reader: inout ConfigReader, items: [String]) -> String? {
            let key = "probes.\(probe.name).secret"
            let credentials = probe.kind.credentials
            guard credentials != .none else {
                reader.check(key, !reader.isSet(key), "a \(probe.kind.name) probe uses no secret")
                return nil
            }
            if let named = reader.optional(key) {
                reader.check(key, items.contains(named), "no secrets.items entry named \"\(named)\"")
                return named
            }
            // The default targets keep their old rule: the item of their name, and
            // "credentials unavailable" at run time when there is none.
            if items.contains(probe.name) || Schema.defaultProbes.contains(where: { $0.name == probe.name }) { return probe.name }
            reader.check(key, credentials == .optional || !probe.enabled,
                         "a \(probe.kind.name) probe needs credentials: set it to a secrets.items entry")
            return nil
        }
    }
}
