import Foundation
import Testing
import VigilTestSupport

/// The fault matrix, PostgreSQL and Redis side: each behind scripts/tcpfault.py,
/// their credentials in moto, the real binary probing every second.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct FaultMatrixDataTests {
    let env = ServicesEnvironment()
    let suffix = String(UUID().uuidString.prefix(6)).lowercased()

    /// Interval (+10 % jitter) + timeout + the watchdog's grace, plus polling.
    static let detectBound = 1.1 + 1 + 0.2 + 0.5
    /// One interval (+10 %), plus polling.
    static let recoverBound = 1.1 + 0.5

    private func config(database: String, redis: String, extra: String = "") -> String {
        """
        probes:
          interval: 1s
          timeout: 1s
        secrets:
          ttl: 2s
          refresh_ahead: 1s
          max_backoff: 1s
          items:
            database: {id: \(database)}
            redis: {id: \(redis)}
        redis:
          ca_file: \(env.tlsCA)
        \(extra)
        """
    }

    private func putSecret(_ id: String, _ value: String) {
        #expect(env.putSecret(id, value), "cannot create or update \(id)")
    }

    private func psql(_ sql: String) {
        let status = runCommand(["psql", "-h", "127.0.0.1", "-p", String(env.postgresPort), "-U", "postgres", "-d", "vigil",
                                 "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql])
        #expect(status == 0, "psql failed: \(sql)")
    }

    private func redisSecret(port: Int, tls: Bool = false) -> String {
        #"{"host":"127.0.0.1","port":\#(port),"password":"\#(env.redisPassword)","tls":\#(tls)}"#
    }

    @Test func postgresFaults() throws {
        let role = "vigil_fm_\(suffix)"
        psql("CREATE ROLE \(role) LOGIN PASSWORD 'canary-fm-1-\(suffix)';")
        defer { psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '\(role)'; DROP OWNED BY \(role); DROP ROLE IF EXISTS \(role);") }
        let proxy = try TCPFault(upstreamPort: env.postgresPort)
        let databaseID = "vigil/dev/matrix-\(suffix)/database", redisID = "vigil/dev/matrix-\(suffix)/redis"
        func secret(password: String, host: String = "127.0.0.1") -> String {
            #"{"username":"\#(role)","password":"\#(password)","host":"\#(host)","port":\#(proxy.port),"dbname":"vigil"}"#
        }
        putSecret(databaseID, secret(password: "canary-fm-1-\(suffix)"))
        putSecret(redisID, redisSecret(port: Int(env.redisPort) ?? 0))
        let vigil = try VigilUnderTest(config: config(database: databaseID, redis: redisID))
        func fault(_ name: String, _ status: String, _ reason: String, kept: String,
                   apply: () throws -> Void, clear: @escaping () throws -> Void) throws {
            try FaultMatrix.exercise(vigil, fault: "PostgreSQL: \(name)", component: "database", status: status, reason: reason,
                                     detectWithin: Self.detectBound, recoverWithin: Self.recoverBound + 2.5, kept: kept,
                                     apply: apply, clear: clear)
        }
        try fault("stopped", "unhealthy", "refused", kept: "credentials cached") {
            try proxy.mode("refuse"); try proxy.killConnections()
        } clear: { try proxy.mode("pass") }
        try fault("blackholed", "unhealthy", "timeout", kept: "credentials cached") { try proxy.mode("hang") } clear: { try proxy.mode("pass") }
        try fault("wrong password in the secret", "unhealthy", "auth", kept: "one forced refresh, then backoff") {
            let rotations = vigil.value(#"vigil_secrets_rotations_total{secret="database"}"#)
            putSecret(databaseID, secret(password: "canary-fm-wrong-\(suffix)"))
            #expect(vigil.waitForRotation(of: "database", after: rotations))
            try proxy.killConnections()
        } clear: { putSecret(databaseID, secret(password: "canary-fm-1-\(suffix)")) }
        try fault("password rotated (server, then secret)", "healthy", "ok", kept: "login refreshed the secret and retried in the run") {
            psql("ALTER ROLE \(role) PASSWORD 'canary-fm-2-\(suffix)';")
            putSecret(databaseID, secret(password: "canary-fm-2-\(suffix)"))
            try proxy.killConnections()
        } clear: {}
        try fault("unresolvable host", "unhealthy", "dns", kept: "lookup bounded by the deadline") {
            let rotations = vigil.value(#"vigil_secrets_rotations_total{secret="database"}"#)
            putSecret(databaseID, secret(password: "canary-fm-2-\(suffix)", host: "vigil-no-such-host.invalid"))
            #expect(vigil.waitForRotation(of: "database", after: rotations))
            try proxy.killConnections()
        } clear: { putSecret(databaseID, secret(password: "canary-fm-2-\(suffix)")) }
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [vigil.process.log], extra: ["canary-fm-1-\(suffix)", "canary-fm-2-\(suffix)", "canary-fm-wrong-\(suffix)"])
    }

    @Test func redisFaults() throws {
        // `reason` nil below: slow answers show as over the latency threshold or as INFO timing out.
        let plain = try TCPFault(upstreamPort: Int(env.redisPort) ?? 0)
        let tls = try TCPFault(upstreamPort: env.redisTLSPort)
        let databaseID = "vigil/dev/matrix-\(suffix)/database2", redisID = "vigil/dev/matrix-\(suffix)/redis2"
        putSecret(databaseID, #"{"username":"vigil","password":"\#(env.databasePassword)","host":"127.0.0.1","port":\#(env.postgresPort),"dbname":"vigil"}"#)
        putSecret(redisID, redisSecret(port: plain.port))
        let vigil = try VigilUnderTest(config: config(database: databaseID, redis: redisID, extra: "health:\n  latency_threshold: 300ms"))
        func fault(_ name: String, _ status: String, _ reason: String?, kept: String,
                   apply: () throws -> Void, clear: @escaping () throws -> Void) throws {
            try FaultMatrix.exercise(vigil, fault: "Redis: \(name)", component: "redis", status: status, reason: reason,
                                     detectWithin: Self.detectBound, recoverWithin: Self.recoverBound, kept: kept,
                                     apply: apply, clear: clear)
        }
        try fault("stopped", "unhealthy", "refused", kept: "credentials cached") {
            try plain.mode("refuse"); try plain.killConnections()
        } clear: { try plain.mode("pass") }
        try fault("blackholed", "unhealthy", "timeout", kept: "credentials cached") { try plain.mode("hang") } clear: { try plain.mode("pass") }
        try fault("slow (0.42 s a reply: INFO late)", "degraded", nil, kept: "PING answered; a connection whose INFO failed is not reused") {
            try plain.mode("slow", seconds: 0.42)
        } clear: { try plain.mode("pass") }
        try fault("endless reply", "unhealthy", "protocol", kept: "reply cut at 256 KB") {
            try plain.mode("endless"); try plain.killConnections()
        } clear: { try plain.mode("pass") }
        putSecret(redisID, redisSecret(port: tls.port, tls: true))
        try fault("TLS connection reset mid-life", "healthy", "ok", kept: "reconnected within the run; process alive") {
            try tls.mode("tlsreset", after: 8); try tls.killConnections()
        } clear: { try tls.mode("pass") }
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [vigil.process.log])
    }
}
