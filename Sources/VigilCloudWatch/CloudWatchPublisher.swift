import Logging
import Prometheus
import Synchronization
import VigilAWS
import VigilPlatform
import VigilSecrets
import VigilState

/// Publishes Vigil's figures to CloudWatch: every interval one
/// PutMetricData request with all datums of the interval (split only past
/// 1000 datums or ~1 MB), or one EMF line. Collection and sending run on
/// separate threads, so a slow or failing CloudWatch never delays the next
/// collection; unsent datums wait in a bounded buffer with their original
/// timestamps and go out oldest first when CloudWatch answers again.
public final class CloudWatchPublisher: Sendable {
    public struct Options: Sendable {
        public enum Mode: Sendable, Equatable { case api, emf(path: String?) }
        public var interval: Double = 60
        public var namespace = "Vigil"
        public var storageResolution = 60
        public var mode = Mode.api
        /// Intervals whose datums are kept while CloudWatch fails, the one
        /// being sent included; past them the oldest interval's are dropped.
        public var bufferIntervals = 2 * 60 + 1
        public var dimensions: [(name: String, value: String)] = []
        public var errorCodeDimension = false
        public var flushTimeout: Double = 5
        /// Datum timestamps; tests move it by hand.
        public var clock: @Sendable () -> UnixTime = { UnixTime.now }
        public init() {}
    }

    private let options: Options
    private let aws: AWSClient?
    private let collector: Locked<CloudWatchCollector>
    private let buffer: DatumBuffer
    private let wake = Condition()
    private let stopped = Atomic<Bool>(false)
    private let sending = Locked<Void>(())
    private let logger: Logger
    /// Where the publisher's own series go (a private registry when none is given).
    private let metrics: PrometheusCollectorRegistry
    private let emf: EMFWriter?

    /// What the publisher reads: health, the secrets client, AWS error counts.
    public struct Inputs: Sendable {
        public var store: HealthStore
        public var secrets: SecretsClient?
        public var awsMetrics: AWSMetrics?
        public var latencies: ProbeLatencyWindow
        public var certificates: CertificateGauges?

        public init(store: HealthStore, secrets: SecretsClient?, awsMetrics: AWSMetrics?, latencies: ProbeLatencyWindow,
                    certificates: CertificateGauges? = nil) {
            self.store = store
            self.secrets = secrets
            self.awsMetrics = awsMetrics
            self.latencies = latencies
            self.certificates = certificates
        }
    }

    public init(options: Options, aws: AWSClient?, inputs: Inputs, registry: PrometheusCollectorRegistry?, logger: Logger) {
        self.options = options
        self.aws = aws
        self.logger = logger
        self.metrics = registry ?? PrometheusCollectorRegistry()
        buffer = DatumBuffer(collections: options.bufferIntervals)
        collector = Locked(CloudWatchCollector(
            sources: .init(store: inputs.store, secrets: inputs.secrets, aws: inputs.awsMetrics, latencies: inputs.latencies,
                          certificates: inputs.certificates),
            dimensions: options.dimensions, errorCodeDimension: options.errorCodeDimension))
        if case .emf(let path) = options.mode { emf = EMFWriter(path: path, namespace: options.namespace) } else { emf = nil }
        metrics.gauge("vigil_cloudwatch_buffered_datums", "Datums waiting to be sent to CloudWatch.").set(to: 0)
        for reason in DropReason.allCases { dropped(reason).increment(by: Int64(0)) }
        metrics.counter("vigil_cloudwatch_publish_total", "Successful CloudWatch publications (requests or EMF lines).").increment(by: Int64(0))
        for outcome in DatumOutcome.allCases { datums(outcome).increment(by: Int64(0)) }
        for code in Self.publishErrorCodes { publishErrors(code).increment(by: Int64(0)) }
    }

