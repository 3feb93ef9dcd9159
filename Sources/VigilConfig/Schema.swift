/// Every configuration key Vigil knows, with its default and meaning. The
/// single source for validation (unknown keys are errors), environment
/// variable names and `docs/configuration.md`. A `*` segment matches any
/// name (`secrets.items.*.id`); such keys have no environment variable.
public struct Setting: Sendable {
    /// When a changed value takes effect: at a reload (SIGHUP, `POST /-/reload`) or at the next start.
    public enum Applies: String, Sendable {
        case live, restart
    }

    public var key: String
    public var defaultValue: String
    /// What a reload does with it: `App` applies the live ones and names the others in its warning.
    public var applies: Applies
    public var help: String

    public init(key: String, defaultValue: String, applies: Applies, help: String) {
        (self.key, self.defaultValue, self.applies, self.help) = (key, defaultValue, applies, help)
    }

    public var isPattern: Bool { key.contains("*") }
    /// Takes a YAML list.
    public var isList: Bool {
        key.hasSuffix(".keys") || Self.lists.contains(key)
    }
    private static let lists: Set = ["web.listen_address", "aws.failover_regions", "endpoint.allow", "endpoint.allow_parameters",
                                     "endpoint.token_headers", "endpoint.token_variables", "endpoint.tokens.*.allow",
                                     "hooks.*.secrets", "hooks.*.command"]
    /// `VIGIL_PROBES_<NAME>_TIMEOUT` for `probes.*.timeout`; empty for other patterns.
    public var environmentName: String {
        let perTarget = key.hasPrefix("probes.*.") ? key.dropFirst("probes.*.".count) : nil
        if let perTarget, !perTarget.contains("*") {
            return "VIGIL_PROBES_<NAME>_" + RawConfig.environmentName(for: String(perTarget)).dropFirst("VIGIL_".count)
        }
        return isPattern ? "" : RawConfig.environmentName(for: key)
    }

    func matches(_ candidate: String) -> Bool {
        let pattern = key.split(separator: "."), parts = candidate.split(separator: ".")
        return pattern.count == parts.count && zip(pattern, parts).allSatisfy { $0 == "*" || $0 == $1 }
    }
}

public struct Schema: Sendable {
    /// The targets every configuration has (enabled unless switched off), with their kinds.
    public static let defaultProbes: [(name: String, kind: String)] = [("database", "postgres"), ("redis", "redis"),
                                                                       ("secrets", "secrets")]

    /// The probe kinds (`VigilProbes.ProbeCatalog.kinds`): their settings are the `probes.*.<name>` keys.
    public let kinds: [any ProbeKind.Type]
    public let settings: [Setting]

    public init(kinds: [any ProbeKind.Type]) {
        self.kinds = kinds
        settings = Self.web + Self.log + Self.probes(kinds) + Self.health + Self.aws + Self.secrets + Self.endpoint
            + Self.cloudwatch + Self.hooks + Self.peers
    }

    func kind(_ name: String) -> (any ProbeKind.Type)? { kinds.first { $0.name == name } }

    static let web = [
        Setting(key: "web.listen_address", defaultValue: ":9731",
                applies: .restart, help: "Address to serve HTTP on: `:PORT` (every interface, IPv4 and IPv6 where the host has IPv6), `HOST:PORT` or `[IPv6]:PORT`; "
                    + "a list (comma-separated in the variable, or `--web.listen-address` repeated) serves on each."),
        Setting(key: "web.telemetry_path", defaultValue: "/metrics", applies: .live, help: "Path of the Prometheus metrics endpoint."),
        Setting(key: "web.config_file", defaultValue: "",
                applies: .live, help: "The exporters' web configuration file (exporter-toolkit's format): `tls_server_config` (certificate, key, "
                    + "client certificates, TLS versions, cipher suites), `http_server_config.headers`, `basic_auth_users` (bcrypt). "
                    + "Re-read on SIGHUP and when one of its files changes."),
        Setting(key: "web.threads", defaultValue: "4", applies: .restart, help: "HTTP worker threads (libmicrohttpd thread pool), 1-64."),
        Setting(key: "web.max_connections", defaultValue: "1024",
                applies: .restart, help: "Concurrent HTTP connections accepted, 1-65536; capped below the open-file limit so probes always have descriptors."),
        Setting(key: "web.max_connections_per_ip", defaultValue: "128",
                applies: .restart, help: "Concurrent HTTP connections from one client address, 1-65536: one misbehaving client cannot lock out the load balancer."),
        Setting(key: "web.idle_timeout", defaultValue: "60s", applies: .restart, help: "Keep-alive connections idle this long are closed."),
        Setting(key: "web.telemetry_cache", defaultValue: "1s",
                applies: .live, help: "Scrapes within this window share one rendering of the metrics page; `0s` renders every scrape."),
    ]

