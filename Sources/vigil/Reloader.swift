import FoundationEssentials
import Glibc
import Logging
import VigilConfig
import VigilProbes
import VigilPlatform
import VigilWeb

/// Re-reads the configuration on SIGHUP and `POST /-/reload`, and the web
/// configuration when its files change (cert-manager renews certificates
/// in place; exporter-toolkit reads them per handshake). A file that does
/// not load is refused with its problems logged: the running configuration
/// stays and `vigil_config_last_reload_successful` turns 0.
final class Reloader: Sendable {
    private let app: App
    private let file: String?
    private let flags: [String: String]
    private let logger: Logger
    /// Held for a whole reload: a signal, a request and the watcher never overlap.
    private let serial = Locked<[[Int]?]>([])

    init(app: App, file: String?, flags: [String: String], logger: Logger) {
        self.app = app
        self.file = file
        self.flags = flags
        self.logger = logger
    }

    /// Loads both files anew and applies them.
    @discardableResult
    func reload(trigger: String) -> ReloadOutcome {
        serial.withLock { stamps in
            let outcome = apply(trigger: trigger)
            app.telemetry.configurationLoaded(successfully: outcome.succeeded, at: Date().timeIntervalSince1970)
            stamps = app.watchedFiles.map(fileStamp)
            return outcome
        }
    }

    private func apply(trigger: String) -> ReloadOutcome {
        let loaded: (config: VigilConfig, web: WebSecurity)
        do throws(ConfigError) {
            let config = try VigilConfig.load(file: file, flags: flags, kinds: ProbeCatalog.kinds)
            loaded = (config, try WebSecurity.load(config.web.configFile))
        } catch {
            for problem in error.problems {
                logger.error("reload refused: invalid configuration", metadata: [
                    "trigger": "\(trigger)", "key": "\(problem.key)", "origin": "\(problem.origin ?? "-")", "problem": "\(problem.message)"])
            }
            return ReloadOutcome(succeeded: false, message: "\(error)")
        }
        do {
            let applied = try app.reload(loaded.config, web: loaded.web)
            if !applied.restartNeeded.isEmpty {
                logger.warning("reload: these settings take effect at the next restart", metadata: [
                    "keys": "\(applied.restartNeeded.joined(separator: ","))"])
            }
            logger.info("configuration reloaded", metadata: ["trigger": "\(trigger)", "targets": "\(applied.targets)"])
            return ReloadOutcome(succeeded: true, message: "configuration reloaded")
        } catch {
            logger.error("reload refused", metadata: ["trigger": "\(trigger)", "error": "\(error)"])
            return ReloadOutcome(succeeded: false, message: "\(error)")
        }
    }

    /// Checks the web configuration's files every second and applies them
    /// when one changed. A change that does not load (a key written before
    /// its certificate) is logged once and retried at the next change.
    func watchWebFiles() {
        serial.withLock { $0 = app.watchedFiles.map(fileStamp) }
        startDetachedThread(name: "web-watch") { [self] in
            while true {
                usleep(1_000_000)
                serial.withLock { stamps in
                    let files = app.watchedFiles
                    let now = files.map(fileStamp)
                    guard now != stamps else { return }
                    stamps = now
                    var succeeded = true
                    do {
                        try app.reloadWeb(try WebSecurity.load(app.config.web.configFile))
                        logger.info("web configuration reloaded", metadata: ["trigger": "file change"])
                    } catch {
                        succeeded = false
                        logger.error("web configuration not reloaded; the previous one stays", metadata: ["error": "\(error)"])
                    }
                    app.telemetry.configurationLoaded(successfully: succeeded, at: Date().timeIntervalSince1970)
                }
            }
        }
    }
}
