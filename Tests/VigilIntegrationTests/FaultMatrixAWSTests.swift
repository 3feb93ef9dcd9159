import Foundation
import Testing
import VigilTestSupport

/// The fault matrix, AWS side: the real binary behind the fault proxy, with
/// short intervals so every fault shows within seconds. Rows land in
/// docs/reliability.md (scripts/fault-matrix).
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct FaultMatrixAWSTests {
    let env = ServicesEnvironment()

    /// Intervals of the matrix: probes every 1 s (timeout 1 s); secrets
    /// renewed about every second (TTL 2 s, refresh-ahead 1 s), retried
    /// after at most 1 s; one AWS attempt is bounded by 1 s, two attempts.
    static let config = """
        probes:
          interval: 1s
          timeout: 1s
        secrets:
          prefix: vigil
          environment: dev
          ttl: 2s
          refresh_ahead: 1s
          max_backoff: 1s
        aws:
          timeout: 1s
          max_attempts: 2
        """
    /// Refresh cadence (ttl - refresh_ahead) + interval (+10 % jitter) + timeout, plus polling.
    static let detectBound = 1 + 1.1 + 1 + 0.5
    /// Backoff (max 1 s + 20 %) + one attempt + interval, plus polling.
    static let recoverBound = 1.2 + 1 + 1.1 + 0.5

    private func start(_ proxy: FaultProxy) throws -> VigilUnderTest {
        try VigilUnderTest(config: Self.config, environment: ["AWS_ENDPOINT_URL": proxy.url])
    }

    /// Vigil publishing to CloudWatch every second, `setting` added to its section.
    private func startPublishing(_ proxy: FaultProxy, _ setting: String) throws -> VigilUnderTest {
        try VigilUnderTest(config: Self.config + "\ncloudwatch:\n  enabled: true\n  interval: 1s\n  \(setting)\n",
                           environment: ["AWS_ENDPOINT_URL": proxy.url])
    }

    @Test func awsFaults() throws {
        let proxy = try FaultProxy(upstream: env.motoURL)
        let vigil = try start(proxy)
        func fault(_ name: String, _ status: String, _ reason: String, kept: String,
                   apply: () throws -> Void, clear: (() throws -> Void)? = nil) throws {
            try FaultMatrix.exercise(vigil, fault: "AWS: \(name)", component: "secrets", status: status, reason: reason,
                                     detectWithin: Self.detectBound, recoverWithin: Self.recoverBound, kept: kept,
                                     apply: apply, clear: clear ?? { try proxy.clear() })
        }
        let stale = "values served stale; probes unaffected"
        try fault("hang (no answer)", "degraded", "timeout", kept: stale) { try proxy.inject("hang", sticky: true) }
        try fault("connection refused", "degraded", "unreachable", kept: stale) {
            try proxy.refuse(true)
            try proxy.inject("reset", sticky: true)  // kept-alive connections go too, as when the endpoint dies
        } clear: {
            try proxy.clear()
            try proxy.refuse(false)
        }
        try fault("throttling", "degraded", "throttled", kept: stale) { try proxy.inject("throttle", sticky: true) }
        try fault("5xx", "degraded", "aws_error", kept: stale) { try proxy.inject("error", status: 503, sticky: true) }
        try fault("connection reset", "degraded", "unreachable", kept: stale) { try proxy.inject("reset", sticky: true) }
        try fault("secret deleted", "degraded", "not_found", kept: "values served stale up to the emergency TTL") {
            try proxy.inject("notfound", sticky: true)
        }
        try fault("DescribeSecret denied", "healthy", "ok", kept: "versions checked with GetSecretValue") {
            try proxy.inject("deny", sticky: true, target: "DescribeSecret")
        }
        try fault("clock skewed 10 min", "healthy", "ok", kept: "signing clock corrected from `Date`") { try proxy.skew(seconds: 600) }
            clear: { try proxy.skew(seconds: 0) }
        try fault("expired session token", "healthy", "ok", kept: "credentials reloaded, call repeated") {
            try proxy.inject("expired", count: 1)
        }
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [vigil.process.log])
    }

    /// With AWS hanging: PostgreSQL and Redis stay connected (their
    /// credentials are served stale at once), /health stays fast, the
    /// secrets component turns degraded within the bound, and
    /// vigil_secrets_served_stale counts the stale secrets.
    @Test func awsHangingBlocksNothing() throws {
        let proxy = try FaultProxy(upstream: env.motoURL)
        let vigil = try start(proxy)
        #expect(vigil.seconds(until: { $0.status == "healthy" }, timeout: 20) != nil)
        try proxy.inject("hang", sticky: true)
        var slowest = 0.0
        var degradedAfter: Double?
        var sawStale = false
        let started = Date()
        while Date().timeIntervalSince(started) < 6 {
            guard let health = vigil.health() else { Issue.record("no /health answer"); break }
            slowest = max(slowest, health.latency)
            #expect(health.services["database"] == "connected" && health.services["redis"] == "connected",
                    "\(health.services)")
            if degradedAfter == nil, health.checks["secrets"]?.status == "degraded", health.checks["secrets"]?.reason == "timeout" {
                degradedAfter = Date().timeIntervalSince(started)
            }
            if !sawStale { sawStale = vigil.metrics.contains("vigil_secrets_served_stale 2") }
            usleep(20_000)
        }
        print("awsHangingBlocksNothing: slowest /health \(String(format: "%.2f", slowest)) ms, degraded after \(degradedAfter ?? -1) s")
        #expect(slowest < 500, "slowest /health \(slowest) ms")  // an attempt hangs 1 s: half of it, for a loaded machine
        #expect((degradedAfter ?? .infinity) <= Self.detectBound)
        #expect(sawStale, "vigil_secrets_served_stale never counted the stale secrets")
        try proxy.clear()
        #expect(vigil.seconds(until: { $0.status == "healthy" }, timeout: Self.recoverBound + 5) != nil)
        #expect(vigil.process.stop() == 0)
    }

    /// CloudWatch failing never touches /health; datums wait in the buffer
    /// and all go out when it answers again; an invalid batch is dropped
    /// and counted instead of blocking the queue.
    @Test func cloudWatchFaults() throws {
        let proxy = try FaultProxy(upstream: env.motoURL)
        let vigil = try startPublishing(proxy, "namespace: VigilMatrix/\(UUID().uuidString.prefix(8))")
        func value(_ series: String) -> Double { vigil.value(series) ?? -1 }
        for (name, mode, status) in [("hang", "hang", 503), ("5xx", "error", 503)] {
            var buffered = 0.0, drained = 0.0
            try FaultMatrix.exercise(vigil, fault: "CloudWatch: \(name)", component: "database", status: "healthy", reason: "ok",
                                     detectWithin: 0, recoverWithin: 12, kept: String(format: "%d datums buffered, all sent %.1f s after; none dropped",
                                                                         Int(buffered), drained), hold: 4) {
                try proxy.inject(mode, status: status, sticky: true, target: "PutMetricData")
            } clear: {
                buffered = value("vigil_cloudwatch_buffered_datums")
                #expect(buffered > 0, "nothing buffered during the \(name)")
                try proxy.clear()
                let cleared = Date()
                #expect(VigilProcess.waitUntil(timeout: 10) { value("vigil_cloudwatch_buffered_datums") == 0 })
                drained = Date().timeIntervalSince(cleared)
            }
        }
        try proxy.inject("invalid", count: 1, target: "PutMetricData")
        #expect(VigilProcess.waitUntil(timeout: 5) { value(#"vigil_cloudwatch_dropped_datums_total{reason="rejected"}"#) > 0 })
        #expect(VigilProcess.waitUntil(timeout: 5) { value("vigil_cloudwatch_buffered_datums") == 0 })
        #expect(value(#"vigil_cloudwatch_dropped_datums_total{reason="buffer_full"}"#) == 0)
        FaultMatrix.record(.init(fault: "CloudWatch: 4xx (invalid batch)", expected: "stays healthy", detected: nil, recovered: nil,
                                 kept: "that batch dropped and counted (`reason=\"rejected\"`); later datums sent"))
        #expect(vigil.process.stop() == 0)
    }

    /// SIGTERM while CloudWatch hangs: the final flush gives up in time.
    @Test func sigtermWithCloudWatchHangingExitsWithinFiveSeconds() throws {
        let proxy = try FaultProxy(upstream: env.motoURL)
        let vigil = try startPublishing(proxy, "flush_timeout: 30s")
        try proxy.inject("hang", sticky: true, target: "PutMetricData")
        #expect(VigilProcess.waitUntil(timeout: 10) { ((try? proxy.log()) ?? []).contains { $0.action == "PutMetricData" } })
        let started = Date()
        let status = vigil.process.stop(signal: SIGTERM, timeout: 10)
        let took = Date().timeIntervalSince(started)
        print("sigtermWithCloudWatchHanging: exit \(status ?? -1) after \(String(format: "%.2f", took)) s")
        #expect(status == 0)
        #expect(took < 5, "exit took \(took) s")
        FaultMatrix.record(.init(fault: "SIGTERM while CloudWatch hangs", expected: "exit 0 within 5 s", detected: nil, recovered: nil,
                                 kept: String(format: "exited 0 after %.2f s; the final flush gave up at the shutdown deadline", took)))
        try proxy.clear()
    }
}
