import Foundation
import Testing
import VigilTestSupport

/// What `vigil serve` guarantees whatever the configuration says.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct ServeHardeningTests {
    let env = ServicesEnvironment()

    /// A core file of Vigil would hold every cached secret.
    @Test func coreDumpsAreOff() throws {
        let vigil = try VigilUnderTest(config: "probes:\n  interval: 1s\n")
        let limits = try String(contentsOfFile: "/proc/\(vigil.process.process.pid)/limits", encoding: .utf8)
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }?
            .split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2)
        #expect(core.map(Array.init) == ["0", "0"], "\(limits)")
        #expect(vigil.process.stop() == 0)
    }

    /// Refresh-ahead and the cache gauges used to be driven by the secrets
    /// probe: with it disabled, secrets went stale silently.
    @Test func secretsStayFreshWithTheSecretsProbeOff() throws {
        let proxy = try FaultProxy(upstream: env.motoURL)
        let vigil = try VigilUnderTest(config: """
            probes:
              interval: 1s
              secrets:
                enabled: false
            secrets:
              prefix: vigil
              environment: dev
              ttl: 2s
              refresh_ahead: 1s
            """, environment: ["AWS_ENDPOINT_URL": proxy.url])
        #expect(VigilProcess.waitUntil(timeout: 10) {
            ((try? proxy.log()) ?? []).filter { $0.target.hasSuffix("DescribeSecret") }.count >= 4
        }, "no refresh-ahead without the secrets probe")
        #expect(vigil.value("vigil_secrets_cache_entries") == 2)
        #expect(vigil.value("vigil_secrets_served_stale") == 0)
        #expect(vigil.health()?.checks["secrets"] == nil)
        #expect(vigil.process.stop() == 0)
    }
}
