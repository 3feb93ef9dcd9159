import Foundation

/// A PostgreSQL of one test's own, started and stopped through
/// `scripts/services` with a scratch folder and port of its own, so a test
/// can take it down without disturbing the others.
public final class PrivatePostgres {
    public let port: Int
    private let scratch: String

    public init() throws {
        port = try Blackhole.freePort()
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-pg-\(port)-\(getpid())").path
        try run("start")
    }

    deinit {
        try? run("stop")
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// The same user, password and database as the shared server.
    public func url(password: String) -> String { "postgres://vigil:\(password)@127.0.0.1:\(port)/vigil" }

    public func start() throws { try run("start") }
    public func stop() throws { try run("stop") }

    private func run(_ command: String) throws {
        let status = runCommand([VigilProcess.packageRoot + "/scripts/services", command, "postgres"],
                                environment: ["VIGIL_SCRATCH": scratch, "VIGIL_PG_PORT": String(port)])
        guard status == 0 else {
            throw CurlClient.Failure(code: Int(status), description: "scripts/services \(command) postgres failed")
        }
    }
}
