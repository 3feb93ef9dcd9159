import Foundation
import Glibc
import Testing
import VigilTestSupport

/// `Type=notify` under systemd: READY=1 after the first probe round,
/// WATCHDOG=1 while the loops go round, STOPPING=1 on SIGTERM, over the
/// datagram socket named in NOTIFY_SOCKET (here one the test listens on).
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct SystemdNotifyTests {
    @Test func readyThenWatchdogThenStopping() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-notify-\(getpid()).sock").path
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd); unlink(path) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let vigil = try VigilUnderTest(config: "probes:\n  interval: 1s\n  timeout: 1s\n",
                                       environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"])
        var messages: [String] = []
        func receive(until wanted: String, within seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            var buffer = [UInt8](repeating: 0, count: 512)
            while Date() < deadline {
                let got = recv(fd, &buffer, buffer.count, 0)
                if got > 0 { messages.append(String(decoding: buffer[..<got], as: UTF8.self)) }
                if messages.contains(where: { $0.hasPrefix(wanted) }) { return true }
            }
            return false
        }
        #expect(receive(until: "READY=1", within: 15), "no READY=1: \(messages)")
        #expect(vigil.health()?.code != nil)  // ready means /health answers from a completed round
        #expect(receive(until: "WATCHDOG=1", within: 3), "no WATCHDOG=1: \(messages)")
        kill(vigil.process.process.pid, SIGTERM)
        #expect(receive(until: "STOPPING=1", within: 5), "no STOPPING=1: \(messages)")
        let status = vigil.process.stop(timeout: 5)
        #expect(status == 0, "exit \(status.map(String.init) ?? "none"): \(vigil.process.log.suffix(6000))")
        let ready = messages.firstIndex { $0.hasPrefix("READY=1") } ?? .max
        let watchdog = messages.firstIndex { $0.hasPrefix("WATCHDOG=1") } ?? .max
        #expect(ready < watchdog || watchdog == .max, "WATCHDOG=1 before READY=1: \(messages)")
    }
}
