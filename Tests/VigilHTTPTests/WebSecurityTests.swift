import Foundation
import Testing
import VigilAWS
import VigilConfig
import VigilHTTP
import VigilProbes
import VigilState
import VigilTestSupport

/// `--web.config.file`: HTTPS with the configured certificate, basic auth
/// against bcrypt hashes.
@Suite struct WebSecurityTests {
    /// bcrypt (cost 4) of "canary-web-pass".
    static let hash = "$2b$04$B71iusc/il7xgZHuDat62eMqofRhJa4wYuaDCXkdjv95CwNAMSu.S"
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-web-\(UUID().uuidString.prefix(8))")

    private func writeConfig(_ yaml: String) throws -> String {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let status = runCommand(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=vigil",
                                 "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", folder.appendingPathComponent("key.pem").path,
                                 "-out", folder.appendingPathComponent("cert.pem").path])
        #expect(status == 0)
        let path = folder.appendingPathComponent("web.yml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func server(_ file: WebConfigFile, showDetails: VigilRoutes.ShowDetails = .whenAuthorized) throws -> HTTPServer {
        let store = HealthStore(components: [ComponentHealth(name: "database", critical: true, interval: .seconds(10))], version: "t")
        store.record(ProbeResult(probe: "database", reason: .refused, latency: .milliseconds(3),
                                 detail: "db-7.internal.example:5432 connection refused"))
        var routeOptions = VigilRoutes.Options()
        routeOptions.showDetails = showDetails
        let routes = VigilRoutes(store: store, telemetry: Telemetry(version: "t", revision: "r"), options: routeOptions)
        var options = HTTPServer.Options()
        options.threads = 1
        options.tls = file.tls.map {
            TLSSettings(key: $0.key, certificate: $0.certificate, clientCA: $0.clientCA,
                        clientAuth: TLSSettings.ClientAuth(rawValue: $0.clientAuthType) ?? .noClientCert)
        }
        options.users = file.users.isEmpty ? nil : BasicAuthUsers(hashes: file.users)
        options.openPaths = VigilRoutes.openPaths
        return try HTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0), options: options, handler: routes.respond(to:))
    }

    private func get(_ url: String, ca: String? = nil, user: String? = nil) -> Result<HTTPReply, TransportError> {
        var options = CurlTransport.Options()
        options.caBundle = ca
        let headers = user.map { [(name: "Authorization", value: "Basic " + Data($0.utf8).base64EncodedString())] } ?? []
        return CurlTransport(options: options).perform(HTTPRequestSpec(method: "GET", url: url, headers: headers, timeout: 5))
    }

    @Test func unknownUsersCostAHashCheckToo() {
        let checks = Recorded(0)
        let users = BasicAuthUsers(hashes: ["prometheus": Self.hash]) { password, hash in
            checks.update { $0 += 1 }
            return password == "right" && hash == Self.hash
        }
        #expect(!users.verify(user: "nobody", password: "guess"))
        #expect(checks.value == 1, "an unknown user was answered without a hash check: timing tells valid names")
        #expect(!users.verify(user: "prometheus", password: "guess"))
        #expect(checks.value == 2)
        #expect(users.verify(user: "prometheus", password: "right"))
    }

    @Test func httpsWithBasicAuth() throws {
        let path = try writeConfig("""
            tls_server_config:
              cert_file: cert.pem
              key_file: key.pem
            basic_auth_users:
              prometheus: \(Self.hash)
            """)
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try server(try WebConfigFile.load(path: path))
        let base = "https://127.0.0.1:\(server.boundAddress.port)"
        let ca = folder.appendingPathComponent("cert.pem").path
        let ok = try get(base + "/metrics", ca: ca, user: "prometheus:canary-web-pass").get()
        #expect(ok.status == 200)
        let noAuth = try get(base + "/metrics", ca: ca).get()
        #expect(noAuth.status == 401)
        #expect(noAuth.headers["www-authenticate"] == "Basic realm=\"vigil\"")
        #expect(try get(base + "/", ca: ca).get().status == 401)
        #expect(try get(base + "/metrics", ca: ca, user: "prometheus:wrong").get().status == 401)
        #expect(try get(base + "/metrics", ca: ca, user: "nobody:canary-web-pass").get().status == 401)
        // The certificate is verified: without the CA the handshake fails; plain HTTP gets no answer.
        if case .success = get(base + "/metrics", user: "prometheus:canary-web-pass") { Issue.record("unverified TLS accepted") }
        if case .success(let reply) = get("http://127.0.0.1:\(server.boundAddress.port)/metrics"), reply.status == 200 {
            Issue.record("plain HTTP served")
        }
        server.stop(grace: 0)
    }

    /// Load balancers send no credentials: with basic auth on, the health
    /// checks still answer, with the status words only; the details (hosts,
    /// ports, libpq's errors) go to authenticated callers.
    @Test(arguments: [VigilRoutes.ShowDetails.whenAuthorized, .always, .never])
    func healthIsOpenWithStatusWordsAndDetailsFollowShowDetails(showDetails: VigilRoutes.ShowDetails) throws {
        let path = try writeConfig("basic_auth_users:\n  prometheus: \(Self.hash)\n")
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try server(try WebConfigFile.load(path: path), showDetails: showDetails)
        let base = "http://127.0.0.1:\(server.boundAddress.port)"
        for caller in [nil, "prometheus:wrong", "prometheus:canary-web-pass"] {
            let reply = try get(base + "/health", user: caller).get()
            let body = String(decoding: reply.body, as: UTF8.self)
            #expect(reply.status == 503)
            #expect(body.hasPrefix(#"{"status":"unhealthy","services":{"database":"disconnected"},"checks":{"database":{"status":"unhealthy","critical":true"#), "\(body)")
            let detailed = showDetails == .always || showDetails == .whenAuthorized && caller == "prometheus:canary-web-pass"
            #expect(body.contains("db-7.internal.example") == detailed, "\(caller ?? "no credentials"): \(body)")
            #expect(body.contains(#""reason""#) == detailed && body.contains(#""version""#) == detailed)
            let verbose = String(decoding: try get(base + "/health?verbose", user: caller).get().body, as: UTF8.self)
            #expect(verbose.contains("db-7.internal.example") == detailed)
        }
        #expect(try get(base + "/health/live").get().status == 200)
        #expect(try get(base + "/health/ready").get().status == 503)
        #expect(try get(base + "/metrics").get().status == 401)
        server.stop(grace: 0)
    }

    @Test func badWebConfigNamesTheProblem() throws {
        let path = try writeConfig("""
            tls_server_config:
              cert_file: cert.pem
              certfile: cert.pem
              client_ca_file: missing-ca.pem
              client_auth_type: RequireCert
            basic_auth_users:
              alice: canary-clear-text
            http_server_config:
              headers:
                Server: vigil
            """)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect { try WebConfigFile.load(path: path) } throws: { error in
            let text = "\(error)"
            return text.contains(":3: tls_server_config.certfile: unknown or unsupported key")
                && text.contains(":4: tls_server_config.client_ca_file: cannot read") && text.contains("missing-ca.pem")
                && text.contains(#":5: tls_server_config.client_auth_type: unknown value "RequireCert""#)
                && text.contains("basic_auth_users.alice: expected a bcrypt hash") && !text.contains("canary-clear-text")
                && text.contains("http_server_config.headers.Server: not a header the web configuration may set")
                && text.contains("needs both cert_file and key_file")
        }
    }
}