    static let log = [
        Setting(key: "log.level", defaultValue: "info", applies: .live, help: "`debug`, `info`, `warn` (or `warning`) or `error`; logged as `level=warn` as the Prometheus tools do."),
        Setting(key: "log.format", defaultValue: "logfmt", applies: .restart, help: "`logfmt` or `json`, written to stderr."),
    ]

    static func probes(_ kinds: [any ProbeKind.Type]) -> [Setting] { [
        Setting(key: "probes.interval", defaultValue: "15s", applies: .live, help: "Default time between two runs of a probe."),
        Setting(key: "probes.timeout", defaultValue: "5s",
                applies: .live, help: "Default bound on one probe run, connect included; shrinks to the interval when unset."),
        Setting(key: "probes.retry_interval", defaultValue: "1s",
                applies: .live, help: "Default time between two runs while a probe fails (±10 % jitter, never above its interval): a return shows within about this."),
        Setting(key: "probes.*.kind", defaultValue: "",
                applies: .live, help: kinds.map { "`\($0.name)`" }.joined(separator: ", ") + " (table above); may be left out for "
                    + defaultProbes.map { "`\($0.name)`" }.joined(separator: ", ") + "."),
        Setting(key: "probes.*.enabled", defaultValue: "true", applies: .live, help: "Run this probe."),
        Setting(key: "probes.*.critical", defaultValue: "",
                applies: .live, help: "A failing target makes overall health `unhealthy` (else `degraded`); empty = its kind's default."),
        Setting(key: "probes.*.interval", defaultValue: "", applies: .live, help: "Interval for this probe; empty = `probes.interval`."),
        Setting(key: "probes.*.timeout", defaultValue: "", applies: .live, help: "Timeout for this probe; empty = `probes.timeout`."),
        Setting(key: "probes.*.retry_interval", defaultValue: "", applies: .live, help: "Retry interval for this probe; empty = `probes.retry_interval`."),
        Setting(key: "probes.*.secret", defaultValue: "",
                applies: .live, help: "The `secrets.items` entry whose credentials the target uses; empty = the item named like the target."),
    ] + kinds.flatMap { $0.settings.map(\.schemaSetting) }.reduce(into: [Setting]()) { unique, setting in
        // Kinds that share a setting's name (`address`, `ca_file`) share its key: each one's help is kept.
        guard let index = unique.firstIndex(where: { $0.key == setting.key }) else { return unique.append(setting) }
        if !unique[index].help.contains(setting.help) { unique[index].help += " " + setting.help }
    } }

    static let health = [
        Setting(key: "health.show_details", defaultValue: "when_authorized",
                applies: .live, help: "Who sees `/health`'s details (reason, detail, latencies, `?verbose`, version) beyond the status words, "
                    + "which are always served without credentials (a load balancer sends none): `always`, `when_authorized` "
                    + "(callers that passed basic auth; everyone when the web config has no users), or `never`."),
        Setting(key: "health.unhealthy_status_code", defaultValue: "503",
                applies: .live, help: "HTTP status `/health` answers when overall status is unhealthy (healthy and degraded answer 200)."),
        Setting(key: "health.latency_threshold", defaultValue: "1s",
                applies: .live, help: "A probe run slower than this makes its component `degraded` (also exported for alert rules)."),
        Setting(key: "health.min_cache_hit_ratio", defaultValue: "0.8",
                applies: .live, help: "A secrets cache hit ratio below this (0-1, Vigil's own lookups over a probe interval with 20+ of them; the endpoint's reads do not count) makes the secrets component `degraded`."),
    ]

