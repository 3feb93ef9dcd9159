import ArgumentParser
import Foundation
import VigilProbes
import VigilState

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every probe once, print a table and exit 0 healthy, 1 degraded, 2 unhealthy, 78 bad configuration.")

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let config = try options.load()
        let app = App(config: config, logger: nil)
        for result in ProbeScheduler.runOnce(app.entries) { app.store.record(result) }
        let snapshot = app.store.snapshot()
        print(CheckTable.render(snapshot))
        throw ExitCode(snapshot.status.exitCode)
    }
}

enum CheckTable {
    static func render(_ snapshot: HealthSnapshot) -> String {
        let header = ["COMPONENT", "CRITICAL", "STATE", "REASON", "LATENCY", "DETAIL"]
        let rows = snapshot.components.map { component -> [String] in
            [component.name, component.critical ? "yes" : "no", component.serviceState(at: snapshot.now),
             component.latest?.reason.rawValue ?? "-",
             component.latest.map { String(format: "%.1fms", Double($0.latency.components.attoseconds) / 1e15
                                           + Double($0.latency.components.seconds) * 1000) } ?? "-",
             component.latest?.detail ?? ""]
        }
        let table = [header] + rows
        let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        let lines = table.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return (lines + ["", "overall: \(snapshot.status.rawValue)"]).joined(separator: "\n")
    }
}
