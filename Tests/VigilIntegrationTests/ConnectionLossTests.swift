import Foundation
import Glibc
import Testing
import VigilTestSupport

/// Connections lost the way production loses them: the server ends them
/// (failover, pooler restart, idle reaper), or clients hoard Vigil's own.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct ConnectionLossTests {
    let env = ServicesEnvironment()
    let suffix = String(UUID().uuidString.prefix(6)).lowercased()

    private func admin(_ arguments: [String]) -> Int32 {
        runCommand(["aws", "secretsmanager"] + arguments, environment: env.admin)
    }

    private func psql(_ sql: String) -> Int32 {
        runCommand(["psql", "-h", "127.0.0.1", "-p", String(env.postgresPort), "-U", "postgres", "-d", "vigil",
                    "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql])
    }

    private func redis(_ arguments: [String]) -> Int32 {
        runCommand(["redis-cli", "-p", env.redisPort, "--no-auth-warning", "-a", env.redisPassword] + arguments)
    }

    /// The test's own PostgreSQL role and Redis ACL user, so the kills below
    /// reach this Vigil's connections only.
    @Test func keptConnectionsKilledServerSideNeverTurnHealthRed() throws {
        let role = "vigil_kill_\(suffix)", password = "canary-kill-\(suffix)"
        #expect(psql("CREATE ROLE \(role) LOGIN PASSWORD '\(password)';") == 0)
        defer { _ = psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '\(role)'; DROP OWNED BY \(role); DROP ROLE IF EXISTS \(role);") }
        #expect(redis(["ACL", "SETUSER", role, "on", ">\(password)", "+ping", "+info", "+select"]) == 0)
        defer { _ = redis(["ACL", "DELUSER", role]) }
        let databaseID = "vigil/dev/kill-\(suffix)/database", redisID = "vigil/dev/kill-\(suffix)/redis"
        #expect(admin(["create-secret", "--name", databaseID, "--secret-string",
                       #"{"username":"\#(role)","password":"\#(password)","host":"127.0.0.1","port":\#(env.postgresPort),"dbname":"vigil"}"#]) == 0)
        #expect(admin(["create-secret", "--name", redisID, "--secret-string",
                       #"{"username":"\#(role)","password":"\#(password)","host":"127.0.0.1","port":\#(env.redisPort)}"#]) == 0)
        let vigil = try VigilUnderTest(config: """
            probes:
              interval: 1s
              timeout: 1s
            secrets:
              items:
                database: {id: \(databaseID)}
                redis: {id: \(redisID)}
            """)
        #expect(vigil.seconds(until: { $0.code == 200 && $0.services["database"] == "connected" && $0.services["redis"] == "connected" },
                              timeout: 20) != nil)
        var codes: [Int: Int] = [:]
        for _ in 0..<4 {
            #expect(psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '\(role)';") == 0)
            #expect(redis(["CLIENT", "KILL", "USER", role]) == 0)
            let until = Date().addingTimeInterval(1.5)  // over one interval: the next run meets the dead connections
            while Date() < until {
                codes[vigil.health()?.code ?? 0, default: 0] += 1
                usleep(20_000)
            }
        }
        print("keptConnectionsKilled: /health codes \(codes)")
        #expect(codes.keys.sorted() == [200], "/health left 200 after server-side kills: \(codes)")
        FaultMatrix.record(.init(fault: "Kept connections killed server-side (`pg_terminate_backend`, `CLIENT KILL`), 4 times",
                                 expected: "stays healthy", detected: nil, recovered: nil,
                                 kept: "reconnected within the same run: /health 200 on all \(codes[200] ?? 0) requests"))
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [vigil.process.log], extra: [password])
    }

    /// 1500 idle connections from one address, Vigil limited to 1024
    /// descriptors: another address still gets /health, and the probes
    /// (which need descriptors of their own) stay connected.
    @Test func idleConnectionHoardersLockNobodyOut() throws {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        try #require(limit.rlim_cur >= 1700, "the test needs 1700 descriptors, has \(limit.rlim_cur)")
        let vigil = try VigilUnderTest(config: "probes:\n  interval: 1s\n  timeout: 1s\n",
                                       launcher: ["/usr/bin/prlimit", "--nofile=1024:1024", "--"])
        #expect(vigil.seconds(until: { $0.services["database"] == "connected" && $0.services["redis"] == "connected" },
                              timeout: 20) != nil)
        let port = UInt16(vigil.base.split(separator: ":").last.flatMap { Int($0) } ?? 0)
        let hoard = (0..<1500).compactMap { _ in rawConnect(from: "127.0.0.1", to: port) }
        defer { hoard.forEach { close($0) } }
        #expect(hoard.count == 1500)
        var answers: [String] = []
        let until = Date().addingTimeInterval(3.5)  // three probe runs with the descriptors taken
        while Date() < until {
            answers.append(rawGet("/health", from: "127.0.0.2", to: port))
            usleep(200_000)
        }
        let good = answers.filter { $0.hasPrefix("HTTP/1.1 200") && $0.contains(#""database":"connected""#)
            && $0.contains(#""redis":"connected""#) }
        print("idleConnectionHoarders: \(good.count) of \(answers.count) answers 200 with both connected")
        #expect(good.count == answers.count, "first bad answer: \(answers.first { !good.contains($0) }?.prefix(200) ?? "")")
        FaultMatrix.record(.init(fault: "1500 idle HTTP connections from one address, 1024 descriptors", expected: "stays healthy",
                                 detected: nil, recovered: nil,
                                 kept: "another address served (\(good.count)/\(answers.count)); probes connected"))
        #expect(vigil.process.stop() == 0)
    }

    /// A TCP connection from a chosen loopback address (127.0.0.0/8 is all local).
    private func rawConnect(from source: String, to port: UInt16) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        func address(_ host: String, _ port: UInt16) -> sockaddr_in {
            sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: port.bigEndian, sin_addr: in_addr(s_addr: inet_addr(host)),
                        sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        }
        var local = address(source, 0), remote = address("127.0.0.1", port)
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) == 0 } }
            && withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, size) == 0 } }
        if !ok { close(fd) }
        return ok ? fd : nil
    }

    /// One HTTP/1.1 GET over a raw socket, the whole answer as text ("" on failure).
    private func rawGet(_ path: String, from source: String, to port: UInt16) -> String {
        guard let fd = rawConnect(from: source, to: port) else { return "" }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("GET \(path) HTTP/1.1\r\nHost: vigil\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, 0) == request.count else { return "" }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = recv(fd, &buffer, buffer.count, 0)
            if got <= 0 { break }
            answer += buffer[..<got]
        }
        return String(decoding: answer, as: UTF8.self)
    }
}