    static let aws = [
        Setting(key: "aws.region", defaultValue: "",
                applies: .restart, help: "AWS region; empty = `AWS_REGION`, `AWS_DEFAULT_REGION`, the shared config profile, then EC2 metadata."),
        Setting(key: "aws.secretsmanager_endpoint", defaultValue: "",
                applies: .restart, help: "Secrets Manager URL when `AWS_ENDPOINT_URL_SECRETS_MANAGER` and `AWS_ENDPOINT_URL` are unset."),
        Setting(key: "aws.cloudwatch_endpoint", defaultValue: "",
                applies: .restart, help: "CloudWatch URL when `AWS_ENDPOINT_URL_CLOUDWATCH` and `AWS_ENDPOINT_URL` are unset."),
        Setting(key: "aws.sts_endpoint", defaultValue: "",
                applies: .restart, help: "STS URL (web identity) when `AWS_ENDPOINT_URL_STS` and `AWS_ENDPOINT_URL` are unset."),
        Setting(key: "aws.ca_bundle", defaultValue: "", applies: .restart, help: "PEM CA bundle for private AWS endpoints; empty = the system's."),
        Setting(key: "aws.timeout", defaultValue: "10s", applies: .restart, help: "Bound on one AWS HTTP attempt."),
        Setting(key: "aws.max_attempts", defaultValue: "",
                applies: .restart, help: "Attempts per AWS call (standard retry mode); empty = `AWS_MAX_ATTEMPTS` or 3."),
        Setting(key: "aws.failover_regions", defaultValue: "",
                applies: .restart, help: "Regions holding replicas of the secrets (`ReplicateSecretToRegions`), tried in order when the primary region "
                    + "times out, cannot be reached, throttles or fails (a list; denied and not found are answers and do not fail over)."),
        Setting(key: "aws.failover_delay", defaultValue: "1s",
                applies: .restart, help: "A read the primary region has not answered after this long is also sent to the next region, the first answer "
                    + "winning (a hedged read); while the primary is failing, both are asked at once."),
        Setting(key: "aws.secretsmanager_endpoints.*", defaultValue: "",
                applies: .restart, help: "Secrets Manager URL of a region (`aws.secretsmanager_endpoints.eu-west-1: https://...`): private endpoints; "
                    + "a failover region without one uses its regional endpoint."),
    ]

    static let secrets = [
        Setting(key: "secrets.prefix", defaultValue: "vigil", applies: .live, help: "Secret ids are `<prefix>/<environment>/<name>`."),
        Setting(key: "secrets.environment", defaultValue: "production", applies: .live, help: "The `<environment>` part of secret ids."),
        Setting(key: "secrets.ttl", defaultValue: "1h", applies: .live, help: "A cached value is served without asking AWS for this long."),
        Setting(key: "secrets.emergency_ttl", defaultValue: "24h",
                applies: .live, help: "While AWS fails, an expired value is still served up to this age."),
        Setting(key: "secrets.refresh_ahead", defaultValue: "5m",
                applies: .live, help: "Entries are refreshed in the background this long before their TTL ends (at most half the TTL)."),
        Setting(key: "secrets.max_entries", defaultValue: "1000", applies: .live,
                help: "Most configured secrets (`secrets.items`), 1-100000: a file with more is refused, naming this key; "
                    + "secrets read by id through the endpoint are bounded by `endpoint.cache_size`."),
        Setting(key: "secrets.max_backoff", defaultValue: "1m",
                applies: .live, help: "Longest pause between AWS attempts for a failing secret; never longer than the secrets probe interval."),
        Setting(key: "secrets.rotation_window", defaultValue: "1h",
                applies: .live, help: "AWSPENDING on another version than AWSCURRENT for longer than this is a stuck rotation "
                    + "(`rotation_stuck`): a rotation Lambda that failed half-way."),
        Setting(key: "secrets.rotation_grace", defaultValue: "24h",
                applies: .live, help: "A secret with rotation enabled whose `NextRotationDate` passed more than this ago is overdue "
                    + "(`rotation_overdue`)."),
        Setting(key: "secrets.items.*.id", defaultValue: "",
                applies: .live, help: "Secret id (name or ARN) of the item; empty = `<prefix>/<environment>/<item>`. Without any item, "
                    + "`database` and `redis` are configured with ids `.../database/credentials` and `.../redis/credentials`."),
        Setting(key: "secrets.items.*.keys", defaultValue: "",
                applies: .live, help: "JSON keys the secret must have (a list): a version without them is `malformed` "
                    + "(docs/lifecycle.md), as is one without the keys the probes that log in with it need."),
        Setting(key: "secrets.items.*.env", defaultValue: "",
                applies: .live, help: "Environment variable with the same JSON or a URL, used when AWS and the emergency cache cannot serve."),
        Setting(key: "secrets.items.*.required", defaultValue: "true",
                applies: .live, help: "An unavailable required secret makes the secrets component unhealthy."),
    ]

