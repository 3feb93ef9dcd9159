import ArgumentParser
import Glibc
import Logging
import VigilHTTP
import VigilPlatform
import VigilWeb

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the probes and serve /metrics and /health (the default).")

    @OptionGroup var options: ConfigOptions

    @Flag(name: .customLong("web.enable-lifecycle"), help: "Serve POST /-/reload (as Prometheus does); SIGHUP reloads either way.")
    var enableLifecycle = false

    func run() throws {
        let config = try options.load()
        let logger = LogSetup.bootstrap(config.log)
        for warning in config.warnings { logger.warning("\(warning)") }
        if !CoreDumps.disable() { logger.warning("cannot disable core dumps; a core file would hold cached secrets") }
        let openFiles = OpenFileLimit.raise()
        let web = try WebSecurity.loadOrExit(config.web.configFile)
        let token = config.endpoint.enabled ? try EndpointSetup.tokenOrExit(config.endpoint) : nil
        let applications = config.endpoint.enabled ? try EndpointSetup.applicationsOrExit(config.endpoint) : []
        let app = App(config: config, logger: logger)
        let reloader = Reloader(app: app, file: options.resolvedFile, flags: options.flagOverrides, logger: logger)
        // Block the signals before any thread starts, so every thread
        // inherits the mask and only `signals.wait()` receives them.
        let signals = ControlSignals()
        let reload: (@Sendable () -> ReloadOutcome)? = enableLifecycle ? { @Sendable in reloader.reload(trigger: "http") } : nil
        let server: HTTPServer
        let endpoint: HTTPServer?
        do {
            server = try app.startServer(web: web, reload: reload)
            endpoint = try token.map { token throws(HTTPServerError) in
                let (listener, routes) = try EndpointSetup.start(config, token: token, applications: applications, secrets: app.secrets,
                                                                 registry: app.telemetry.registry, logger: logger)
                app.attach(endpoint: routes)
                return listener
            }
            if let endpoint {
                let bound = endpoint.boundAddress
                app.endpointProbe?.attach(base: bound.unixPath == nil ? "http://\(bound)" : "http://localhost",
                                          unixSocket: bound.unixPath)
            }
        } catch {
            logger.error("cannot start HTTP server", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        // Secrets load in the background: /health and /health/live answer
        // meanwhile, /health/ready waits for the first probe round.
        startDetachedThread(name: "preload") {
            // A hung AWS delays the first probe round by at most this; the
            // probes then find stale or environment values, or report why not.
            app.secrets.preload(maxWait: app.config.aws.timeout.timeInterval)
            app.secrets.startRefreshing()
            app.scheduler.start()
            app.hooks.start()
        }
        app.cloudWatch?.start()
        reloader.watchWebFiles()
        for address in server.boundAddresses {
            logger.info("listening", metadata: ["address": "\(address)", "version": "\(BuildInfo.version)",
                                                "telemetry_path": "\(config.web.telemetryPath)", "open_files": "\(openFiles)"])
        }
        if config.web.maxConnections > OpenFileLimit.connectionBudget {
            logger.warning("web.max_connections capped to fit the open-file limit", metadata: [
                "configured": "\(config.web.maxConnections)", "effective": "\(OpenFileLimit.connectionBudget)"])
        }
        if let pace = app.notifier.watchdogInterval { startWatchdog(app, every: pace) }
        var signal = signals.wait()
        while signal == .hangUp {
            // READY=1 again only if it was sent: before the first round it is the round's to send.
            let ready = app.store.isReady
            if ready { app.notifier.notify("RELOADING=1") }
            reloader.reload(trigger: "SIGHUP")
            if ready { app.notifier.notify("READY=1") }
            signal = signals.wait()
        }
        shutDown(app, server: server, endpoint: endpoint, logger: logger, signal: signal)
    }

    private func shutDown(_ app: App, server: HTTPServer, endpoint: HTTPServer?, logger: Logger, signal: ControlSignals.Received) {
        // Exit within 5 s whatever hangs (orchestrators kill a few seconds
        // later): the steps below have 4 s, and this thread ends the process
        // at 5 s if one of them is stuck anyway: a write to a log pipe
        // nobody reads (Docker's blocking log driver with its sink down),
        // an STS call for the final CloudWatch flush under a lock a refresh
        // holds (10 s each). Both once held SIGTERM for 11-20 s or for good.
        startDetachedThread(name: "exit-deadline") {
            usleep(5_000_000)
            _exit(0)
        }
        app.notifier.notify("STOPPING=1")
        logger.info("shutting down", metadata: ["signal": "\(signal.rawValue)"])
        let deadline = ContinuousClock.now + .seconds(4)
        server.stop(grace: 1.5)
        endpoint?.stop(grace: 0.5)  // cache reads take microseconds; a cold read waiting on AWS is cut
        app.secrets.stopRefreshing()
        app.cloudWatch?.stop(by: deadline - .milliseconds(500))  // final flush, within cloudwatch.flush_timeout too
        if !app.scheduler.stop(grace: max(0.1, ContinuousClock.now.duration(to: deadline).timeInterval)) {
            logger.warning("a probe was still running at exit")
            logger.info("stopped")
            _exit(0)  // skip atexit handlers that would pull C libraries from under the probe
        }
        logger.info("stopped")
    }
}

extension Serve {
    /// systemd's watchdog: `WATCHDOG=1` at half `WATCHDOG_USEC`, from READY=1
    /// on, while the probe loops go round; silence makes systemd restart Vigil.
    private func startWatchdog(_ app: App, every pace: Duration) {
        startDetachedThread(name: "watchdog") {
            while true {
                if app.store.isReady && app.scheduler.loopsAreAlive { app.notifier.notify("WATCHDOG=1") }
                usleep(UInt32(min(pace.timeInterval, 3600) * 1_000_000))
            }
        }
    }
}
