/// The known name a misspelt one most likely meant (`probes.intervall` ->
/// `probes.interval`), for "did you mean" hints: the closest by edit
/// distance, if within a third of its length (at most 3 edits).
enum NearestName {
    static func of(_ name: String, among candidates: some Sequence<String>) -> String? {
        let limit = min(3, max(1, name.count / 3))
        var best: (name: String, distance: Int)?
        for candidate in candidates where candidate != name {
            let distance = editDistance(Array(name.utf8), Array(candidate.utf8), limit: limit)
            if distance <= limit && distance < (best?.distance ?? .max) { best = (candidate, distance) }
        }
        return best?.name
    }

    /// " (did you mean X?)", or nothing.
    static func hint(_ name: String, among candidates: some Sequence<String>) -> String {
        of(name, among: candidates).map { " (did you mean \($0)?)" } ?? ""
    }

    /// Levenshtein distance; stops early past `limit`.
    private static func editDistance(_ left: [UInt8], _ right: [UInt8], limit: Int) -> Int {
        if abs(left.count - right.count) > limit { return limit + 1 }
        var previous = Array(0...right.count)
        for (i, l) in left.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: right.count)
            for (j, r) in right.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (l == r ? 0 : 1))
            }
            if current.min()! > limit { return limit + 1 }
            previous = current
        }
        return previous[right.count]
    }
}

extension Schema {
    /// The keys a misspelt `key` may have meant: every setting, `*` taken
    /// from the key itself (`probes.replica.timout` -> `probes.replica.timeout`).
    func candidates(for key: String) -> [String] {
        let parts = key.split(separator: ".")
        return settings.map { setting in
            let pattern = setting.key.split(separator: ".")
            guard pattern.count == parts.count else { return setting.key }
            return zip(pattern, parts).map { $0 == "*" ? $1 : $0 }.joined(separator: ".")
        }
    }

    /// `VIGIL_*` variables that are no setting's but within a typo of one:
    /// a warning each, naming the one it likely meant. Others (a test
    /// harness's `VIGIL_TEST_PORT`) are not Vigil's business.
    func misspeltVariables(_ environment: [String: String], probeNames: [String]) -> [String] {
        let known = Set(keys.map(RawConfig.environmentName(for:)) + ["VIGIL_CONFIG"]
            + probeNames.flatMap { name in probeSettingNames.map { RawConfig.environmentName(for: "probes.\(name).\($0)") } })
        return environment.keys.sorted().compactMap { name in
            guard name.hasPrefix("VIGIL_"), !known.contains(name), let meant = NearestName.of(name, among: known) else { return nil }
            return "environment variable \(name) is not a setting and is ignored: did you mean \(meant)?"
        }
    }
}
