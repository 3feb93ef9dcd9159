/// Every configuration key Vigil knows, with its default and meaning. The
/// single source for validation (unknown keys are errors), environment
/// variable names and `docs/configuration.md`.
public struct Setting: Sendable {
    public var key: String
    public var defaultValue: String
    public var help: String

    public var environmentName: String { RawConfig.environmentName(for: key) }
}

public enum Schema {
    public static let probeNames = ["database", "redis"]

    public static let settings: [Setting] = [
        Setting(key: "web.listen_address", defaultValue: ":9731",
                help: "Address to serve HTTP on: `:PORT`, `HOST:PORT` or `[IPv6]:PORT`."),
        Setting(key: "web.telemetry_path", defaultValue: "/metrics",
                help: "Path of the Prometheus metrics endpoint."),
        Setting(key: "web.threads", defaultValue: "4",
                help: "HTTP worker threads (libmicrohttpd thread pool), 1-64."),
        Setting(key: "web.max_connections", defaultValue: "1024",
                help: "Concurrent HTTP connections accepted, 1-65536."),
        Setting(key: "web.idle_timeout", defaultValue: "60s",
                help: "Keep-alive connections idle this long are closed."),
        Setting(key: "web.telemetry_cache", defaultValue: "1s",
                help: "Scrapes within this window share one rendering of the metrics page; `0s` renders every scrape."),
        Setting(key: "log.level", defaultValue: "info",
                help: "`debug`, `info`, `warning` or `error`."),
        Setting(key: "log.format", defaultValue: "logfmt",
                help: "`logfmt` or `json`, written to stderr."),
        Setting(key: "probes.interval", defaultValue: "15s",
                help: "Default time between two runs of a probe."),
        Setting(key: "probes.timeout", defaultValue: "5s",
                help: "Default bound on one probe run, connect included."),
        Setting(key: "health.unhealthy_status_code", defaultValue: "503",
                help: "HTTP status `/health` answers when overall status is unhealthy (healthy and degraded answer 200)."),
        Setting(key: "database.url_env", defaultValue: "DATABASE_URL",
                help: "Environment variable holding `postgres://user:pass@host:port/db` for the database probe."),
        Setting(key: "database.sslmode", defaultValue: "prefer",
                help: "libpq `sslmode`: disable, allow, prefer, require, verify-ca, verify-full."),
        Setting(key: "redis.url_env", defaultValue: "REDIS_URL",
                help: "Environment variable holding `redis://[user]:pass@host:port/db` for the Redis probe."),
    ] + probeNames.flatMap { probe in [
        Setting(key: "probes.\(probe).enabled", defaultValue: "true", help: "Run the \(probe) probe."),
        Setting(key: "probes.\(probe).critical", defaultValue: "true",
                help: "A failing \(probe) probe makes overall health `unhealthy` (else `degraded`)."),
        Setting(key: "probes.\(probe).interval", defaultValue: "",
                help: "Interval for this probe; empty = `probes.interval`."),
        Setting(key: "probes.\(probe).timeout", defaultValue: "",
                help: "Timeout for this probe; empty = `probes.timeout`."),
    ] }

    public static var keys: [String] { settings.map(\.key) }

    public static func setting(_ key: String) -> Setting {
        guard let setting = settings.first(where: { $0.key == key }) else {
            preconditionFailure("configuration key \(key) missing from Schema.settings")
        }
        return setting
    }
}

extension Schema {
    /// The reference table in `docs/configuration.md` (`vigil config reference` prints it).
    public static func markdownTable() -> String {
        let rows = settings.map { setting in
            let value = setting.defaultValue.isEmpty ? "(inherits)" : "`\(setting.defaultValue)`"
            return "| `\(setting.key)` | `\(setting.environmentName)` | \(value) | \(setting.help) |"
        }
        return (["| Key | Environment variable | Default | Meaning |", "|---|---|---|---|"] + rows).joined(separator: "\n")
    }
}