    /// The `code` values of `vigil_cloudwatch_publish_errors_total`, each
    /// at 0 from the start (so `increase()` sees the first error):
    /// PutMetricData's own errors, the common credential and throttling
    /// ones, Network and Timeout; any other code counts as Other.
    static let publishErrorCodes = [
        "AccessDenied", "ExpiredToken", "InvalidClientTokenId", "SignatureDoesNotMatch", "Throttling",
        "InvalidParameterValue", "InvalidParameterCombination", "MissingParameter", "InternalServiceError",
        "ServiceUnavailable", "Network", "Timeout", "Other",
    ]

    private func publishErrors(_ code: String) -> Counter {
        metrics.counter("vigil_cloudwatch_publish_errors_total", "Failed PutMetricData requests, by error code.",
                        [("code", Self.publishErrorCodes.contains(code) ? code : "Other")])
    }

    /// What became of a datum: every collected one is, at any moment,
    /// sent, buffered or dropped (`collected = sent + buffered + dropped`).
    enum DatumOutcome: String, CaseIterable {
        case collected, sent
    }

    /// Why datums were given up.
    enum DropReason: String, CaseIterable {
        /// The outage buffer was full: the oldest made room.
        case bufferFull = "buffer_full"
        /// CloudWatch refused the batch as invalid (a non-retryable 4xx): sending it again cannot help.
        case rejected
    }

    /// Custom metrics (distinct name and dimension sets) one dimension set
    /// produces (see CloudWatchCollector.collect): CacheLookups, CacheHitRate, Rotations, FallbackCount x 2,
    /// AWSErrors, StaleSecretsServed, SecretsNeedingAttention, OverallHealthy, CertificateDaysLeft (sent once a
    /// probe meets or a listener serves a certificate); per probe target ComponentHealthy and
    /// ProbeLatency; and the named health metric of each of database, redis and secrets
    /// that is enabled. Error codes add one each with `cloudwatch.error_code_dimension`.
    /// CloudWatch bills each ($0.30 a month).
    public static func customMetricCount(probes: [String]) -> Int {
        10 + 2 * probes.count + probes.filter { CloudWatchCollector.namedHealthMetrics[$0] != nil }.count
    }

    public func start() {
        startDetachedThread(name: "cw-collect") { [self] in collectLoop() }
        if emf == nil { startDetachedThread(name: "cw-send") { [self] in sendLoop() } }
    }

    /// Collects a last interval and sends what is buffered, within the flush
    /// timeout or by `deadline` if sooner, even while a send is hung.
    public func stop(by deadline: ContinuousClock.Instant? = nil) {
        wake.lock()
        stopped.store(true, ordering: .releasing)
        wake.broadcast()
        wake.unlock()
        collectOnce()
        let flushEnd = ContinuousClock.now + .seconds(options.flushTimeout)
        let end = deadline.map { min($0, flushEnd) } ?? flushEnd
        while buffer.count > 0 && ContinuousClock.now < end && sendPending(until: end) {}
    }

    /// One interval's collection (also used by tests that drive time).
    public func collectOnce() {
        let datums = collector.withLock { $0.collect(at: options.clock()) }
        self.datums(.collected).increment(by: Int64(datums.count))
        if let emf {
            emf.write(datums)
            self.datums(.sent).increment(by: Int64(datums.count))
            metrics.counter("vigil_cloudwatch_publish_total", "Successful CloudWatch publications (requests or EMF lines).").increment()
            return
        }
        let dropped = buffer.append(datums)
        if dropped > 0 {
            self.dropped(.bufferFull).increment(by: Int64(dropped))
            logger.warning("CloudWatch buffer full, oldest datums dropped", metadata: ["dropped": "\(dropped)"])
        }
        metrics.gauge("vigil_cloudwatch_buffered_datums", "Datums waiting to be sent to CloudWatch.").set(Double(buffer.count))
        wake.lock()
        wake.broadcast()
        wake.unlock()
    }

