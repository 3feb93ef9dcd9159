import Foundation
import Glibc
import Testing
import VigilTestSupport

/// The real `vigil` binary against the real PostgreSQL and Redis started by
/// `scripts/services` (scripts/test exports their environment).
@Suite(.enabled(if: ServicesEnvironment.available, "needs `eval \"$(scripts/services env)\"`; scripts/test does it"))
struct VigilBinaryTests {
    let env = ServicesEnvironment()

    @Test func servesHealthyStateAndStopsCleanlyOnSIGTERM() throws {
        let vigil = try VigilProcess(["serve", "--web.listen-address", "127.0.0.1:0"],
                                     environment: ["VIGIL_PROBES_INTERVAL": "1s"])
        let address = try #require(vigil.waitForListenAddress(), "no listening line in: \(vigil.log)")
        let client = CurlClient()
        #expect(VigilProcess.waitUntil(timeout: 10) { (try? client.request("http://\(address)/health/ready").status) == 200 })
        let health = try client.request("http://\(address)/health")
        #expect(health.status == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(health.body)) as? [String: Any])
        #expect(json["status"] as? String == "healthy")
        #expect(json["services"] as? [String: String] == ["database": "connected", "redis": "connected", "secrets": "healthy"])
        let metrics = try client.request("http://\(address)/metrics").text
        #expect(metrics.contains(#"vigil_probe_success{probe="database"} 1"#))
        #expect(metrics.contains(#"vigil_probe_success{probe="redis"} 1"#))

        #expect(vigil.stop(signal: SIGTERM, timeout: 5) == 0)
        #expect(vigil.log.contains("msg=stopped"))
        env.assertNoCanary(in: [vigil.log, health.text, metrics])
    }

    /// Foundation (with ICU and CoreFoundation) costs several megabytes of
    /// resident memory; the service links only FoundationEssentials
    /// (docs/performance.md). A debug build links Swift's libraries
    /// dynamically, so an `import Foundation` anywhere shows up in the maps.
    @Test func servesWithoutFoundationOrICU() throws {
        let vigil = try VigilProcess(["serve", "--web.listen-address", "127.0.0.1:0"])
        _ = try #require(vigil.waitForListenAddress(), "no listening line in: \(vigil.log)")
        let maps = try String(contentsOfFile: "/proc/\(vigil.process.pid)/maps", encoding: .utf8)
        #expect(vigil.stop() == 0)
        let libraries = Set(maps.split(separator: "\n").compactMap { $0.split(separator: "/").last.map(String.init) })
        #expect(libraries.contains { $0.hasPrefix("libFoundationEssentials") } || !libraries.contains { $0.hasPrefix("libswiftCore") })
        let heavy = libraries.filter { ["libFoundation.", "libFoundationInternationalization", "lib_FoundationICU", "libicu"].contains(where: $0.hasPrefix) }
        #expect(heavy.isEmpty, "\(heavy.sorted())")
    }

    @Test func sigintAlsoExitsZero() throws {
        let vigil = try VigilProcess(["serve", "--web.listen-address", "127.0.0.1:0", "--log.format", "json"])
        #expect(VigilProcess.waitUntil(timeout: 10) { vigil.log.contains(#""msg":"listening""#) })
        #expect(vigil.stop(signal: SIGINT, timeout: 5) == 0)
    }

    /// `--log.level warn`, as every Prometheus tool and chart spells it, was
    /// refused; `warning` stays an alias. Warnings are logged `level=warn`.
    @Test(arguments: ["warn", "warning"])
    func logLevelWarnKeepsWarningsAndDropsInfo(level: String) throws {
        let vigil = try VigilProcess(["serve", "--web.listen-address", "127.0.0.1:0", "--log.level", level],
                                     environment: ["REDIS_URL": "redis://:x@127.0.0.1:\(try Blackhole.freePort())/0",
                                                   "AWS_ENDPOINT_URL": "http://127.0.0.1:\(try Blackhole.freePort())", "AWS_MAX_ATTEMPTS": "1"])
        #expect(VigilProcess.waitUntil(timeout: 15) { vigil.log.contains("msg=\"probe failing\"") }, "\(vigil.log)")
        #expect(vigil.stop() == 0)
        let lines = vigil.log.split(separator: "\n")
        #expect(lines.contains { $0.contains("level=warn ") && $0.contains("probe=redis") }, "\(vigil.log)")
        #expect(!lines.contains { $0.contains("level=info") || $0.contains("level=warning") }, "\(vigil.log)")
    }

