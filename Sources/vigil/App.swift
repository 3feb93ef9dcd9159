import FoundationEssentials
import Logging
import VigilAWS
import VigilCloudWatch
import VigilConfig
import VigilEndpoint
import VigilHTTP
import VigilHooks
import VigilPlatform
import VigilProbes
import VigilResults
import VigilSecrets
import VigilState
import VigilWeb

/// Wires the data flow: config -> secrets -> probes -> state -> HTTP, and
/// re-wires the parts a reload may change.
final class App: Sendable {
    let telemetry: Telemetry
    let secrets: SecretsClient
    let store: HealthStore
    let scheduler: ProbeScheduler
    let cloudWatch: CloudWatchPublisher?
    /// `hooks:`; started by `serve` alone (`vigil check` runs none).
    let hooks: HookRunner
    /// The secrets endpoint's component (`endpoint.enabled`), kept across reloads.
    let endpointProbe: EndpointProbe?
    /// systemd's `Type=notify` channel (no-op unless started with `NOTIFY_SOCKET`).
    let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
    /// What a reload replaces; held for the whole of a reload, so two never overlap.
    private let running: Locked<Running>

    private struct Running {
        var config: VigilConfig
        var targets: [String: Target]
        var web = WebSecurity()
        var server: HTTPServer?
        var reload: (@Sendable () -> ReloadOutcome)?
        var endpoint: EndpointRoutes?
    }

    /// A probe and the settings it was built from: a reload that leaves
    /// them alone keeps the probe, and with it its kept connection.
    private struct Target {
        var definition: [String: String]
        var probe: any Probe
    }

    var config: VigilConfig { running.withLock { $0.config } }

    init(config: VigilConfig, logger: Logger?) {
        telemetry = Telemetry(version: BuildInfo.version, revision: BuildInfo.revision)
        let quiet = Logger(label: "vigil") { _ in SwiftLogNoOpLogHandler() }
        let aws = SecretsSetup.aws(config: config.aws, registry: telemetry.registry,
                                   parameters: config.endpoint.enabled && !config.endpoint.allowParameters.isEmpty)
        secrets = SecretsSetup.client(config: config, aws: aws, registry: telemetry.registry, logger: logger ?? quiet)
        endpointProbe = config.endpoint.enabled
            ? EndpointProbe(context: ProbeContext(secrets: secrets, minimumHitRatio: config.health.minimumCacheHitRatio)) : nil
        let plan = Self.plan(config, secrets: secrets, reusing: [:], endpoint: endpointProbe)
        telemetry.prepare(probes: plan.entries.map { ($0.probe.name, $0.probe.failureReasons) })
        store = HealthStore(components: plan.components, version: BuildInfo.version, telemetry: telemetry)
        let latencies = ProbeLatencyWindow()
        cloudWatch = config.cloudWatch.enabled
            ? CloudWatchSetup.publisher(config: config.cloudWatch, aws: aws, inputs: .init(
                store: store, secrets: secrets, awsMetrics: aws?.metrics, latencies: latencies,
                certificates: telemetry.certificates),
                registry: telemetry.registry, logger: logger ?? quiet)
            : nil
        scheduler = ProbeScheduler(entries: plan.entries, sink: ProbeResultFanOut(
            [LoggingSink(store: store, logger: logger, notifier: notifier)] + (cloudWatch == nil ? [] : [latencies])))
        hooks = HookRunner(hooks: config.hooks, secrets: secrets, environment: ProcessInfo.processInfo.environment,
                           fallbackVariables: Set(secrets.configuration.items.compactMap(\.fallbackVariable)),
                           registry: telemetry.registry, logger: logger ?? quiet)
        running = Locked(Running(config: config, targets: plan.targets))
        publishThresholds(config, plan.entries)
        telemetry.configurationLoaded(successfully: true, at: Date().timeIntervalSince1970)
        secrets.onStateChange { [self] in
            let names = running.withLock { $0.targets.filter { $0.value.probe is SecretsProbe }.map(\.key) }
            for name in names { scheduler.runSoon(name) }
        }
    }

    // MARK: Probes from configuration

    private struct Plan {
        var targets: [String: Target]
        var entries: [ProbeScheduler.Entry]
        var components: [ComponentHealth]
    }

