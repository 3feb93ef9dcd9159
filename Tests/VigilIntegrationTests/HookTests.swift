import Foundation
import Testing
import VigilTestSupport

/// Hooks (docs/hooks.md) on a rotation in moto: the doc's Node.js worker,
/// signalled through its pid file, re-reads through the endpoint and holds
/// the new secret within a second of Vigil; a hook that hangs is killed at
/// its timeout with what it started; one that fails is counted. No value
/// in any hook's environment, Vigil's log or metrics.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct HookTests {
    let env = ServicesEnvironment()
    static let token = "hook-token-\(UUID().uuidString)"

    @Test func theWorkerFollowsARotationAndBrokenHooksAreBounded() throws {
        let suffix = String(UUID().uuidString.prefix(8)).lowercased()
        let (old, new) = ("canary-hook-old-\(suffix)", "canary-hook-new-\(suffix)")
        let id = "vigil/dev/hooks-\(suffix)"
        func value(_ password: String) -> String { #"{"username":"app","password":"\#(password)"}"# }
        let first = try ExecTests.aws(env, ["create-secret", "--name", id, "--secret-string", value(old), "--query", "VersionId"])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-hooks-\(suffix)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let (pidFile, slowPid, tokenFile) = (folder.appendingPathComponent("worker.pid").path, folder.appendingPathComponent("slow.pid").path,
                                             folder.appendingPathComponent("token").path)
        try Self.token.write(toFile: tokenFile, atomically: true, encoding: .utf8)

        let vigil = try VigilUnderTest(config: """
            secrets:
              ttl: 1s
              items:
                app: {id: \(id)}
            probes:
              database: {enabled: false}
              redis: {enabled: false}
            endpoint: {enabled: true, listen_address: "127.0.0.1:0", allow: [\(id)]}
            hooks:
              worker: {secrets: [app], pid_file: \(pidFile)}
              slow:
                secrets: [app]
                command: [sh, -c, 'echo $$ > "$0"; exec sleep 60', \(slowPid)]
                timeout: 1s
              fails: {secrets: [app], command: [sh, -c, 'exit 3']}
            """, environment: ["AWS_TOKEN": Self.token])
        defer { _ = vigil.process.stop() }
        guard let endpoint = vigil.process.waitForListenAddress(of: "secrets endpoint listening") else {
            Issue.record("no endpoint: \(vigil.process.log.suffix(2000))")
            return
        }
        // `vigil check` lists what each hook would do, and runs none.
        let check = try VigilProcess.run(["check", "--config", vigil.configFile.path], environment: ["AWS_TOKEN": Self.token])
        #expect(check.output.contains("worker  app") && check.output.contains("signal HUP to the pid in \(pidFile)")
                && check.output.contains("run sh -c echo $$ > \"$0\"; exec sleep 60 \(slowPid)") && check.output.contains("1s"),
                "\(check.output)")
        #expect(!FileManager.default.fileExists(atPath: slowPid))
        for outcome in ["ok", "failed", "timeout", "error"] {
            #expect(vigil.value(#"vigil_hook_runs_total{hook="slow",outcome="\#(outcome)"}"#) == 0, "every series from the start")
        }

        // docs/hooks.md's worker, with docs/endpoint.md's module, as written.
        let javascript = try DocumentedClientsTests.blocks("js", in: "docs/hooks.md")
        #expect(javascript.count == 1)
        try DocumentedClientsTests.blocks("js")[0].write(to: folder.appendingPathComponent("vigil-secrets.js"), atomically: true, encoding: .utf8)
        try javascript[0].write(to: folder.appendingPathComponent("worker.js"), atomically: true, encoding: .utf8)
        let worker = try ChildProcess(["node", folder.appendingPathComponent("worker.js").path], environment: [
            "SECRET_ID": id, "PID_FILE": pidFile, "VIGIL_ENDPOINT": "http://\(endpoint)", "VIGIL_TOKEN_FILE": tokenFile,
        ])
        defer { kill(worker.pid, SIGTERM) }
        let (before, after) = (try ExecTests.fingerprint(old, length: 12), try ExecTests.fingerprint(new, length: 12))
        #expect(VigilProcess.waitUntil(timeout: 10) { FileManager.default.fileExists(atPath: pidFile) && worker.log.contains(before) },
                "the worker did not start: \(worker.log)")

        // A long poll on the endpoint answers the moment Vigil holds the new version.
        let watch = LongPollWatch(endpoint: endpoint, id: id, version: first, token: Self.token)
        _ = try ExecTests.aws(env, ["put-secret-value", "--secret-id", id, "--secret-string", value(new)])
        #expect(VigilProcess.waitUntil(timeout: 10) { worker.log.contains(after) }, "the worker never reloaded: \(worker.log)")
        let reloaded = Date()
        #expect(VigilProcess.waitUntil(timeout: 5) { watch.at != nil })
        if let seen = watch.at {
            let lag = reloaded.timeIntervalSince(seen)
            print("hooks: the worker held the new secret \(Int(lag * 1000)) ms after Vigil saw it")
            #expect(lag < 1, "\(lag) s")
        }
        #expect(worker.isRunning, "reloaded without a restart")

        // The hung hook is killed at its timeout, with the process it became; the failing one counted.
        #expect(VigilProcess.waitUntil(timeout: 10) {
            vigil.value(#"vigil_hook_runs_total{hook="slow",outcome="timeout"}"#) == 1
                && vigil.value(#"vigil_hook_runs_total{hook="fails",outcome="failed"}"#) == 1
                && vigil.value(#"vigil_hook_runs_total{hook="worker",outcome="ok"}"#) == 1
        }, "\(vigil.metrics.split(separator: "\n").filter { $0.hasPrefix("vigil_hook") })")
        let sleeper = Int32((try? String(contentsOfFile: slowPid, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        #expect(sleeper > 1 && kill(sleeper, 0) != 0, "the hung hook's process is gone")
        #expect(vigil.process.log.contains("exit status 3") && vigil.process.log.contains("hook=slow"), "\(vigil.process.log.suffix(2000))")
        let metrics = vigil.metrics
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [metrics, vigil.process.log], extra: [old, new])
    }
}

