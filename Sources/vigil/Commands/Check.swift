import ArgumentParser
import VigilConfig
import VigilPlatform
import VigilProbes
import VigilState

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every probe once, print a table and exit 0 healthy, 1 degraded, 2 unhealthy, 78 bad configuration.")

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let config = try options.load()
        _ = try WebSecurity.loadOrExit(config.web.configFile)
        if config.endpoint.enabled {
            _ = try EndpointSetup.tokenOrExit(config.endpoint)
            _ = try EndpointSetup.applicationsOrExit(config.endpoint)
        }
        let app = App(config: config, logger: nil)
        app.secrets.preload(maxWait: config.aws.timeout.timeInterval)  // a hung AWS costs at most one attempt
        for result in ProbeScheduler.runOnce(app.scheduler.entries) { app.store.record(result) }
        let snapshot = app.store.snapshot()
        print(CheckTable.render(snapshot))
        if !config.hooks.isEmpty { print("\n" + CheckTable.render(config.hooks)) }
        throw ExitCode(snapshot.status.exitCode)
    }
}

enum CheckTable {
    static func render(_ snapshot: HealthSnapshot) -> String {
        let rows = snapshot.components.map { component -> [String] in
            [component.name, component.critical ? "yes" : "no", component.serviceState(at: snapshot.now),
             component.latest?.reason.rawValue ?? "-",
             component.latest.map { "\($0.latency.milliseconds.decimalString(digits: 1))ms" } ?? "-",
             component.latest?.detail ?? ""]
        }
        let table = TextTable.render(header: ["COMPONENT", "CRITICAL", "STATE", "REASON", "LATENCY", "DETAIL"], rows: rows)
        return table + "\n\noverall: \(snapshot.status.rawValue)"
    }

    /// What each hook would do on a change (`vigil check` runs none).
    static func render(_ hooks: [VigilConfig.Hook]) -> String {
        let rows = hooks.map { hook -> [String] in
            let action = switch hook.action {
            case .command(let argv): "run " + argv.joined(separator: " ")
            case .signal(let signal, let pidFile): "signal \(SignalName.known.first { $0.value == signal }?.key ?? "\(signal)") to the pid in \(pidFile)"
            }
            return [hook.name, hook.secrets.joined(separator: ","), DurationParser.format(hook.timeout), DurationParser.format(hook.debounce), action]
        }
        return TextTable.render(header: ["HOOK", "ON A NEW VERSION OF", "TIMEOUT", "DEBOUNCE", "ACTION"], rows: rows)
    }
}