    /// The probes of `config`'s enabled targets, reusing those of `previous`
    /// whose settings did not change; and the endpoint's, unless a target
    /// of that name is configured.
    private static func plan(_ config: VigilConfig, secrets: SecretsClient, reusing previous: [String: Target],
                             endpoint: EndpointProbe?) -> Plan {
        let context = ProbeContext(secrets: secrets, minimumHitRatio: config.health.minimumCacheHitRatio)
        var plan = Plan(targets: [:], entries: [], components: [])
        for target in config.probes.filter(\.enabled) {
            let definition = Self.definition(of: target, in: config)
            let reused = previous[target.name].flatMap { $0.definition == definition ? $0.probe : nil }
            guard let probe = reused ?? ProbeCatalog.probe(for: target, context: context) else { continue }
            plan.targets[target.name] = Target(definition: definition, probe: probe)
            plan.entries.append(ProbeScheduler.Entry(probe: probe, interval: target.interval, timeout: target.timeout,
                                                        retryInterval: target.retryInterval))
            plan.components.append(ComponentHealth(name: target.name, critical: target.critical, interval: target.interval,
                                                   reportsConnection: target.kind.reportsConnection,
                                                   latencyThreshold: config.health.latencyThreshold))
        }
        if let endpoint, plan.targets[endpoint.name] == nil {
            plan.entries.append(ProbeScheduler.Entry(probe: endpoint, interval: config.probes.interval, timeout: config.probes.timeout,
                                                        retryInterval: config.probes.retryInterval))
            plan.components.append(ComponentHealth(name: endpoint.name, critical: false, interval: config.probes.interval,
                                                   reportsConnection: false, latencyThreshold: config.health.latencyThreshold))
        }
        return plan
    }

    /// What a probe is built from: its target's resolved settings (not the
    /// schedule, which the scheduler applies) and, for the secrets probe,
    /// the hit ratio floor. Built from the keys under `probes.<name>` alone,
    /// a reload changing `database.sslmode` (which the database target
    /// falls back to) kept the probe, and the old mode.
    private static func definition(of target: VigilConfig.Probe, in config: VigilConfig) -> [String: String] {
        var definition = target.definition
        definition["health.min_cache_hit_ratio"] = config.effective["health.min_cache_hit_ratio"]
        // Its credentials are parsed with its item's keys, read when the probe is built.
        definition["secret.keys"] = config.secrets.items.first { $0.name == target.secret }?.keys.joined(separator: ",")
        return definition
    }

    private func publishThresholds(_ config: VigilConfig, _ entries: [ProbeScheduler.Entry]) {
        let secrets = self.secrets.configuration
        telemetry.publishThresholds(.init(latency: config.health.latencyThreshold,
                                          minimumHitRatio: config.health.minimumCacheHitRatio,
                                          secretsTTL: secrets.ttl, secretsEmergencyTTL: secrets.emergencyTTL,
                                          probes: entries.map { ($0.probe.name, $0.interval, $0.timeout) }))
    }

    // MARK: HTTP

    /// Starts serving on every listen address with the web configuration's security.
    func startServer(web: WebSecurity, reload: (@Sendable () -> ReloadOutcome)?) throws(HTTPServerError) -> HTTPServer {
        try running.withLock { (running: inout Running) throws(HTTPServerError) -> HTTPServer in
            var options = HTTPServer.Options()
            let config = running.config
            options.threads = config.web.threads
            options.connectionLimit = min(config.web.maxConnections, OpenFileLimit.connectionBudget)
            options.perAddressLimit = config.web.maxConnectionsPerIP
            options.idleTimeoutSeconds = Int(config.web.idleTimeout.timeInterval)
            options.tls = web.tls
            options.users = web.users
            options.headers = web.headers
            options.openPaths = VigilRoutes.openPaths
            options.uncheckedPaths = VigilRoutes.uncheckedPaths
            var addresses: [ListenAddress] = []
            for text in config.web.listenAddresses { addresses.append(try ListenAddress(parsing: text)) }
            let server = try HTTPServer(addresses: addresses, options: options,
                                        handler: routes(config, web: web, reload: reload).respond(to:))
            running.web = web
            running.server = server
            recordCertificate(web)
            running.reload = reload
            return server
        }
    }

    private func routes(_ config: VigilConfig, web: WebSecurity, reload: (@Sendable () -> ReloadOutcome)?) -> VigilRoutes {
        var options = VigilRoutes.Options()
        options.telemetryPath = config.web.telemetryPath
        options.unhealthyStatusCode = config.health.unhealthyStatusCode
        options.telemetryCacheSeconds = config.web.telemetryCache.timeInterval
        options.version = BuildInfo.version
        options.headers = web.headers
        options.reload = reload
        options.showDetails = switch config.health.showDetails {
        case .always: .always
        case .whenAuthorized: .whenAuthorized
        case .never: .never
        }
        return VigilRoutes(store: store, telemetry: telemetry, options: options)
    }