    /// The secrets endpoint: the AWS Secrets Manager Agent's HTTP API over Vigil's cache (docs/endpoint.md).
    static let endpoint = [
        Setting(key: "endpoint.enabled", defaultValue: "false",
                applies: .restart, help: "Serve the AWS Secrets Manager Agent's API (`/secretsmanager/get`, `/v1/<id>`, `/ping`) to applications from Vigil's cache."),
        Setting(key: "endpoint.listen_address", defaultValue: "127.0.0.1:2773",
                applies: .restart, help: "Address of the endpoint's own listener (the agent's port): `HOST:PORT`, or `unix:/PATH` for a Unix socket "
                    + "(mode 0660: the owner's and group's; a stale socket file is replaced)."),
        Setting(key: "endpoint.path_prefix", defaultValue: "/v1/", applies: .restart, help: "Prefix of path-style reads: `GET <prefix><secret id>`."),
        Setting(key: "endpoint.token_file", defaultValue: "",
                applies: .restart, help: "File holding the token requests must carry (re-read when it changes); empty = the first set of `endpoint.token_variables`."),
        Setting(key: "endpoint.token_variables", defaultValue: "AWS_TOKEN,AWS_SESSION_TOKEN,AWS_CONTAINER_AUTHORIZATION_TOKEN",
                applies: .restart, help: "Environment variables holding the token, first set wins; `file://PATH` in one means the file's contents (a list)."),
        Setting(key: "endpoint.token_headers", defaultValue: "X-Aws-Parameters-Secrets-Token,X-Vault-Token",
                applies: .restart, help: "Request headers that may carry the token (a list)."),
        Setting(key: "endpoint.allow", defaultValue: "",
                applies: .live, help: "Secret ids applications may read, or prefixes ending in `*` (a list); empty = the configured items' ids "
                    + "and `<prefix>/<environment>/*`. Anything else is refused without an AWS call."),
        Setting(key: "endpoint.allow_parameters", defaultValue: "",
                applies: .live, help: "Parameter Store names the endpoint's token may read at `/systemsmanager/parameters/get` "
                    + "(the Lambda extension's API), or prefixes ending in `*` (a list); empty = none. Cached as secrets are; "
                    + "an application's own token reads none."),
        Setting(key: "endpoint.tokens.*.token_file", defaultValue: "",
                applies: .restart, help: "An application's own token (`endpoint.tokens.<app>`), in a file re-read when it changes: "
                    + "it reads only its `allow` list, beside the endpoint's token, which keeps reading `endpoint.allow`."),
        Setting(key: "endpoint.tokens.*.allow", defaultValue: "",
                applies: .restart, help: "Secret ids (or prefixes ending in `*`) that application's token may read (a list, required): "
                    + "anything else is refused with 403 and no AWS call."),
        Setting(key: "endpoint.threads", defaultValue: "4",
                applies: .restart, help: "The endpoint's worker threads (its own libmicrohttpd pool), 1-64; a read that waits on AWS runs on a thread of its own."),
        Setting(key: "endpoint.max_connections", defaultValue: "800",
                applies: .restart, help: "Requests served at once, 1-10000 (the agent's default); past it 429."),
        Setting(key: "endpoint.timeout", defaultValue: "5s",
                applies: .restart, help: "Longest a read waits for AWS (a cold read, `refreshNow`); past it 504 `TimeoutError`, the read going on in the background."),
        Setting(key: "endpoint.max_waiters", defaultValue: "1000",
                applies: .restart, help: "Long polls (a read with `If-None-Match` and `wait`) held at once, 0-100000; past it a long poll "
                    + "is answered 503 with `Retry-After`. They hold no thread, and do not count against `max_connections`."),
        Setting(key: "endpoint.max_wait", defaultValue: "5m",
                applies: .restart, help: "Longest `wait` a long poll may ask (1s-1h); a longer one is cut to it."),
        Setting(key: "endpoint.cache_size", defaultValue: "1000",
                applies: .live, help: "Secrets read by id held besides the configured items (1-100000), the least recently read evicted; at most 64 KiB each."),
    ]

