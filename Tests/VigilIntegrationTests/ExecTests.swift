import Foundation
import Testing
import VigilTestSupport

/// `vigil exec -- node app.js` (docs/exec.md) with the doc's application,
/// which prints a fingerprint of `process.env.DATABASE_URL`: started with
/// the URL rebuilt from the secret, restarted with the new one within a
/// second of Vigil seeing a rotation, stopped by SIGTERM with its status
/// passed on; the password in no `ps` line, log or environment but the
/// application's.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct ExecTests {
    let env = ServicesEnvironment()
    static let token = "exec-token-\(UUID().uuidString)"

    /// What the docs' applications print for a value: the first `length` hex digits of its SHA-256.
    static func fingerprint(_ text: String, length: Int = 16) throws -> String {
        try ChildProcess.run(["node", "-e", "process.stdout.write(require('crypto').createHash('sha256')"
                              + ".update(process.argv[1]).digest('hex').slice(0, \(length)))", text]).output
    }

    /// `aws secretsmanager ARGUMENTS --output text` as the admin identity, its output trimmed.
    static func aws(_ env: ServicesEnvironment, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try ChildProcess.run(["aws", "secretsmanager"] + arguments + ["--output", "text"], environment: env.admin, stderr: false)
        #expect(result.status == 0, "aws secretsmanager \(arguments[0]) failed", sourceLocation: sourceLocation)
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The `ps` lines and the environments of `pids`, where a value must not be.
    private static func processTexts(_ pids: [pid_t]) throws -> [String] {
        try [ChildProcess.run(["ps", "-eo", "pid,args"]).output]
            + pids.map { (try? String(contentsOfFile: "/proc/\($0)/environ", encoding: .utf8)) ?? "" }
    }

    @Test func anApplicationGetsItsSecretsInItsEnvironmentAndIsRestartedOnRotation() throws {
        let suffix = String(UUID().uuidString.prefix(8)).lowercased()
        let (old, new) = ("canary-exec-old-\(suffix)", "canary-exec-new-\(suffix)")
        let id = "vigil/dev/exec-\(suffix)"
        func value(_ password: String) -> String { #"{"username":"app","password":"\#(password)","host":"db.internal","port":5432,"dbname":"orders"}"# }
        let first = try Self.aws(env, ["create-secret", "--name", id, "--secret-string", value(old), "--query", "VersionId"])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-exec-\(suffix)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let app = folder.appendingPathComponent("app.js").path
        try DocumentedClientsTests.blocks("js", in: "docs/exec.md")[0].write(toFile: app, atomically: true, encoding: .utf8)
        let config = """
            secrets:
              ttl: 1s
              items:
                database: {id: \(id), env: DATABASE_URL}
            probes:
              database: {enabled: false}
              redis: {enabled: false}
            endpoint: {enabled: true, listen_address: "127.0.0.1:0"}
            """
        let vigil = try VigilUnderTest(config: config, environment: ["AWS_TOKEN": Self.token])
        defer { _ = vigil.process.stop() }
        let endpoint = try #require(vigil.process.waitForListenAddress(of: "secrets endpoint listening"))
        // `vigil exec` finds the endpoint in the same configuration, with the address it is listening on.
        let execConfig = folder.appendingPathComponent("exec.yml")
        try config.replacingOccurrences(of: "127.0.0.1:0", with: endpoint).write(to: execConfig, atomically: true, encoding: .utf8)
        let exec = try VigilProcess(["exec", "--config", execConfig.path, "--", "node", app], environment: ["AWS_TOKEN": Self.token])
        let url = { (password: String) in "postgres://app:\(password)@db.internal:5432/orders" }
        let (before, after) = (try Self.fingerprint(url(old)), try Self.fingerprint(url(new)))
        #expect(VigilProcess.waitUntil(timeout: 10) { exec.log.contains("DATABASE_URL sha256 \(before)") }, "\(exec.log)")
        #expect(exec.log.contains("from=\"endpoint http://\(endpoint)\""), "read through the running Vigil: \(exec.log)")
        let firstApp = try #require(Self.appPid(in: exec.log))

        // A long poll on the endpoint answers the moment Vigil holds the new version.
        let seen = LongPollWatch(endpoint: endpoint, id: id, version: first, token: Self.token)
        _ = try Self.aws(env, ["put-secret-value", "--secret-id", id, "--secret-string", value(new)])
        #expect(VigilProcess.waitUntil(timeout: 15) { exec.log.contains("DATABASE_URL sha256 \(after)") }, "\(exec.log)")
        let restarted = Date()
        #expect(VigilProcess.waitUntil(timeout: 5) { seen.at != nil })
        if let at = seen.at {
            print("vigil exec: the application ran with the new secret \(Int(restarted.timeIntervalSince(at) * 1000)) ms after Vigil saw it")
            #expect(restarted.timeIntervalSince(at) < 1)
        }
        let secondApp = try #require(Self.appPid(in: exec.log, last: true))
        #expect(secondApp != firstApp && kill(firstApp, 0) != 0, "a new process, the old one gone")
        // (The services' own passwords are in the test's environment and redis-server's argv: only this secret's are checked.)
        let texts = try Self.processTexts([vigil.process.process.pid, exec.process.pid])
        let leaks = texts.indices.filter { index in [old, new].contains { texts[index].contains($0) } }
        #expect(leaks.isEmpty, "the password in ps (0), Vigil's environment (1) or vigil exec's (2): \(leaks)")
        let application = (try? String(contentsOfFile: "/proc/\(secondApp)/environ", encoding: .utf8)) ?? ""
        #expect(application.contains("DATABASE_URL=\(url(new))"), "the application's environment has it (and only it)")

        // Vigil stopping leaves the application running with what it has.
        let metrics = vigil.metrics
        #expect(vigil.process.stop() == 0)
        #expect(VigilProcess.waitUntil(timeout: 10) { exec.log.contains("cannot follow the secret") }, "\(exec.log)")
        #expect(kill(secondApp, 0) == 0 && exec.process.isRunning)

        // SIGTERM reaches the application, whose status (3, the doc's) is vigil exec's.
        #expect(exec.stop(signal: SIGTERM) == 3, "\(exec.log)")
        #expect(kill(secondApp, 0) != 0)
        env.assertNoCanary(in: [exec.log, vigil.process.log, metrics], extra: [old, new])

        // docs/exec.md's PM2 file runs the binary itself with these arguments.
        let ecosystem = folder.appendingPathComponent("ecosystem.config.js").path
        try DocumentedClientsTests.blocks("js", in: "docs/exec.md")[1].write(toFile: ecosystem, atomically: true, encoding: .utf8)
        let pm2 = try ChildProcess.run(["node", "-e", "const a = require(process.argv[1]).apps[0]; "
                                        + "process.stdout.write([a.script, a.interpreter, a.args].join('|'))", ecosystem])
        #expect(pm2.output == "vigil|none|exec --config /etc/vigil/vigil.yml -- node server.js", "\(pm2.output)")

        // No Vigil running: the same command reads from AWS itself.
        let direct = try VigilProcess.run(["exec", "--config", execConfig.path, "--", "sh", "-c", #"test "$DATABASE_URL" = "$0""#, url(new)],
                                          environment: ["AWS_TOKEN": Self.token])
        #expect(direct.status == 0 && direct.output.contains("from=aws"), "\(direct.output)")
    }

    private static func appPid(in log: String, last: Bool = false) -> pid_t? {
        let lines = log.split(separator: "\n").filter { $0.contains("msg=\"application started\"") }
        return (last ? lines.last : lines.first).flatMap { line in
            line.split(separator: " ").first { $0.hasPrefix("pid=") }.flatMap { pid_t($0.dropFirst(4)) }
        }
    }
}

/// A long poll started at once; `at` is when it was answered 200 (Vigil holds another version).
final class LongPollWatch: @unchecked Sendable {
    private let lock = NSLock()
    private var answered: Date?
    var at: Date? { lock.withLock { answered } }

    init(endpoint: String, id: String, version: String, token: String) {
        Thread { [self] in
            let answer = try? CurlClient().request("http://\(endpoint)/v1/\(id)?wait=30",
                                                   headers: ["X-Aws-Parameters-Secrets-Token: \(token)", "If-None-Match: \"\(version)\""])
            if answer?.status == 200 { lock.withLock { answered = Date() } }
        }.start()
    }
}
