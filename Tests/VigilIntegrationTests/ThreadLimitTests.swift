import Foundation
import Testing
import VigilTestSupport

/// A pids cgroup (`TasksMax`, a container's pids limit) reached during an
/// AWS hang: every cold endpoint read holds threads while AWS does not
/// answer, and past the limit the system refuses new ones. A refresh that
/// got no thread used to stay "in flight" for good: its secret was never
/// refreshed again. Needs root and the cgroup v1 pids controller.
@Suite(.enabled(if: ServicesEnvironment.available && getuid() == 0 && FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/cgroup.procs"),
                "needs scripts/services, root and /sys/fs/cgroup/pids"))
struct ThreadLimitTests {
    let env = ServicesEnvironment()

    /// A pids cgroup holding `pid`, removed by `release()`.
    struct PidsLimit {
        let folder = "/sys/fs/cgroup/pids/vigil-test-\(UUID().uuidString.prefix(8))"

        init(_ pid: pid_t, extra: Int) throws {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
            let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? 0
            try write("\(threads + extra)", to: "pids.max")
            try write("\(pid)", to: "cgroup.procs")
        }

        func write(_ value: String, to file: String) throws {
            try value.write(toFile: folder + "/" + file, atomically: false, encoding: .utf8)
        }

        /// The limit lifted and the process back in the root group.
        func release(_ pid: pid_t) {
            try? write("max", to: "pids.max")
            try? "\(pid)".write(toFile: "/sys/fs/cgroup/pids/cgroup.procs", atomically: false, encoding: .utf8)
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    @Test func threadsRefusedDuringAnAWSHangCostNoHungReadAndEverySecretRefreshesAfter() throws {
        let endpoint = try EndpointTests.Endpoint(env, config: "  timeout: 2s\n", environment: [
            "VIGIL_SECRETS_TTL": "4s", "VIGIL_SECRETS_MAX_BACKOFF": "2s", "VIGIL_AWS_TIMEOUT": "2s"])
        let pid = endpoint.vigil.process.process.pid
        try endpoint.proxy.inject("hang", sticky: true)
        let limit = try PidsLimit(pid, extra: 4)
        defer { limit.release(pid) }

        // 200 distinct cold reads: none waits past endpoint.timeout (2 s) by more than a scheduling margin.
        let lock = NSLock()
        nonisolated(unsafe) var slowest = 0.0, statuses: [Int: Int] = [:]
        let group = DispatchGroup()
        for index in 0..<200 {
            group.enter()
            Thread {
                let started = Date()
                let status = (try? endpoint.get("/v1/\(endpoint.prefix)/cold-\(index)").status) ?? -1
                lock.withLock {
                    slowest = max(slowest, Date().timeIntervalSince(started))
                    statuses[status, default: 0] += 1
                }
                group.leave()
            }.start()
        }
        group.wait()
        let refused = endpoint.vigil.process.log.contains("no thread for a secret refresh")
        print("thread limit: 200 cold reads, slowest \(slowest) s, statuses \(statuses), refresh refused a thread: \(refused)")
        #expect(slowest < 4, "a read waited \(slowest) s with endpoint.timeout 2s")
        #expect(statuses[-1] == nil, "a read got no answer: \(statuses)")
        #expect(refused, "the limit never refused a refresh its thread: \(endpoint.vigil.process.log.suffix(2000))")

        // Threads and AWS back: every configured secret is confirmed by AWS again.
        limit.release(pid)
        try endpoint.proxy.clear()
        let restored = Date().timeIntervalSince1970
        let confirmed = VigilProcess.waitUntil(timeout: 30) {
            ["database", "redis"].allSatisfy {
                (endpoint.vigil.value(#"vigil_secrets_last_success_timestamp_seconds{secret="\#($0)"}"#) ?? 0) > restored
            }
        }
        #expect(confirmed, "a secret was not refreshed after the limit was lifted: \(endpoint.vigil.process.log.suffix(3000))")
        #expect(endpoint.vigil.process.process.isRunning)
    }
}