    static let cloudwatch = [
        Setting(key: "cloudwatch.enabled", defaultValue: "false", applies: .restart, help: "Publish custom metrics to CloudWatch."),
        Setting(key: "cloudwatch.interval", defaultValue: "60s", applies: .restart, help: "One PutMetricData request (or EMF line) per interval."),
        Setting(key: "cloudwatch.namespace", defaultValue: "Vigil", applies: .restart, help: "Metric namespace; `AWS/...` is refused."),
        Setting(key: "cloudwatch.dimensions.*", defaultValue: "",
                applies: .restart, help: "Dimensions on every datum (a map); without any, `Environment: <secrets.environment>`. "
                    + "`InstanceId` is added from EC2 metadata when available."),
        Setting(key: "cloudwatch.storage_resolution", defaultValue: "60", applies: .restart, help: "`60` (standard) or `1` (high resolution)."),
        Setting(key: "cloudwatch.mode", defaultValue: "api",
                applies: .restart, help: "`api` (PutMetricData) or `emf` (Embedded Metric Format lines for the CloudWatch agent)."),
        Setting(key: "cloudwatch.emf_output", defaultValue: "", applies: .restart, help: "File the EMF lines are appended to; empty = stdout."),
        Setting(key: "cloudwatch.buffer", defaultValue: "2h",
                applies: .restart, help: "Data kept while CloudWatch fails, sent oldest first when it answers; past it the oldest is dropped."),
        Setting(key: "cloudwatch.instance_dimension", defaultValue: "false",
                applies: .restart, help: "Add `InstanceId` (EC2) to every datum: per-instance metrics, billed per instance (docs/cost.md); "
                    + "off, instances share one set and alarms watch the fleet aggregate."),
        Setting(key: "cloudwatch.error_code_dimension", defaultValue: "false",
                applies: .restart, help: "Also publish AWSErrors per error code (an `ErrorCode` dimension)."),
        Setting(key: "cloudwatch.flush_timeout", defaultValue: "2s", applies: .restart, help: "Bound on the final flush at shutdown (shutdown as a whole stays under 5 s)."),
    ]