    /// Sends batches until the buffer is empty or a request fails. Returns
    /// false when a request failed. `end`: give up waiting for a send in
    /// progress, and cut requests short, at that instant.
    @discardableResult
    public func sendPending(until end: ContinuousClock.Instant? = nil) -> Bool {
        guard let aws else { return false }
        guard let end else { return sending.withLock { _ in sendBatches(aws, until: nil) } }
        while true {
            if let sent = sending.withLockIfAvailable({ _ in sendBatches(aws, until: end) }) { return sent }
            guard ContinuousClock.now < end else { return false }
            usleepSeconds(0.01)  // another thread is sending (perhaps hung): poll until `end`
        }
    }

    private func sendBatches(_ aws: AWSClient, until end: ContinuousClock.Instant?) -> Bool {
        while case let (batch, last) = buffer.nextBatch(), !batch.isEmpty {
            var parameters = [("Namespace", options.namespace)]
            for (index, datum) in batch.enumerated() {
                parameters += datum.queryParameters(index: index + 1, storageResolution: options.storageResolution)
            }
            do throws(AWSError) {
                _ = try aws.query(.cloudWatch, action: "PutMetricData", version: "2010-08-01", parameters: parameters,
                                  gzipThreshold: 10_000, budget: end.map { ContinuousClock.now.duration(to: $0).timeInterval })
            } catch {
                publishErrors(error.metricCode).increment()
                guard Self.rejectsBatch(error) else {
                    logger.warning("CloudWatch PutMetricData failed; datums kept for the next attempt",
                                   metadata: ["code": "\(error.metricCode)", "buffered": "\(buffer.count)"])
                    return false
                }
                dropped(.rejected).increment(by: Int64(buffer.remove(through: last)))
                logger.error("CloudWatch rejected a batch as invalid; dropped so later datums are not held up",
                             metadata: ["code": "\(error.metricCode)", "datums": "\(batch.count)"])
                continue
            }
            datums(.sent).increment(by: Int64(buffer.remove(through: last)))
            metrics.counter("vigil_cloudwatch_publish_total", "Successful CloudWatch publications (requests or EMF lines).").increment()
            metrics.gauge("vigil_cloudwatch_last_success_timestamp_seconds", "Unix time of the last accepted publication.")
                .set(UnixTime.now.seconds)
            metrics.gauge("vigil_cloudwatch_buffered_datums", "Datums waiting to be sent to CloudWatch.").set(Double(buffer.count))
        }
        return true
    }

    /// A non-retryable answer about the request itself (a bad value, a
    /// missing parameter); not about who sent it: access and signature
    /// problems are fixed outside Vigil, and the datums wait for that.
    static func rejectsBatch(_ error: AWSError) -> Bool {
        error.kind == .client && !AWSError.authenticationCodes.contains(error.code)
            && !["AccessDenied", "AccessDeniedException"].contains(error.code)
    }

    private func collectLoop() {
        while waitFor(options.interval) { collectOnce() }
    }

    private func sendLoop() {
        while !stopped.load(ordering: .acquiring) {
            wake.lock()
            while buffer.count == 0 && !stopped.load(ordering: .acquiring) { wake.wait() }
            wake.unlock()
            if stopped.load(ordering: .acquiring) { return }
            if !sendPending() { _ = waitFor(min(options.interval, 5)) }  // CloudWatch failing: pause before retrying
        }
    }

    /// Sleeps `seconds` unless stopped; false once stopped.
    private func waitFor(_ seconds: Double) -> Bool {
        wake.lock()
        defer { wake.unlock() }
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !stopped.load(ordering: .acquiring) {
            if !wake.wait(until: deadline) { return true }
        }
        return false
    }

    private func dropped(_ reason: DropReason) -> Counter {
        metrics.counter("vigil_cloudwatch_dropped_datums_total", "Datums given up: the buffer was full, or CloudWatch rejected the batch.",
                        [("reason", reason.rawValue)])
    }

    private func datums(_ outcome: DatumOutcome) -> Counter {
        metrics.counter("vigil_cloudwatch_datums_total", "Datums collected for CloudWatch, and those it accepted (or written as EMF).",
                        [("outcome", outcome.rawValue)])
    }
}
