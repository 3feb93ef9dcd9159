import Foundation
import Testing
import VigilTestSupport

/// SIGTERM ends Vigil within 5 s whatever is stuck: orchestrators send
/// SIGKILL a few seconds later, and a stop that hangs holds up a deploy.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct ShutdownTests {
    let env = ServicesEnvironment()

    /// Runs `vigil serve` with stdout and stderr on a full one-page pipe
    /// nobody reads (Docker's blocking log driver while its sink is down),
    /// waits until Vigil answers, sends SIGTERM and prints `exited <seconds>
    /// <status>`.
    private static let blockedPipe = #"""
        import fcntl, os, signal, subprocess, sys, termios, time, urllib.request, array
        binary, port = sys.argv[1], sys.argv[2]
        r, w = os.pipe()
        fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: one page
        os.set_blocking(w, False)
        try:
            while True: os.write(w, b"x" * 512)
        except BlockingIOError:
            pass
        os.set_blocking(w, True)  # as Docker hands it over
        n = array.array("i", [0]); fcntl.ioctl(r, termios.FIONREAD, n); print("pipe", n[0])
        env = dict(os.environ, VIGIL_CLOUDWATCH_ENABLED="true", VIGIL_CLOUDWATCH_MODE="emf", VIGIL_CLOUDWATCH_INTERVAL="1s")
        child = subprocess.Popen([binary, "serve", "--web.listen-address", "127.0.0.1:" + port], stdout=w, stderr=w, env=env)
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:%s/health/live" % port, timeout=1).read(); break
            except Exception:
                if time.time() > deadline: raise
                time.sleep(0.05)
        started = time.time()
        child.send_signal(signal.SIGTERM)
        try:
            status = child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill(); status = "hung"
        print("exited %.2f %s" % (time.time() - started, status))
        """#

    @Test func sigtermEndsVigilWithinFiveSecondsWithItsLogPipeBlocked() throws {
        let run = try ChildProcess.run(["python3", "-c", Self.blockedPipe, VigilProcess.binary, String(try Blackhole.freePort())])
        let exited = run.output.split(separator: "\n").first { $0.hasPrefix("exited ") }?.split(separator: " ")
        print("blocked log pipe: \(run.output.split(separator: "\n").suffix(2).joined(separator: ", "))")
        #expect(run.output.contains("pipe 4096"), "the pipe was not full: \(run.output)")
        #expect(exited.flatMap { Double($0[1]) }.map { $0 < 6 } == true, "\(run.output)")
        #expect(exited?.last == "0", "\(run.output)")
    }

    /// The final CloudWatch flush needs credentials; with web identity and
    /// STS hanging, the reload (10 s a try, under the provider's lock) once
    /// held SIGTERM for 11-20 s.
    @Test func sigtermEndsVigilWithinFiveSecondsWithSTSHanging() throws {
        let sts = try Blackhole()
        let token = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-token-\(UUID().uuidString.prefix(8))")
        try "header.payload.signature".write(to: token, atomically: true, encoding: .utf8)
        let vigil = try VigilUnderTest(config: "probes:\n  interval: 1s\n", environment: [
            "VIGIL_CLOUDWATCH_ENABLED": "true", "VIGIL_CLOUDWATCH_INTERVAL": "1s",
            "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
            "AWS_WEB_IDENTITY_TOKEN_FILE": token.path, "AWS_ROLE_ARN": env.roleARN,
            "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:\(sts.port)"])
        #expect(VigilProcess.waitUntil(timeout: 10) { vigil.health()?.code != nil })
        let started = Date()
        let status = vigil.process.stop(signal: SIGTERM, timeout: 30)
        let took = Date().timeIntervalSince(started)
        print("STS hanging: exited after \(String(format: "%.2f", took)) s, status \(status.map(String.init) ?? "none")")
        #expect(took < 6 && status == 0, "\(took) s, \(String(describing: status)): \(vigil.process.log.suffix(1500))")
    }
}