    /// Commands run, or signals sent, when a secret's version changes (docs/hooks.md).
    static let hooks = [
        Setting(key: "hooks.*.secrets", defaultValue: "",
                applies: .live, help: "The `secrets.items` whose version change runs the hook `hooks.<name>` (a list, required): AWSCURRENT moved, "
                    + "AWSPENDING taking over in a single-user rotation, or a stand-in for a malformed version adopted or dropped."),
        Setting(key: "hooks.*.command", defaultValue: "",
                applies: .live, help: "The command, an argv run without a shell (`[pm2, reload, app]`), with only `PATH`, `HOME`, `USER`, "
                    + "`LOGNAME`, `LANG`, `TZ`, `PM2_HOME`, `XDG_RUNTIME_DIR` of Vigil's environment and the changed secret's "
                    + "`VIGIL_SECRET_NAME`, `VIGIL_SECRET_ID`, `VIGIL_SECRET_VERSION_ID`, `VIGIL_SECRET_VERSION_STAGE`; never a value. "
                    + "Its output goes to Vigil's stderr."),
        Setting(key: "hooks.*.pid_file", defaultValue: "",
                applies: .live, help: "Instead of a command: the file holding the pid of the process to signal."),
        Setting(key: "hooks.*.signal", defaultValue: "",
                applies: .live, help: "The signal sent to the `pid_file`'s process: `HUP` (when empty), `USR1`, `USR2`, `TERM`, ..."),
        Setting(key: "hooks.*.timeout", defaultValue: "30s",
                applies: .live, help: "A command still running after this long is killed (its whole process group) and counted as `timeout`."),
        Setting(key: "hooks.*.debounce", defaultValue: "200ms",
                applies: .live, help: "Changes within this long of each other run the hook once (at most 4 times this after the first); "
                    + "a change while it runs runs it once more afterwards."),
    ]

    static let peers = [
        Setting(key: "database.sslmode", defaultValue: "prefer",
                applies: .live, help: "libpq `sslmode`: disable, allow, prefer, require, verify-ca, verify-full."),
        Setting(key: "database.ca_file", defaultValue: "", applies: .live, help: "libpq `sslrootcert` for verify-ca / verify-full."),
        Setting(key: "redis.ca_file", defaultValue: "",
                applies: .live, help: "CA bundle to verify Redis's certificate (`rediss://`); empty = the system's."),
        Setting(key: "redis.server_name", defaultValue: "",
                applies: .live, help: "Name to check in Redis's certificate; empty = the host from the credentials."),
        Setting(key: "redis.info", defaultValue: "true",
                applies: .live, help: "Read `INFO` each run and export role, connected clients and used memory."),
    ]

    /// The `probes.<target>.<setting>` names an environment variable can set.
    var probeSettingNames: [String] {
        VigilConfig.Probe.commonSettings + kinds.flatMap { $0.settings }.map(\.name).filter { !$0.contains("*") }
    }

    /// Keys with an environment variable (every non-pattern key).
    public var keys: [String] { settings.filter { !$0.isPattern }.map(\.key) }

    public func setting(_ key: String) -> Setting {
        guard let setting = settings.first(where: { $0.matches(key) }) else {
            preconditionFailure("configuration key \(key) missing from Schema.settings")
        }
        return setting
    }

    func isKnown(_ key: String) -> Bool { settings.contains { $0.matches(key) } }

    /// The tables in `docs/configuration.md` (`vigil config reference` prints them).
    public func markdownTable() -> String {
        let kinds = kinds.map { kind in
            let settings = kind.settings.isEmpty ? "none" : kind.settings.map { "`\($0.name)`" }.joined(separator: ", ")
            return "| `\(kind.name)` | \(kind.summary) | \(settings) | \(kind.defaultCritical ? "yes" : "no") |"
        }
        return (["Probe kinds (`probes.<name>.kind`):", "", "| Kind | Checks | Settings | Critical by default |", "|---|---|---|---|"]
            + kinds + ["", keyTable()]).joined(separator: "\n")
    }

    private func keyTable() -> String {
        let rows = settings.map { setting in
            let value = setting.defaultValue.isEmpty ? "(empty)" : "`\(setting.defaultValue)`"
            let variable = setting.environmentName.isEmpty ? "-" : "`\(setting.environmentName)`"
            return "| `\(setting.key)` | \(variable) | \(value) | \(setting.applies == .live ? "reload" : "restart") | \(setting.help) |"
        }
        return (["| Key | Environment variable | Default | Applies at | Meaning |", "|---|---|---|---|---|"] + rows).joined(separator: "\n")
    }
}
