import Foundation
import Testing
import VigilTestSupport

/// The wall clock steps (NTP after a suspend, a VM restored, a wrong RTC
/// corrected): schedules, TTLs and staleness run on the steady clock, so a
/// step changes only the times shown. libfaketime steps the wall clock of
/// the Vigil process alone (its monotonic clock left alone).
private let faketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

@Suite(.enabled(if: ServicesEnvironment.available && FileManager.default.fileExists(atPath: faketime),
                "needs scripts/services and libfaketime; scripts/test provides both"))
struct ClockStepTests {
    let env = ServicesEnvironment()
    let offset = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-faketime-\(UUID().uuidString.prefix(8))")

    /// Vigil under libfaketime, configured by environment only: under
    /// LD_PRELOAD libfaketime, a spawned Swift binary was seen to lose its
    /// arguments.
    private func start(_ environment: [String: String]) throws -> (VigilProcess, String) {
        try "+0".write(to: offset, atomically: true, encoding: .utf8)
        let port = try Blackhole.freePort()
        let vigil = try VigilProcess([], environment: environment.merging([
            "LD_PRELOAD": faketime, "FAKETIME_TIMESTAMP_FILE": offset.path, "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1", "VIGIL_WEB_LISTEN_ADDRESS": "127.0.0.1:\(port)"]) { $1 })
        #expect(vigil.waitForListenAddress() == "127.0.0.1:\(port)", "\(vigil.log)")
        return (vigil, "http://127.0.0.1:\(port)")
    }

    private func step(_ text: String) throws { try text.write(to: offset, atomically: true, encoding: .utf8) }

    /// A step forward past the emergency TTL (24 h) dropped every cached
    /// secret, and any step forward made every result look stale: 503
    /// until each probe ran again (up to an interval).
    @Test func aStepForwardOf25HoursKeepsHealthAndTheCache() throws {
        let (vigil, base) = try start(["VIGIL_PROBES_INTERVAL": "10s"])
        let client = CurlClient()
        #expect(VigilProcess.waitUntil(timeout: 15) { (try? client.request(base + "/health").status) == 200 }, "\(vigil.log)")
        try step("+25h")
        // What is shown follows the wall clock: `last_checked` moves with the step at once.
        let tomorrow = String(ISO8601DateFormatter().string(from: Date().addingTimeInterval(25 * 3600)).prefix(13))
        #expect(VigilProcess.waitUntil(timeout: 5) { (try? client.request(base + "/health").text)?.contains(tomorrow) == true },
                "the step did not take: \((try? client.request(base + "/health").text) ?? "")")
        var codes: [Int] = []
        for _ in 0..<20 {  // two seconds of load balancer checks after the step
            codes.append((try? client.request(base + "/health").status) ?? 0)
            usleep(100_000)
        }
        let metrics = (try? client.request(base + "/metrics").text) ?? ""
        #expect(codes.allSatisfy { $0 == 200 }, "\(codes)")
        #expect(VigilUnderTest.value("vigil_secrets_served_stale", in: metrics) == 0)
        #expect(VigilUnderTest.value("vigil_secrets_cache_entries", in: metrics) == 2)
        #expect(vigil.stop() == 0)
    }

    /// A step back of 2 h stalled refresh-ahead and retries for 2 h. The
    /// step comes between two refresh rounds (a refresh that ends after it
    /// puts its secret on the new time and hides the stall).
    @Test func aStepBackOf2HoursKeepsRefreshAheadGoing() throws {
        // The secrets probe off: refresh-ahead alone calls DescribeSecret, about every 3 s.
        let (vigil, base) = try start(["VIGIL_PROBES_INTERVAL": "1s", "VIGIL_PROBES_SECRETS_ENABLED": "false",
                                       "VIGIL_SECRETS_TTL": "4s", "VIGIL_SECRETS_REFRESH_AHEAD": "1s"])
        let series = #"vigil_aws_request_duration_seconds_count{service="secretsmanager",operation="DescribeSecret"}"#
        func ended() -> Double { VigilUnderTest.value(series, in: (try? CurlClient().request(base + "/metrics").text) ?? "") ?? 0 }
        #expect(VigilProcess.waitUntil(timeout: 10) { ended() >= 2 }, "no refresh-ahead at all: \(vigil.log)")
        try step("-2h")
        let before = ended()
        #expect(VigilProcess.waitUntil(timeout: 15) { ended() >= before + 4 }, "refresh-ahead stalled after the step back")
        #expect(vigil.stop() == 0)
    }
}
