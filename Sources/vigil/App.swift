import Foundation
import Synchronization
import Logging
import VigilConfig
import VigilHTTP
import VigilProbes
import VigilSecrets
import VigilState

/// Wires the data flow: config -> credentials -> probes -> state -> HTTP.
struct App {
    let config: VigilConfig
    let telemetry: Telemetry
    let store: HealthStore
    let entries: [ProbeScheduler.Entry]
    let scheduler: ProbeScheduler

    init(config: VigilConfig, logger: Logger?) {
        self.config = config
        telemetry = Telemetry(version: BuildInfo.version, revision: BuildInfo.revision)
        let environment = ProcessInfo.processInfo.environment
        let databaseVariable = config.database.urlEnvironmentVariable
        let redisVariable = config.redis.urlEnvironmentVariable
        let probes: [any Probe] = [
            PostgresProbe(sslMode: config.databaseSSLMode) { () throws(CredentialsError) in
                guard let url = environment[databaseVariable] else { throw .missing(source: databaseVariable) }
                return try ConnectionURL.database(url, source: databaseVariable)
            },
            RedisProbe { () throws(CredentialsError) in
                guard let url = environment[redisVariable] else { throw .missing(source: redisVariable) }
                return try ConnectionURL.redis(url, source: redisVariable)
            },
        ]
        entries = probes.compactMap { probe in
            guard let settings = config.probes[probe.name], settings.enabled else { return nil }
            return ProbeScheduler.Entry(probe: probe, interval: settings.interval, timeout: settings.timeout)
        }
        let components = entries.map { entry in
            ComponentHealth(name: entry.probe.name, critical: config.probes[entry.probe.name]?.critical ?? true,
                            interval: entry.interval)
        }
        store = HealthStore(components: components, version: BuildInfo.version, telemetry: telemetry)
        scheduler = ProbeScheduler(entries: entries, sink: LoggingSink(store: store, logger: logger))
    }

    func startServer() throws(HTTPServerError) -> HTTPServer {
        var routeOptions = VigilRoutes.Options()
        routeOptions.telemetryPath = config.web.telemetryPath
        routeOptions.unhealthyStatusCode = config.health.unhealthyStatusCode
        routeOptions.telemetryCacheSeconds = config.web.telemetryCache.timeInterval
        routeOptions.version = BuildInfo.version
        let routes = VigilRoutes(store: store, telemetry: telemetry, options: routeOptions)
        var serverOptions = HTTPServer.Options()
        serverOptions.threads = config.web.threads
        serverOptions.connectionLimit = config.web.maxConnections
        serverOptions.idleTimeoutSeconds = Int(config.web.idleTimeout.timeInterval)
        return try HTTPServer(address: ListenAddress(parsing: config.web.listenAddress), options: serverOptions,
                              handler: routes.respond(to:))
    }
}

/// Passes results to the store and logs each change of a probe's outcome
/// (not every run: a healthy service logs nothing).
final class LoggingSink: ProbeResultSink {
    private let store: HealthStore
    private let logger: Logger?
    private let lastReason = Mutex<[String: ProbeReason]>([:])

    init(store: HealthStore, logger: Logger?) {
        self.store = store
        self.logger = logger
    }

    func record(_ result: ProbeResult) {
        store.record(result)
        let previous = lastReason.withLock { $0.updateValue(result.reason, forKey: result.probe) }
        guard previous != result.reason, let logger else { return }
        var metadata: Logger.Metadata = ["probe": "\(result.probe)", "reason": "\(result.reason.rawValue)"]
        if !result.detail.isEmpty { metadata["detail"] = "\(result.detail)" }
        if result.succeeded { logger.info(previous == nil ? "probe up" : "probe recovered", metadata: metadata) }
        else { logger.warning("probe failing", metadata: metadata) }
    }

    func firstRoundCompleted() {
        store.firstRoundCompleted()
        logger?.info("first probe round completed", metadata: ["status": "\(store.snapshot().status.rawValue)"])
    }
}
