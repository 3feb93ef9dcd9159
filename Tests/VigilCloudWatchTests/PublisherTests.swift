import Foundation
import Logging
import Prometheus
import Testing
import VigilAWS
@testable import VigilCloudWatch
import VigilResults
import VigilSecrets
import VigilState
import VigilTestSupport

/// The publisher against moto (signature checking on; the identity may only
/// PutMetricData) behind the fault proxy. Intervals are driven by hand and
/// timestamps come from a manual clock, one minute apart.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct PublisherTests {
    let env = ServicesEnvironment()
    let proxy: FaultProxy
    let clock = ManualClock(start: (UnixTime.now.seconds / 60).rounded(.down) * 60 - 3600)
    let namespace = "VigilTest/\(UUID().uuidString.prefix(8))"
    let registry = PrometheusCollectorRegistry()
    let store = HealthStore(components: [ComponentHealth(name: "database", critical: true, interval: .seconds(60)),
                                         ComponentHealth(name: "redis", critical: true, interval: .seconds(60))],
                            version: "test")
    let latencies = ProbeLatencyWindow()

    init() throws {
        proxy = try FaultProxy(upstream: ServicesEnvironment().motoURL)
    }

    private func publisher(intervals: Int = 100, secrets: SecretsClient? = nil, store: HealthStore? = nil,
                           awsMetrics: AWSMetrics? = nil, interval: Double = 60) -> CloudWatchPublisher {
        let aws = AWSClient(region: "us-east-1",
                            credentials: CredentialChain(sources: [EnvironmentCredentials(environment: [
                                "AWS_ACCESS_KEY_ID": env.metricsKeyID, "AWS_SECRET_ACCESS_KEY": env.metricsSecret])]),
                            endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": proxy.url]),
                            retry: RetryPolicy(maxAttempts: 1), attemptTimeout: 5)
        var options = CloudWatchPublisher.Options()
        options.namespace = namespace
        options.dimensions = [("Environment", "test")]
        options.bufferIntervals = intervals
        options.clock = clock.read
        options.interval = interval
        return CloudWatchPublisher(options: options, aws: aws,
                                   inputs: .init(store: store ?? self.store, secrets: secrets, awsMetrics: awsMetrics,
                                                 latencies: latencies),
                                   registry: registry, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    /// One interval: probe results arrive, then the publisher collects.
    private func interval(_ publisher: CloudWatchPublisher, latencies: [Double], store: HealthStore? = nil) {
        let store = store ?? self.store
        clock.advance(60)
        for ms in latencies {
            let result = ProbeResult(probe: "database", reason: .ok, latency: .microseconds(Int64(ms * 1000)))
            store.record(result)
            self.latencies.record(result)
        }
        let redis = ProbeResult(probe: "redis", reason: .ok, latency: .milliseconds(1))
        store.record(redis)
        self.latencies.record(redis)
        publisher.collectOnce()
    }

    private func statistics(_ metric: String, dimensions: [String] = ["Name=Environment,Value=test"]) throws -> [[String: Any]] {
        let output = try ChildProcess.run(["aws", "cloudwatch", "get-metric-statistics", "--namespace", namespace, "--metric-name", metric,
                                           "--dimensions"] + dimensions + [
                                           "--start-time", UnixTime(seconds: clock.read().seconds - 7200).iso8601,
                                           "--end-time", UnixTime(seconds: clock.read().seconds + 600).iso8601,
                                           "--period", "60", "--statistics", "SampleCount", "Sum", "Minimum", "Maximum", "--output", "json"],
                                          environment: env.admin, stderr: false).output
        let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        return (json?["Datapoints"] as? [[String: Any]] ?? []).sorted { "\($0["Timestamp"] ?? "")" < "\($1["Timestamp"] ?? "")" }
    }

    private var requests: Int { ((try? proxy.log()) ?? []).filter { $0.action == "PutMetricData" }.count }

    /// The error counter appeared only with its first error, so increase()
    /// over a window missed that error: every code exists at 0 from the start.
    @Test func everyPublishErrorCodeExistsAtZeroFromTheStart() {
        _ = publisher()
        let text = String(decoding: registry.emitToBuffer(), as: UTF8.self)
        for code in ["AccessDenied", "Throttling", "ServiceUnavailable", "Network", "Timeout", "Other"] {
            #expect(text.contains(#"vigil_cloudwatch_publish_errors_total{code="\#(code)"} 0"#), "\(code)")
        }
    }

    @Test func oneRequestPerIntervalAndTheFiguresArrive() throws {
        let publisher = publisher()
        for round in 1...3 {
            interval(publisher, latencies: [10, 20, 30])
            #expect(publisher.sendPending())
            #expect(requests == round)
        }
        let overall = try statistics("OverallHealthy")
        #expect(overall.count == 3)
        #expect(overall.map { $0["Sum"] as? Double } == [1, 1, 1])
        let latency = try statistics("ProbeLatency", dimensions: ["Name=Environment,Value=test", "Name=Probe,Value=database"])
        #expect(latency.map { $0["SampleCount"] as? Double } == [3, 3, 3])
        #expect(latency.map { $0["Sum"] as? Double } == [60, 60, 60])
        #expect(latency.first?["Minimum"] as? Double == 10)
        #expect(latency.first?["Maximum"] as? Double == 30)
        #expect(try statistics("DatabaseHealthy").count == 3)
        #expect(try statistics("RedisHealthy").count == 3)
        let text = String(decoding: registry.emitToBuffer(), as: UTF8.self)
        #expect(text.contains("vigil_cloudwatch_publish_total 3"))
        #expect(text.contains("vigil_cloudwatch_buffered_datums 0"))
    }

    @Test func everyPublishedMetricArrivesWithItsFigures() throws {
        let registry = PrometheusCollectorRegistry()
        let awsMetrics = AWSMetrics(registry: registry)
        let secretsAWS = AWSClient(region: "us-east-1",
                                   credentials: CredentialChain(sources: [EnvironmentCredentials(environment: [
                                       "AWS_ACCESS_KEY_ID": env.appKeyID, "AWS_SECRET_ACCESS_KEY": env.appSecret])]),
                                   endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": env.motoURL]), metrics: awsMetrics)
        let secrets = SecretsClient(configuration: SecretsConfiguration(
                                        items: SecretsConfiguration.standardItems(prefix: "vigil", environment: "dev")),
                                    aws: secretsAWS, environment: [:])
        secrets.preload()
        let store = HealthStore(components: ["database", "redis", "secrets"].map {
            ComponentHealth(name: $0, critical: $0 != "secrets", interval: .seconds(60))
        }, version: "test")
        let publisher = publisher(secrets: secrets, store: store, awsMetrics: awsMetrics)
        for _ in 1...3 {
            for _ in 0..<9 { _ = try secrets.get("database") }
            store.record(ProbeResult(probe: "secrets", reason: .ok, latency: .milliseconds(1)))
            interval(publisher, latencies: [4], store: store)
            #expect(publisher.sendPending())
        }
        #expect(requests == 3)
        let expected: [(String, Double)] = [
            ("CacheLookups", 9), ("CacheHitRate", 100), ("Rotations", 0), ("AWSErrors", 0), ("StaleSecretsServed", 0),
            ("SecretsNeedingAttention", 0),
            ("SecretsHealthy", 1), ("DatabaseHealthy", 1), ("RedisHealthy", 1), ("OverallHealthy", 1),
        ]
        for (metric, sum) in expected {
            let points = try statistics(metric)
            #expect(points.count == 3, "\(metric)")
            #expect(points.allSatisfy { $0["SampleCount"] as? Double == 1 && $0["Sum"] as? Double == sum }, "\(metric): \(points)")
        }
        for source in ["emergency_cache", "environment"] {
            let points = try statistics("FallbackCount", dimensions: ["Name=Environment,Value=test", "Name=Source,Value=\(source)"])
            #expect(points.count == 3 && points.allSatisfy { $0["Sum"] as? Double == 0 })
        }
        for probe in ["database", "redis"] {
            let points = try statistics("ProbeLatency", dimensions: ["Name=Environment,Value=test", "Name=Probe,Value=\(probe)"])
            #expect(points.count == 3, "\(probe)")
        }
        for component in ["database", "redis", "secrets"] {
            let points = try statistics("ComponentHealthy", dimensions: ["Name=Environment,Value=test", "Name=Component,Value=\(component)"])
            #expect(points.count == 3 && points.allSatisfy { $0["Sum"] as? Double == 1 }, "\(component): \(points)")
        }
    }

    /// The publisher's own timer: one request per (shortened) interval, and
    /// one final flush on stop.
    @Test func timerSendsOneRequestPerIntervalAndStopFlushes() throws {
        // 2 s, not 1: the test has a whole interval to see the third request and stop.
        let publisher = publisher(interval: 2)
        let started = Date()
        publisher.start()
        #expect(VigilProcess.waitUntil(timeout: 20) { requests >= 3 })
        let elapsed = Date().timeIntervalSince(started)
        let sent = requests
        publisher.stop()
        #expect(sent == 3)
        #expect(elapsed > 5 && elapsed < 10, "3 intervals of 2 s took \(elapsed) s")
        #expect(requests == sent + 1)
    }

    @Test func anOutageLosesNothingAndSendsNothingTwice() throws {
        let publisher = publisher()
        interval(publisher, latencies: [5])
        #expect(publisher.sendPending())
        try proxy.inject("error", count: 1000, status: 503)
        for _ in 0..<3 {
            interval(publisher, latencies: [5])
            #expect(!publisher.sendPending())
        }
        #expect(requests == 4)  // one before the outage, then one failing attempt per interval
        try proxy.clear()
        interval(publisher, latencies: [5])
        #expect(publisher.sendPending())
        #expect(requests == 1)  // the four intervals since the outage began, oldest first, in one request
        #expect(try proxy.log().first?.gzip == true)  // over 10 KB: sent compressed, signed over the compressed bytes
        let points = try statistics("OverallHealthy")
        #expect(points.count == 5)
        #expect(points.allSatisfy { $0["SampleCount"] as? Double == 1 })  // each at its own minute, none twice
        let text = String(decoding: registry.emitToBuffer(), as: UTF8.self)
        #expect(text.contains(#"vigil_cloudwatch_publish_errors_total{code="ServiceUnavailable"} 3"#))
    }

    @Test func aOneIntervalBufferDropsTheOldestIntervalsAndCountsThem() throws {
        let publisher = publisher(intervals: 1)
        try proxy.inject("error", count: 1000, status: 503)
        for _ in 0..<3 {
            interval(publisher, latencies: [5])
            #expect(!publisher.sendPending())
        }
        let produced = 3 * 12  // datums per interval without a secrets client, two components: see CloudWatchCollector
        try proxy.clear()
        #expect(publisher.sendPending())
        let text = String(decoding: registry.emitToBuffer(), as: UTF8.self)
        #expect(text.contains(#"vigil_cloudwatch_dropped_datums_total{reason="buffer_full"} \#(produced - 12)"#))
        #expect(text.contains(#"vigil_cloudwatch_datums_total{outcome="collected"} \#(produced)"#))
        #expect(text.contains(#"vigil_cloudwatch_datums_total{outcome="sent"} 12"#))  // collected = sent + dropped
        #expect(try statistics("OverallHealthy").count == 1)  // only the newest interval survived
    }
}

/// The publisher when CloudWatch misbehaves in ways retrying cannot fix.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct PublisherFailureTests {
    let env = ServicesEnvironment()
    let proxy: FaultProxy
    let registry = PrometheusCollectorRegistry()

    init() throws {
        proxy = try FaultProxy(upstream: ServicesEnvironment().motoURL)
    }

    private func publisher(flushTimeout: Double = 5) -> CloudWatchPublisher {
        let aws = AWSClient(region: "us-east-1",
                            credentials: CredentialChain(sources: [EnvironmentCredentials(environment: [
                                "AWS_ACCESS_KEY_ID": env.metricsKeyID, "AWS_SECRET_ACCESS_KEY": env.metricsSecret])]),
                            endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": proxy.url]),
                            retry: RetryPolicy(maxAttempts: 3, sleep: { _ in }), attemptTimeout: 10)
        var options = CloudWatchPublisher.Options()
        options.namespace = "VigilTest/\(UUID().uuidString.prefix(8))"
        options.flushTimeout = flushTimeout
        let store = HealthStore(components: [ComponentHealth(name: "database", critical: true, interval: .seconds(60))],
                                version: "test")
        return CloudWatchPublisher(options: options, aws: aws,
                                   inputs: .init(store: store, secrets: nil, awsMetrics: nil, latencies: ProbeLatencyWindow()),
                                   registry: registry, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    private var metrics: String { String(decoding: registry.emitToBuffer(), as: UTF8.self) }

    @Test func aBatchRejectedAsInvalidIsDroppedAndDoesNotHoldUpTheNext() throws {
        let publisher = publisher()
        publisher.collectOnce()
        try proxy.inject("invalid")
        #expect(publisher.sendPending(), "the rejected batch blocked the queue")
        #expect(try proxy.log().map(\.fault) == ["invalid"])
        #expect(metrics.contains(#"vigil_cloudwatch_dropped_datums_total{reason="rejected"} "#))
        #expect(!metrics.contains(#"vigil_cloudwatch_dropped_datums_total{reason="rejected"} 0"#))
        publisher.collectOnce()
        #expect(publisher.sendPending())
        #expect(try proxy.log().map(\.fault) == ["invalid", ""])
        let collected = value(#"vigil_cloudwatch_datums_total{outcome="collected"}"#)
        #expect(collected > 0)
        #expect(value(#"vigil_cloudwatch_datums_total{outcome="sent"}"#) == collected / 2)
        #expect(value(#"vigil_cloudwatch_dropped_datums_total{reason="rejected"}"#) == collected / 2)
    }

    private func value(_ series: String) -> Int { VigilUnderTest.value(series, in: metrics).map { Int($0) } ?? -1 }

    @Test func accessDeniedKeepsTheDatumsForLater() throws {
        let publisher = publisher()
        publisher.collectOnce()
        try proxy.inject("deny")
        #expect(!publisher.sendPending())
        #expect(publisher.sendPending())
        #expect(metrics.contains(#"vigil_cloudwatch_dropped_datums_total{reason="rejected"} 0"#))
    }

    @Test func stopWithCloudWatchHangingReturnsByItsDeadline() throws {
        let publisher = publisher(flushTimeout: 30)
        try proxy.inject("hang", sticky: true)
        publisher.start()
        publisher.collectOnce()  // the send loop is now stuck in a request
        #expect(VigilProcess.waitUntil(timeout: 5) { (try? proxy.log().count) ?? 0 >= 1 })
        let started = ContinuousClock.now
        publisher.stop(by: .now + .seconds(1))
        let took = ContinuousClock.now - started
        #expect(took < .milliseconds(1500), "stop took \(took) with CloudWatch hanging")
        try proxy.clear()
    }

    /// Sized in datums (20 an interval), the buffer dropped the first datums
    /// of every interval past 20 (11 or more targets) with `cloudwatch.buffer`
    /// shorter than the interval, while CloudWatch was healthy.
    @Test func anIntervalIsKeptWholeHoweverManyTargetsItHas() {
        let buffer = DatumBuffer(collections: 1)
        let datum = MetricDatum(name: "X", unit: .count, value: 1, statistics: nil, dimensions: [], timestamp: UnixTime.now)
        #expect(buffer.append(Array(repeating: datum, count: 8 + 2 * 40)) == 0)
        #expect(buffer.count == 88)
        #expect(buffer.append(Array(repeating: datum, count: 88)) == 88, "the older interval makes room, whole")
    }

    @Test func overflowDuringASendRemovesOnlyWhatWasSent() {
        let buffer = DatumBuffer(collections: 1)
        let datum = MetricDatum(name: "X", unit: .count, value: 1, statistics: nil, dimensions: [], timestamp: UnixTime.now)
        buffer.append(Array(repeating: datum, count: 5))
        let (batch, last) = buffer.nextBatch()
        #expect(batch.count == 5)
        #expect(buffer.append(Array(repeating: datum, count: 10)) == 5)  // the 5 in flight (the older interval) made room while sending
        #expect(buffer.remove(through: last) == 0, "the in-flight datums were already dropped (and counted)")
        #expect(buffer.count == 10, "datums that were never sent were removed")
    }
}
