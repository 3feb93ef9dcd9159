// Micro-benchmark of the secrets client's hit path, run by scripts/bench:
// `get` on a warm entry, on one thread and on two at once.
import Dispatch
import Foundation
import Prometheus
import VigilAWS
import VigilSecrets

let environment = ProcessInfo.processInfo.environment
guard let region = RegionResolver.resolve(configured: nil, environment: environment) else {
    fatalError("vigil-bench: set AWS_REGION (scripts/bench does: eval \"$(scripts/services env)\")")
}
let aws = AWSClient(region: region, credentials: CredentialChain.standard(environment: environment, region: region))
let client = SecretsClient(configuration: SecretsConfiguration(
    items: SecretsConfiguration.standardItems(prefix: "vigil", environment: "dev")), aws: aws,
    metrics: SecretsMetrics(registry: PrometheusCollectorRegistry()))  // as in vigil serve: counters on every lookup
client.preload()
guard (try? client.get("database"))?.source == .aws else { fatalError("vigil-bench: the secret did not load from AWS") }

/// Nanoseconds per `get` over `count` calls on each of `threads` threads.
func measure(threads: Int, count: Int) -> Double {
    let started = DispatchTime.now().uptimeNanoseconds
    DispatchQueue.concurrentPerform(iterations: threads) { _ in
        for _ in 0..<count { _ = try? client.get("database") }
    }
    return Double(DispatchTime.now().uptimeNanoseconds - started) / Double(count)
}

_ = measure(threads: 1, count: 100_000)  // warm up
let single = (0..<5).map { _ in measure(threads: 1, count: 1_000_000) }.sorted()[2]
let pair = (0..<5).map { _ in measure(threads: 2, count: 1_000_000) }.sorted()[2]
print(String(format: "secrets get (warm entry): %.0f ns/op on 1 thread, %.0f ns/op per thread on 2 threads (medians of 5 x 1M)",
             single, pair))
print("hits \(client.metrics.hits.load(ordering: .relaxed)) of \(client.metrics.lookups.load(ordering: .relaxed)) lookups")
