import Foundation

/// A server of one test's own, started and stopped through
/// `scripts/services` with a scratch folder and ports of its own, so a test
/// can take it down without disturbing the others.
public final class PrivateService {
    private let name: String
    let scratch: String
    private let environment: [String: String]

    /// `environment`: the port variables of `scripts/services`.
    public init(_ name: String, environment: [String: String]) throws {
        self.name = name
        scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("vigil-\(name)-\(environment.values.sorted().joined(separator: "-"))-\(getpid())").path
        self.environment = environment.merging(["VIGIL_SCRATCH": scratch]) { $1 }
        try start()
    }

    deinit {
        try? stop()
        try? FileManager.default.removeItem(atPath: scratch)
        try? FileManager.default.removeItem(atPath: scratch + ".err")
    }

    public func start() throws { try run("start") }
    public func stop() throws { try run("stop") }

    /// Runs `scripts/services COMMAND NAME`, its errors kept in a file beside
    /// the scratch folder (not a pipe: the servers it starts inherit the
    /// descriptor and would hold a pipe open) and quoted when it fails.
    private func run(_ command: String) throws {
        let errors = scratch + ".err"
        let status = runCommand(["bash", "-c", #"exec "$0" "$1" "$2" >/dev/null 2>>"$3""#,
                                 VigilProcess.packageRoot + "/scripts/services", command, name, errors], environment: environment)
        guard status == 0 else {
            let why = (try? String(contentsOfFile: errors, encoding: .utf8)).map { String($0.suffix(1500)) } ?? "no output"
            throw CurlClient.Failure(code: Int(status), description: "scripts/services \(command) \(name) failed: \(why)")
        }
    }
}

/// A PostgreSQL of one test's own.
public final class PrivatePostgres {
    public let port: Int
    private let service: PrivateService

    public init() throws {
        port = try Blackhole.freePort()
        service = try PrivateService("postgres", environment: ["VIGIL_PG_PORT": String(port)])
    }

    /// The same user, password and database as the shared server.
    public func url(password: String) -> String { "postgres://vigil:\(password)@127.0.0.1:\(port)/vigil" }

    public func start() throws { try service.start() }
    public func stop() throws { try service.stop() }
}

/// Two PgBouncers of one test's own (session and transaction pooling, SCRAM)
/// in front of the shared PostgreSQL on `postgresPort`.
public final class PrivatePgBouncer {
    public let sessionPort: Int, transactionPort: Int
    private let service: PrivateService

    public init(postgresPort: Int) throws {
        sessionPort = try Blackhole.freePort()
        transactionPort = try Blackhole.freePort()
        service = try PrivateService("pgbouncer", environment: [
            "VIGIL_PG_PORT": String(postgresPort), "VIGIL_PGBOUNCER_PORT": String(sessionPort),
            "VIGIL_PGBOUNCER_TRANSACTION_PORT": String(transactionPort)])
    }

    public func start() throws { try service.start() }
    public func stop() throws { try service.stop() }
}

/// A Redis of one test's own (plain and TLS ports), password as the shared one.
public final class PrivateRedis {
    public let port: Int
    private let service: PrivateService

    public init() throws {
        port = try Blackhole.freePort()
        service = try PrivateService("redis", environment: [
            "VIGIL_REDIS_PORT": String(port), "VIGIL_REDIS_TLS_PORT": String(try Blackhole.freePort())])
    }

    public func url(password: String) -> String { "redis://:\(password)@127.0.0.1:\(port)/0" }

    public func start() throws { try service.start() }
    public func stop() throws { try service.stop() }
}

/// An SMTP server of one test's own (its three ports), the shared one's login.
public final class PrivateSMTP {
    public let port: Int
    private let service: PrivateService
    /// Its certificate (self-signed, its own), for `ca_file`.
    public var caFile: String { service.scratch + "/tls/server.crt" }

    public init() throws {
        port = try Blackhole.freePort()
        service = try PrivateService("smtp", environment: [
            "VIGIL_SMTP_PORT": String(port), "VIGIL_SMTP_PLAIN_PORT": String(try Blackhole.freePort()),
            "VIGIL_SMTP_TLS_PORT": String(try Blackhole.freePort())])
    }

    public func start() throws { try service.start() }
    public func stop() throws { try service.stop() }
}
