import FoundationEssentials
import Logging
import VigilAWS
import VigilCloudWatch
import VigilConfig
import VigilHTTP
import VigilPlatform
import VigilProbes
import VigilSecrets
import VigilState

/// Wires the data flow: config -> secrets -> probes -> state -> HTTP.
struct App {
    let config: VigilConfig
    let telemetry: Telemetry
    let secrets: SecretsClient
    let store: HealthStore
    let entries: [ProbeScheduler.Entry]
    let scheduler: ProbeScheduler
    let cloudWatch: CloudWatchPublisher?
    /// systemd's `Type=notify` channel (no-op unless started with `NOTIFY_SOCKET`).
    let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)

    init(config: VigilConfig, logger: Logger?) {
        self.config = config
        telemetry = Telemetry(version: BuildInfo.version, revision: BuildInfo.revision)
        let quiet = Logger(label: "vigil") { _ in SwiftLogNoOpLogHandler() }
        let aws = SecretsSetup.aws(config: config.aws, registry: telemetry.registry)
        secrets = SecretsSetup.client(config: config, aws: aws, registry: telemetry.registry, logger: logger ?? quiet)
        let context = ProbeContext(secrets: secrets, minimumHitRatio: config.health.minimumCacheHitRatio)
        let probes = config.probes.filter(\.enabled).compactMap { target in
            ProbeCatalog.probe(for: ProbeTarget(name: target.name, kind: target.kind.name, secret: target.secret,
                                                settings: target.settings, headers: target.headers), context: context)
                .map { (target: target, probe: $0) }
        }
        entries = probes.map { ProbeScheduler.Entry(probe: $0.probe, interval: $0.target.interval, timeout: $0.target.timeout) }
        let components = probes.map { target, _ in
            ComponentHealth(name: target.name, critical: target.critical, interval: target.interval,
                            reportsConnection: target.kind.reportsConnection, latencyThreshold: config.health.latencyThreshold)
        }
        telemetry.prepare(probes: probes.map { $0.probe })
        telemetry.publishThresholds(.init(latency: config.health.latencyThreshold,
                                          minimumHitRatio: config.health.minimumCacheHitRatio,
                                          secretsTTL: secrets.configuration.ttl, secretsEmergencyTTL: secrets.configuration.emergencyTTL,
                                          probes: entries.map { ($0.probe.name, $0.interval, $0.timeout) }))
        store = HealthStore(components: components, version: BuildInfo.version, telemetry: telemetry)
        let latencies = ProbeLatencyWindow()
        cloudWatch = config.cloudWatch.enabled
            ? CloudWatchSetup.publisher(config: config.cloudWatch, aws: aws, inputs: .init(
                store: store, secrets: secrets, awsMetrics: aws?.metrics, latencies: latencies),
                registry: telemetry.registry, logger: logger ?? quiet)
            : nil
        scheduler = ProbeScheduler(entries: entries, sink: ProbeResultFanOut(
            [LoggingSink(store: store, logger: logger, notifier: notifier)] + (cloudWatch == nil ? [] : [latencies])))
        let secretsProbes = probes.filter { $0.target.kind.followsSecrets }.map { $0.target.name }
        secrets.onStateChange { [scheduler] in for name in secretsProbes { scheduler.runSoon(name) } }
    }

    /// Loads `web.config_file` (TLS, basic auth) into server options.
    func webSecurity() throws(ConfigError) -> (tls: (key: String, certificate: String)?, users: BasicAuthUsers?) {
        guard let path = config.web.configFile else { return (nil, nil) }
        let file = try WebConfigFile.load(path: path)
        return (file.tls, file.users.isEmpty ? nil : BasicAuthUsers(hashes: file.users))
    }

    func startServer(tls: (key: String, certificate: String)?, users: BasicAuthUsers?) throws(HTTPServerError) -> HTTPServer {
        var routeOptions = VigilRoutes.Options()
        routeOptions.telemetryPath = config.web.telemetryPath
        routeOptions.unhealthyStatusCode = config.health.unhealthyStatusCode
        routeOptions.telemetryCacheSeconds = config.web.telemetryCache.timeInterval
        routeOptions.version = BuildInfo.version
        routeOptions.showDetails = switch config.health.showDetails {
        case .always: .always
        case .whenAuthorized: .whenAuthorized
        case .never: .never
        }
        let routes = VigilRoutes(store: store, telemetry: telemetry, options: routeOptions)
        var serverOptions = HTTPServer.Options()
        serverOptions.threads = config.web.threads
        serverOptions.connectionLimit = min(config.web.maxConnections, OpenFileLimit.connectionBudget)
        serverOptions.perAddressLimit = config.web.maxConnectionsPerIP
        serverOptions.idleTimeoutSeconds = Int(config.web.idleTimeout.timeInterval)
        serverOptions.tls = tls
        serverOptions.users = users
        serverOptions.openPaths = VigilRoutes.openPaths
        return try HTTPServer(address: ListenAddress(parsing: config.web.listenAddress), options: serverOptions,
                              handler: routes.respond(to:))
    }
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
