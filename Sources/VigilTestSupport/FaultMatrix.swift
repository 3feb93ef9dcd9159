import Foundation
import Testing

/// A running `vigil serve` seen from outside, as a load balancer and an
/// operator see it: `/health` parsed, `/metrics` as text.
public final class VigilUnderTest {
    public let process: VigilProcess
    public let base: String

    /// What `/health` said at one moment.
    public struct Health {
        public var code: Int
        public var status: String
        public var services: [String: String]
        public var checks: [String: (status: String, reason: String)]
        /// Milliseconds the request took.
        public var latency: Double
    }

    /// The configuration file it was started with.
    public let configFile: URL
    /// The CA file its https listener's certificate chains to (`scheme` https).
    public var caFile: String?
    private var client: CurlClient { CurlClient(caBundle: caFile) }

    /// `config`: YAML written to a temporary file; `arguments`: added to
    /// `serve`'s; `launcher`: a command the binary runs under (e.g.
    /// `prlimit --nofile=1024:1024`); `scheme`: https with a web config.
    public init(config: String, arguments: [String] = [], environment: [String: String] = [:], launcher: [String] = [],
                scheme: String = "http") throws {
        configFile = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-matrix-\(UUID().uuidString.prefix(8)).yml")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        process = try VigilProcess(["serve", "--config", configFile.path, "--web.listen-address", "127.0.0.1:0"] + arguments,
                                   environment: environment, launcher: launcher)
        guard let address = process.waitForListenAddress() else {
            throw CurlClient.Failure(code: -1, description: "vigil did not start: \(process.log)")
        }
        base = "\(scheme)://\(address)"
    }

    /// Replaces the configuration file (atomically, as editors and
    /// configuration management do) and sends SIGHUP.
    public func reload(config: String) throws {
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        kill(process.process.pid, SIGHUP)
    }

    public func health() -> Health? {
        let started = DispatchTime.now().uptimeNanoseconds
        guard let response = try? client.request(base + "/health", timeoutSeconds: 2),
              let json = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else { return nil }
        let latency = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
        let checks = (json["checks"] as? [String: [String: Any]] ?? [:]).mapValues {
            (status: $0["status"] as? String ?? "", reason: $0["reason"] as? String ?? "")
        }
        return Health(code: response.status, status: json["status"] as? String ?? "",
                      services: json["services"] as? [String: String] ?? [:], checks: checks, latency: latency)
    }

    public var metrics: String { (try? client.request(base + "/metrics").text) ?? "" }

    /// One component's check in `/health?verbose`: its status, reason and
    /// facts (subject, then field); empty when it cannot be read.
    public func verboseCheck(_ component: String) -> (status: String, reason: String, facts: [String: [String: String]]) {
        guard let body = try? client.request(base + "/health?verbose").body,
              let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let checks = json["checks"] as? [String: Any], let check = checks[component] as? [String: Any] else { return ("", "", [:]) }
        return (check["status"] as? String ?? "", check["reason"] as? String ?? "", check["facts"] as? [String: [String: String]] ?? [:])
    }

    /// The value of one series (`name{labels}` exactly as exported), or nil.
    public func value(_ series: String) -> Double? { Self.value(series, in: metrics) }

    /// The value of one series in an exposition text, or nil.
    public static func value(_ series: String, in metrics: String) -> Double? {
        metrics.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    /// Waits until Vigil has picked up a new version of `secret` (its rotation counter moved).
    @discardableResult
    public func waitForRotation(of secret: String, after previous: Double?, timeout: Double = 10) -> Bool {
        VigilProcess.waitUntil(timeout: timeout) {
            (value(#"vigil_secrets_rotations_total{secret="\#(secret)"}"#) ?? 0) > (previous ?? 0)
        }
    }

    /// Polls `/health` every 20 ms until `condition` holds; the seconds it took, or nil after `timeout`.
    public func seconds(until condition: (Health) -> Bool, timeout: Double) -> Double? {
        let started = Date()
        var holds = false
        _ = VigilProcess.waitUntil(timeout: timeout) {
            holds = health().map(condition) ?? false
            return holds
        }
        return holds ? Date().timeIntervalSince(started) : nil
    }
}

/// One row of the fault matrix in docs/reliability.md: appended to
/// `$VIGIL_TEST_SCRATCH/fault-matrix.md` (scripts/fault-matrix renders it).
public enum FaultMatrix {
    public struct Row {
        public var fault: String
        public var expected: String
        public var detected: Double?
        public var recovered: Double?
        public var kept: String

        public init(fault: String, expected: String, detected: Double?, recovered: Double?, kept: String) {
            self.fault = fault
            self.expected = expected
            self.detected = detected
            self.recovered = recovered
            self.kept = kept
        }
    }

    private static let lock = NSLock()

    public static func record(_ row: Row) {
        func seconds(_ value: Double?) -> String { value.map { String(format: "%.2f s", $0) } ?? "-" }
        let line = "| \(row.fault) | \(row.expected) | \(seconds(row.detected)) | \(seconds(row.recovered)) | \(row.kept) |\n"
        print("fault-matrix: " + line, terminator: "")
        guard let scratch = ProcessInfo.processInfo.environment["VIGIL_TEST_SCRATCH"] else { return }
        lock.withLock {
            let path = scratch + "/fault-matrix.md"
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            if let handle = FileHandle(forWritingAtPath: path) {
                handle.seekToEndOfFile()
                handle.write(Data(line.utf8))
                handle.closeFile()
            }
        }
    }

    /// Applies a fault to a healthy Vigil, measures how long until
    /// `component` leaves healthy (detection) and checks it then shows
    /// `status`/`reason` (a run caught mid-way by the fault may first show a
    /// lesser status: one more timeout is allowed for that); for a fault
    /// Vigil absorbs, checks it stays healthy for `hold` seconds. Clears the
    /// fault and measures how long until healthy again. Records the row.
    /// `reason` nil: any reason with that status.
    public static func exercise(_ vigil: VigilUnderTest, fault: String, component: String, status: String, reason: String?,
                                detectWithin: Double, recoverWithin: Double, kept: @autoclosure () -> String, hold: Double = 3,
                                apply: () throws -> Void, clear: () throws -> Void,
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
        let healthy = { (health: VigilUnderTest.Health) in health.checks[component]?.status == "healthy" }
        #expect(vigil.seconds(until: healthy, timeout: 20) != nil,
                "\(fault): \(component) not healthy before: \(String(describing: vigil.health()?.checks[component]))",
                sourceLocation: sourceLocation)
        try apply()
        var detected: Double?
        var slowest = 0.0
        if status == "healthy" {
            let stayed = vigil.seconds(until: { health in
                slowest = max(slowest, health.latency)
                return !healthy(health)
            }, timeout: hold) == nil
            #expect(stayed, "\(fault): \(component) left healthy: \(String(describing: vigil.health()?.checks[component]))",
                    sourceLocation: sourceLocation)
        } else {
            detected = vigil.seconds(until: { health in
                slowest = max(slowest, health.latency)
                return !healthy(health)
            }, timeout: detectWithin + 10)
            #expect((detected ?? .infinity) <= detectWithin, "\(fault): detected after \(detected ?? -1) s", sourceLocation: sourceLocation)
            let shown = vigil.seconds(until: { health in
                slowest = max(slowest, health.latency)
                return health.checks[component].map { $0.status == status && (reason == nil || $0.reason == reason) } ?? false
            }, timeout: detectWithin + 2)
            let seen = vigil.health()?.checks[component]
            #expect(shown != nil, "\(fault): never saw \(status)/\(reason ?? "*"), last \(String(describing: seen))",
                    sourceLocation: sourceLocation)
        }
        let clearing = Date()  // clearing may take time itself (an aws CLI call): counted
        try clear()
        let after = vigil.seconds(until: healthy, timeout: recoverWithin + 10).map { _ in Date().timeIntervalSince(clearing) }
        #expect((after ?? .infinity) <= recoverWithin, "\(fault): recovered after \(after ?? -1) s", sourceLocation: sourceLocation)
        let recovered = status == "healthy" ? nil : after
        // Every hang injected lasts 1 s or more: half of that shows /health waited on
        // none, with room for a starved CI machine (a poll is typically under 5 ms).
        #expect(slowest < 500, "\(fault): a /health request took \(slowest) ms", sourceLocation: sourceLocation)
        #expect(vigil.process.process.isRunning, "\(fault): vigil died: \(vigil.process.log)", sourceLocation: sourceLocation)
        let expected = status == "healthy" ? "stays healthy" : reason.map { "\(status), `\($0)`" } ?? status
        record(Row(fault: fault, expected: expected, detected: detected, recovered: recovered, kept: kept()))
    }
}