    // MARK: Reload

    /// Applies a configuration loaded anew (SIGHUP, `POST /-/reload`): the
    /// secrets items and TTLs, targets, schedules, thresholds, the log level
    /// and the web configuration. Unchanged targets keep their probe and
    /// connection. Settings read only at start are named, not applied.
    func reload(_ config: VigilConfig, web: WebSecurity) throws(HTTPServerError) -> (restartNeeded: [String], targets: Int) {
        try running.withLock { (running: inout Running) throws(HTTPServerError) in
            if let server = running.server {
                try server.update(tls: web.tls, users: web.users, headers: web.headers,
                                  handler: routes(config, web: web, reload: running.reload).respond(to:))
            }
            let restart = config.effective.keys.filter { config.schema.setting($0).applies == .restart && config.effective[$0] != running.config.effective[$0] }
            secrets.reconfigure(SecretsSetup.configuration(for: config))
            // The default allow-list follows the items and secrets.environment; endpoint.allow replaces it.
            running.endpoint?.update(allow: EndpointSetup.allowList(config, items: secrets.configuration.items),
                                     parameters: AllowList(config.endpoint.allowParameters))
            hooks.configure(config.hooks)
            let plan = Self.plan(config, secrets: secrets, reusing: running.targets, endpoint: endpointProbe)
            telemetry.prepare(probes: plan.entries.map { ($0.probe.name, $0.probe.failureReasons) })
            store.reconfigure(plan.components)
            scheduler.replace(plan.entries)
            publishThresholds(config, plan.entries)
            LogSetup.level.set(config.log.level)
            running.config = config
            running.targets = plan.targets
            running.web = web
            recordCertificate(web)
            return (restart.sorted(), plan.entries.count)
        }
    }

    /// The secrets endpoint's routes, whose allow-list a reload replaces.
    func attach(endpoint: EndpointRoutes) {
        running.withLock { $0.endpoint = endpoint }
    }

    /// Re-reads the web configuration alone: what the certificate watcher does.
    func reloadWeb(_ web: WebSecurity) throws(HTTPServerError) {
        try running.withLock { (running: inout Running) throws(HTTPServerError) in
            try running.server?.update(tls: web.tls, users: web.users, headers: web.headers,
                                       handler: routes(running.config, web: web, reload: running.reload).respond(to:))
            running.web = web
            recordCertificate(web)
        }
    }

    /// The web listener's certificate chain as loaded (`TLSSettings` holds
    /// the file's text), whenever its TLS settings are applied: at start, at
    /// a reload, after a renewal on disk.
    private func recordCertificate(_ web: WebSecurity) {
        telemetry.certificates.record(web.tls.flatMap { Certificates.parse(pem: [$0.certificate]) }, of: .listener("web"))
    }

    /// The files whose change means new TLS material.
    var watchedFiles: [String] { running.withLock { $0.web.watchedFiles } }
}

/// Passes results to the store and logs each change of a probe's outcome
/// (not every run: a healthy service logs nothing).
final class LoggingSink: ProbeResultSink {
    private let store: HealthStore
    private let logger: Logger?
    private let notifier: SystemdNotifier
    private let lastOutcome = Locked<[String: String]>([:])

    init(store: HealthStore, logger: Logger?, notifier: SystemdNotifier) {
        self.store = store
        self.logger = logger
        self.notifier = notifier
    }

    func record(_ result: ProbeResult) {
        store.record(result)
        let outcome = result.reason.rawValue + (result.degraded ? "/degraded" : "")
        let previous = lastOutcome.withLock { $0.updateValue(outcome, forKey: result.probe) }
        guard previous != outcome, let logger else { return }
        var metadata: Logger.Metadata = ["probe": "\(result.probe)", "reason": "\(result.reason.rawValue)"]
        if !result.detail.isEmpty { metadata["detail"] = "\(result.detail)" }
        if !result.isAvailable { logger.warning("probe failing", metadata: metadata) }
        else if result.degraded { logger.warning("probe degraded", metadata: metadata) }
        else { logger.info(previous == nil ? "probe up" : "probe recovered", metadata: metadata) }
    }

    func firstRoundCompleted() {
        store.firstRoundCompleted()
        let status = store.snapshot().status.rawValue
        logger?.info("first probe round completed", metadata: ["status": "\(status)"])
        notifier.notify("READY=1\nSTATUS=first probe round completed: \(status)")
    }
}