    @Test func checkExitsZeroWhenHealthy() throws {
        let (status, output) = try VigilProcess.run(["check"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("overall: healthy"))
        #expect(output.contains("database   yes       connected"))
        env.assertNoCanary(in: [output])
    }

    /// AWS unreachable (one attempt, no retries): the secrets client serves
    /// the environment fallbacks, which these tests point elsewhere.
    private func offlineAWS(_ overrides: [String: String]) throws -> [String: String] {
        ["AWS_ENDPOINT_URL": "http://127.0.0.1:\(try Blackhole.freePort())", "AWS_MAX_ATTEMPTS": "1"]
            .merging(overrides) { $1 }
    }

    @Test func checkExitsOneWhenANonCriticalProbeFails() throws {
        let (status, output) = try VigilProcess.run(["check"], environment: offlineAWS([
            "VIGIL_PROBES_REDIS_CRITICAL": "false", "REDIS_URL": "redis://:x@127.0.0.1:\(try Blackhole.freePort())/0"]))
        #expect(status == 1, "\(output)")
        #expect(output.contains("refused"))
        #expect(output.contains("secrets    no        degraded"))
    }

    @Test func checkExitsTwoWithWrongDatabasePasswordAsAuthFailure() throws {
        let url = env.databaseURL.replacingOccurrences(of: env.databasePassword, with: "wrong-password")
        let (status, output) = try VigilProcess.run(["check"], environment: offlineAWS(["DATABASE_URL": url]))
        #expect(status == 2, "\(output)")
        #expect(output.contains("auth_failed"))
        #expect(!output.contains("wrong-password"))
    }

    @Test func wrongRedisPasswordIsAuthFailure() throws {
        let (status, output) = try VigilProcess.run(["check"], environment: offlineAWS([
            "REDIS_URL": "redis://:nope@127.0.0.1:\(env.redisPort)/0"]))
        #expect(status == 2)
        #expect(output.contains("auth_failed"))
    }

    @Test func secretsListShowsStateAndNeverValues() throws {
        let (status, output) = try VigilProcess.run(["secrets", "list"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("database  vigil/dev/database/credentials  aws"))
        #expect(output.contains("fresh"))
        let get = try VigilProcess.run(["secrets", "get", "redis"])
        #expect(get.status == 0)
        env.assertNoCanary(in: [output, get.output])
        let revealed = try VigilProcess.run(["secrets", "get", "--id", "vigil/dev/redis/credentials", "--reveal"])
        let secretCheck2 = revealed.output.contains(env.redisPassword)
        #expect(secretCheck2)
        let missing = try VigilProcess.run(["secrets", "get", "--id", "vigil/dev/absent"])
        #expect(missing.status == 1)
        #expect(missing.output.contains("ResourceNotFoundException"))
        let unknown = try VigilProcess.run(["secrets", "get", "databse"])
        #expect(unknown.status == 1 && unknown.output.contains("no configured secret named databse: the configuration has database, redis"),
                "\(unknown.output)")
    }

    /// With AWS unreachable, `secrets list` reports what `check` connects with: the environment fallback, not `missing`.
    @Test func secretsListAndCheckAgreeOnTheEnvironmentFallback() throws {
        let unreachable = ["AWS_ENDPOINT_URL": "http://127.0.0.1:1", "VIGIL_AWS_MAX_ATTEMPTS": "1", "VIGIL_AWS_TIMEOUT": "1s"]
        let list = try VigilProcess.run(["secrets", "list"], environment: unreachable)
        #expect(list.status == 0 && list.output.contains("database  vigil/dev/database/credentials  environment") && !list.output.contains("missing"),
                "\(list.output)")
        let check = try VigilProcess.run(["check"], environment: unreachable)
        #expect(check.output.contains("connected"), "\(check.output)")
        env.assertNoCanary(in: [list.output, check.output])
    }

    @Test func peerThatNeverAnswersIsATimeoutWithinTheBound() throws {
        let blackhole = try Blackhole()
        let started = Date()
        let (status, output) = try VigilProcess.run(["check"], environment: offlineAWS([
            "REDIS_URL": "redis://:x@127.0.0.1:\(blackhole.port)/0", "VIGIL_PROBES_TIMEOUT": "500ms"]))
        #expect(status == 2)
        #expect(output.contains("timeout"))
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func badConfigurationExits78NamingKeyAndLine() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-bad-\(getpid()).yml")
        try "web:\n  threads: many\nprobes:\n  intervall: 5s\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        for command in [["serve", "--config", file.path], ["check", "--config", file.path], ["config", "check", file.path]] {
            let (status, output) = try VigilProcess.run(command)
            #expect(status == 78, "\(command)")
            #expect(output.contains("\(file.path):2: web.threads"))
            #expect(output.contains("\(file.path):4: probes.intervall: unknown key"))
        }
    }

    /// `config check` accepts exactly what `serve` does: the same file (argument, --config or $VIGIL_CONFIG), the same message, 78 for both.
    @Test func configCheckRefusesWhatServeRefusesWithTheSameMessage() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-listen-\(getpid()).yml")
        defer { try? FileManager.default.removeItem(at: file) }
        try "web:\n  listen_address: \"http://127.0.0.1:20555\"\n".write(to: file, atomically: true, encoding: .utf8)
        let runs = try [["config", "check", file.path], ["config", "check", "--config", file.path], ["serve", "--config", file.path]]
            .map { try VigilProcess.run($0) } + [try VigilProcess.run(["config", "check"], environment: ["VIGIL_CONFIG": file.path])]
        let message = "\(file.path):2: web.listen_address: invalid address \"http://127.0.0.1:20555\": a listen address has no scheme"
        for run in runs {
            #expect(run.status == 78 && run.output.contains(message), "\(run.output)")
        }
        let warned = try VigilProcess.run(["config", "check"], environment: ["VIGIL_PROBES_INTERVALL": "2s"])
        #expect(warned.status == 0 && warned.output.contains("VIGIL_PROBES_INTERVALL is not a setting and is ignored: did you mean VIGIL_PROBES_INTERVAL?"),
                "\(warned.output)")
    }

    /// Per-instance CloudWatch dimensions multiply the bill by the fleet:
    /// `config check` says what a configuration costs.
    @Test func configCheckPrintsWhatCloudWatchMetricsCost() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-cw-\(getpid()).yml")
        defer { try? FileManager.default.removeItem(at: file) }
        try "cloudwatch:\n  enabled: true\n".write(to: file, atomically: true, encoding: .utf8)
        let shared = try VigilProcess.run(["config", "check", file.path])
        #expect(shared.output.contains("cloudwatch: 19 custom metrics, shared by every instance"), "\(shared.output)")
        try "cloudwatch:\n  enabled: true\n  instance_dimension: true\n".write(to: file, atomically: true, encoding: .utf8)
        let perInstance = try VigilProcess.run(["config", "check", file.path])
        #expect(perInstance.output.contains("1 instance $5.70, 100 $570.00, 1000 $3900.00 a month"), "\(perInstance.output)")
    }

    @Test func unreadableWebConfigFileExits78() throws {
        let (status, output) = try VigilProcess.run(["serve", "--web.listen-address", "127.0.0.1:0",
                                                      "--web.config.file", "/nonexistent/web.yml"])
        #expect(status == 78)
        #expect(output.contains("/nonexistent/web.yml"))
    }

    @Test func listenFailureIsAClearError() throws {
        let vigil = try VigilProcess(["serve", "--web.listen-address", "127.0.0.1:0"])
        let address = try #require(vigil.waitForListenAddress())
        let (status, output) = try VigilProcess.run(["serve", "--web.listen-address", address])
        #expect(status == 1)
        #expect(output.contains("cannot listen on \(address)"))
        #expect(vigil.stop() == 0)
    }

    /// Without /proc the Swift runtime sees no arguments: `vigil healthcheck` must not become `vigil serve`.
    @Test(.enabled(if: getuid() == 0, "a mount namespace needs root")) func withoutProcItRefusesInsteadOfServing() throws {
        let run = try ChildProcess.run(["unshare", "--mount", "--fork", "sh", "-c",
                                        "umount -l /proc && exec \(VigilProcess.binary) healthcheck --url http://127.0.0.1:1/"])
        #expect(run.status == 71 && run.output.contains("/proc is not mounted"), "\(run.status) \(run.output.prefix(300))")
    }

    @Test func versionPrints() throws {
        let (status, output) = try VigilProcess.run(["version"])
        #expect(status == 0)
        #expect(output.hasPrefix("vigil 0.1.0"))
    }
}
