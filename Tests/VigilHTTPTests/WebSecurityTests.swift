import Foundation
import Testing
import VigilAWS
import VigilConfig
@testable import VigilHTTP
import VigilCurl
import VigilPlatform
import VigilResults
import VigilState
import VigilTestSupport
import VigilWeb

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
        let tls = file.tls.map {
            TLSSettings(key: $0.key, certificate: $0.certificate, clientCA: $0.clientCA,
                        clientAuth: TLSSettings.ClientAuth(rawValue: $0.clientAuthType) ?? .noClientCert)
        }
        return try server(tls: tls, users: file.users.isEmpty ? nil : BasicAuthUsers(hashes: file.users), showDetails: showDetails)
    }

    /// Vigil's routes over a store whose database was refused, with one libmicrohttpd worker.
    private func server(tls: TLSSettings? = nil, users: BasicAuthUsers?,
                        showDetails: VigilRoutes.ShowDetails = .whenAuthorized) throws -> HTTPServer {
        let store = HealthStore(components: [ComponentHealth(name: "database", critical: true, interval: .seconds(10))], version: "t")
        store.record(ProbeResult(probe: "database", reason: .refused, latency: .milliseconds(3),
                                 detail: "db-7.internal.example:5432 connection refused"))
        var routeOptions = VigilRoutes.Options()
        routeOptions.showDetails = showDetails
        let routes = VigilRoutes(store: store, telemetry: Telemetry(version: "t", revision: "r"), options: routeOptions)
        var options = HTTPServer.Options()
        options.threads = 1
        options.tls = tls
        options.users = users
        options.openPaths = VigilRoutes.openPaths
        options.uncheckedPaths = VigilRoutes.uncheckedPaths
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

    /// Issue 27: only passes were remembered, so every wrong password cost
    /// a bcrypt. A repeated one costs one check now, an unknown user's too
    /// (the decoy's failure is remembered alike: timing still tells no names).
    @Test func aRepeatedWrongPasswordCostsOneHashCheck() {
        let checks = Recorded(0)
        let users = BasicAuthUsers(hashes: ["prometheus": Self.hash]) { password, _ in
            checks.update { $0 += 1 }
            return password == "right"
        }
        for _ in 0..<50 {
            #expect(!users.verify(user: "prometheus", password: "wrong"))
            #expect(!users.verify(user: "nobody", password: "wrong"))
        }
        #expect(checks.value == 2)
        for _ in 0..<50 { #expect(users.verify(user: "prometheus", password: "right")) }
        #expect(checks.value == 3)
        // Remembered by bytes: a canonically equivalent spelling is another password to bcrypt.
        #expect(!users.verify(user: "prometheus", password: "caf\u{E9}"))
        #expect(!users.verify(user: "prometheus", password: "cafe\u{301}"))
        #expect(checks.value == 5)
    }

    /// Passes and failures are remembered apart: a flood of wrong guesses
    /// cannot make the right password cost a check again; the oldest
    /// guesses are forgotten.
    @Test func wrongGuessesCannotPushTheRightPasswordOut() {
        let checks = Recorded(0)
        let users = BasicAuthUsers(hashes: ["prometheus": Self.hash]) { password, _ in
            checks.update { $0 += 1 }
            return password == "right"
        }
        #expect(users.verify(user: "prometheus", password: "right"))
        for guess in 0..<5_000 where users.verify(user: "prometheus", password: "guess-\(guess)") {
            Issue.record("guess-\(guess) passed")
        }
        #expect(users.verify(user: "prometheus", password: "right"))
        #expect(checks.value == 5_001)
        #expect(!users.verify(user: "prometheus", password: "guess-0"))
        #expect(checks.value == 5_002)
    }

    /// At most `maxPending` checks are admitted; each gives its place back
    /// once, however often it is dropped, and when it has run.
    @Test func admittedChecksAreBoundedAndGiveTheirPlaceBackOnce() {
        let users = BasicAuthUsers(hashes: ["prometheus": Self.hash]) { _, _ in false }
        let credentials = users.credentials(user: "prometheus", password: "guess")
        let admitted = (0..<BasicAuthUsers.maxPending).compactMap { _ in users.admit(credentials) }
        #expect(admitted.count == BasicAuthUsers.maxPending)
        #expect(users.admit(credentials) == nil)
        admitted[0].drop()
        admitted[0].drop()
        #expect(users.pendingChecks == BasicAuthUsers.maxPending - 1)
        let again = users.admit(credentials)
        #expect(users.admit(credentials) == nil)
        #expect(again?.run() == false)
        #expect(users.pendingChecks == BasicAuthUsers.maxPending - 1)
        for check in admitted.dropFirst() { check.drop() }
        #expect(users.pendingChecks == 0)
    }

    /// Checks run one at a time, in the order they were admitted: a right
    /// password that arrives behind guesses waits for those ahead of it
    /// only, never for one admitted after it.
    @Test func checksRunOneAtATimeInTurn() {
        let gate = Recorded(false), order = Recorded<[String]>([]), running = Recorded(0), most = Recorded(0)
        let users = BasicAuthUsers(hashes: ["prometheus": Self.hash]) { password, _ in
            running.update { $0 += 1 }
            most.update { $0 = max($0, running.value) }
            while !gate.value { usleep(1_000) }
            order.update { $0.append(password) }
            running.update { $0 -= 1 }
            return password == "right"
        }
        let finished = Recorded(0)
        func start(_ password: String) {
            let check = users.admit(users.credentials(user: "prometheus", password: password))
            #expect(check != nil)
            #expect(startDetachedThread(name: "test-check") {
                _ = check?.run()
                finished.update { $0 += 1 }
            })
        }
        for (taken, password) in ((0...6).map { "guess-\($0)" } + ["right"]).enumerated() {
            start(password)
            #expect(Self.waitUntil(seconds: 20) { users.waitingChecks == taken + 1 }, "\(password) took no turn")
        }
        #expect(running.value == 1)
        gate.update { $0 = true }
        #expect(Self.waitUntil(seconds: 10) { finished.value == 8 })
        #expect(order.value == (0...6).map { "guess-\($0)" } + ["right"])
        #expect(most.value == 1)
        #expect(users.pendingChecks == 0)
    }

    /// A reload builds new users (a certificate renewal's too): with the
    /// same hashes, what the old ones found stays; with others, it goes.
    @Test func aReloadWithTheSameHashesKeepsWhatWasRemembered() throws {
        let checks = Recorded(0)
        func users(_ hashes: [String: String]) -> BasicAuthUsers {
            BasicAuthUsers(hashes: hashes) { password, _ in
                checks.update { $0 += 1 }
                return password == "canary-web-pass"
            }
        }
        let server = try server(users: users(["prometheus": Self.hash]))
        defer { server.stop(grace: 0) }
        let base = "http://127.0.0.1:\(server.boundAddress.port)"
        let ok = HTTPResponse(status: 200, contentType: "text/plain; charset=utf-8", body: "ok\n")
        #expect(try get(base + "/metrics", user: "prometheus:canary-web-pass").get().status == 200)
        try server.update(tls: nil, users: users(["prometheus": Self.hash]), headers: []) { _ in ok }
        #expect(try get(base + "/metrics", user: "prometheus:canary-web-pass").get().status == 200)
        #expect(checks.value == 1)
        try server.update(tls: nil, users: users(["prometheus": Self.hash, "grafana": Self.hash]), headers: []) { _ in ok }
        #expect(try get(base + "/metrics", user: "prometheus:canary-web-pass").get().status == 200)
        #expect(checks.value == 2)
    }

    /// bcrypt never runs on a libmicrohttpd worker (issue 27: each wrong
    /// password cost one there, before the open-path check, and `/health`
    /// waited behind it), and never on `/health/live` or `/health/ready`,
    /// whose answers do not depend on the caller: with a single worker and
    /// a check that takes 2 s under way, `/health` without credentials
    /// answers at once; a wrong password sent 20 times, to open paths and
    /// others, costs one check.
    @Test func credentialChecksNeverHoldAWorker() throws {
        let checks = Recorded(0)
        let users = BasicAuthUsers(hashes: ["prometheus": Self.hash]) { password, _ in
            checks.update { $0 += 1 }
            if password == "slow" { usleep(2_000_000) }
            return password == "canary-web-pass"
        }
        let server = try server(users: users)
        defer { server.stop(grace: 0) }
        let base = "http://127.0.0.1:\(server.boundAddress.port)"
        for path in ["/health/live", "/health/ready"] {
            for guess in 0..<5 { _ = try get(base + path, user: "prometheus:unchecked-\(guess)").get() }
        }
        #expect(try get(base + "/health/live", user: "prometheus:unchecked").get().status == 200)
        #expect(checks.value == 0, "a password sent to /health/live or /health/ready was checked")
        let slow = Recorded(false)
        #expect(startDetachedThread(name: "test-slow") {
            _ = self.get(base + "/metrics", user: "prometheus:slow")
            slow.update { $0 = true }
        })
        #expect(Self.waitUntil { checks.value == 1 })
        let started = Date()
        #expect(try get(base + "/health").get().status == 503)
        #expect(try get(base + "/health/live").get().status == 200)
        #expect(Date().timeIntervalSince(started) < 1, "the worker waited for the check")
        #expect(Self.waitUntil(seconds: 10) { slow.value })
        for path in ["/health", "/health/live", "/metrics", "/"] {
            for _ in 0..<5 { _ = try get(base + path, user: "prometheus:wrong").get() }
        }
        #expect(checks.value == 2)
        #expect(try get(base + "/metrics", user: "prometheus:wrong").get().status == 401)
    }

    /// Past `maxPending` checks waiting, a request is not checked: 503 with
    /// Retry-After at once outside the open paths, the status words on
    /// them. Those admitted run in turn when the one ahead ends.
    @Test func checksPastTheBoundAreAnsweredAtOnce() throws {
        let gate = Recorded(false)
        let users = BasicAuthUsers(hashes: ["prometheus": Self.hash]) { password, _ in
            while !gate.value { usleep(1_000) }
            return password == "canary-web-pass"
        }
        let server = try server(users: users)
        defer { server.stop(grace: 0) }
        let base = "http://127.0.0.1:\(server.boundAddress.port)"
        let statuses = Recorded<[Int]>([])
        for guess in 0..<BasicAuthUsers.maxPending {
            #expect(startDetachedThread(name: "test-guess") {
                var options = CurlTransport.Options()
                options.maxIdleHandles = 0
                let headers = [(name: "Authorization", value: "Basic " + Data("prometheus:guess-\(guess)".utf8).base64EncodedString())]
                let reply = CurlTransport(options: options).perform(
                    HTTPRequestSpec(method: "GET", url: base + "/metrics", headers: headers, timeout: 60))
                statuses.update { $0.append((try? reply.get().status) ?? 0) }
            })
        }
        #expect(Self.waitUntil(seconds: 20) { users.pendingChecks == BasicAuthUsers.maxPending })
        let busy = try get(base + "/metrics", user: "prometheus:canary-web-pass").get()
        #expect(busy.status == 503 && busy.headers["retry-after"] == "1")
        let words = String(decoding: try get(base + "/health", user: "prometheus:canary-web-pass").get().body, as: UTF8.self)
        #expect(words.contains(#""status":"unhealthy""#) && !words.contains("db-7.internal.example"), "\(words)")
        gate.update { $0 = true }
        #expect(Self.waitUntil(seconds: 30) { statuses.value.count == BasicAuthUsers.maxPending })
        #expect(statuses.value == Array(repeating: 401, count: BasicAuthUsers.maxPending))
        #expect(try get(base + "/metrics", user: "prometheus:canary-web-pass").get().status == 200)
        let details = String(decoding: try get(base + "/health", user: "prometheus:canary-web-pass").get().body, as: UTF8.self)
        #expect(details.contains("db-7.internal.example"))
    }

    /// A renewed certificate applies from the next connection and no daemon
    /// is replaced (issue 27: the swap quiesced the serving daemons, which
    /// can abort the process): 100 swaps while four clients keep asking,
    /// over a kept-alive connection and every fourth time a new one, fail
    /// no request (each swap waits for an answer after the one before, so
    /// they interleave however loaded the machine). A connection made
    /// before the swaps keeps its certificate, new ones get the last; a key
    /// that is not the certificate's is refused, naming it, and the running pair stays.
    @Test func certificateSwapsUnderLoadFailNoRequest() throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try keyPair("first"), second = try keyPair("second")
        let both = folder.appendingPathComponent("both.pem").path
        try (first.certificate + second.certificate).write(toFile: both, atomically: true, encoding: .utf8)
        let ok = HTTPResponse(status: 200, contentType: "text/plain; charset=utf-8", body: "ok\n")
        var options = HTTPServer.Options()
        options.threads = 4
        options.tls = first
        let server = try HTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0), options: options) { _ in ok }
        defer { server.stop(grace: 0) }
        let url = "https://127.0.0.1:\(server.boundAddress.port)/"
        let kept = Self.client(trusting: pem("first"))
        #expect(Self.status(kept, url) == 200)

        let running = Recorded(true), answered = Recorded(0), failures = Recorded<[String]>([]), ended = Recorded(0)
        for _ in 0..<4 {
            #expect(startDetachedThread(name: "test-client") {
                let keptAlive = Self.client(trusting: both)
                var round = 0
                while running.value {
                    round += 1
                    let status = Self.status(round % 4 == 0 ? Self.client(trusting: both) : keptAlive, url)
                    if status == 200 { answered.update { $0 += 1 } } else { failures.update { $0.append("\(status ?? 0)") } }
                }
                ended.update { $0 += 1 }
            })
        }
        for swap in 1...100 {
            let before = answered.value
            try server.update(tls: swap.isMultiple(of: 2) ? first : second, users: nil, headers: []) { _ in ok }
            #expect(Self.waitUntil(seconds: 30) { answered.value > before || !failures.value.isEmpty }, "no answer after swap \(swap)")
        }
        running.update { $0 = false }
        #expect(Self.waitUntil(seconds: 60) { ended.value == 4 })
        #expect(failures.value.isEmpty, "\(failures.value.count) failed: \(failures.value.prefix(5))")
        #expect(answered.value >= 100)

        try server.update(tls: second, users: nil, headers: []) { _ in ok }
        let again = kept.perform(HTTPRequestSpec(method: "GET", url: url, timeout: 15))
        #expect((try? again.get())?.status == 200 && (try? again.get())?.newConnections == 0, "\(again)")
        #expect(Self.status(Self.client(trusting: pem("second")), url) == 200)
        #expect(Self.status(Self.client(trusting: pem("first")), url) == nil, "a new connection got a replaced certificate")
        #expect { try server.update(tls: TLSSettings(key: first.key, certificate: second.certificate), users: nil, headers: []) { _ in ok } }
            throws: { "\($0)".contains("the key and certificate") }
        #expect { try server.update(tls: TLSSettings(key: second.key, certificate: second.certificate, priorities: "NORMAL:+NOT-A-THING"),
                                    users: nil, headers: []) { _ in ok } }
            throws: { "\($0)".contains("the priorities") && !"\($0)".contains("key") }
        #expect(Self.status(Self.client(trusting: pem("second")), url) == 200)
    }

    /// A connection keeps the certificate it shook hands with, but not the
    /// client CAs: once they (or `client_auth_type`) change, a client
    /// certificate checked under the old ones authorises nothing more on
    /// it. Its next request is answered 503 with `Connection: close`, and
    /// the client's next connection is checked under the new CAs. A renewed
    /// server certificate alone keeps the connection serving.
    @Test func aConnectionIsNotAuthorisedByClientCAsReplacedSinceItsHandshake() throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let newKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        func leaf(_ name: String, _ authority: String, _ serial: Int) -> String {
            "openssl req -new \(newKey) -subj /CN=\(name) -keyout \(name).key -out \(name).csr && "
                + "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > \(name).ext && "
                + "openssl x509 -req -in \(name).csr -CA \(authority).pem -CAkey \(authority).key -set_serial \(serial) "
                + "-days 2 -extfile \(name).ext -out \(name).pem"
        }
        let script = ["server-ca", "clients", "elsewhere"].map { "openssl req -x509 \(newKey) -days 2 -subj /CN=\($0) -keyout \($0).key -out \($0).pem" }
            + [leaf("server", "server-ca", 1), leaf("renewed", "server-ca", 2), leaf("prometheus", "clients", 3)]
        #expect(runCommand(["bash", "-c", "cd '\(folder.path)' && (" + script.joined(separator: " && ") + ") >/dev/null 2>&1"]) == 0)
        func file(_ name: String) throws -> String { try String(contentsOfFile: folder.appendingPathComponent(name).path, encoding: .utf8) }
        func tls(_ server: String, clientCA: String) throws -> TLSSettings {
            TLSSettings(key: try file("\(server).key"), certificate: try file("\(server).pem"), clientCA: try file("\(clientCA).pem"),
                        clientAuth: .requireAndVerifyClientCert)
        }
        let ok = HTTPResponse(status: 200, contentType: "text/plain; charset=utf-8", body: "ok\n")
        let box = Recorded<HTTPServer?>(nil), errors = Recorded<[String]>([])
        let swaps: [String: TLSSettings] = ["/renew": try tls("renewed", clientCA: "clients"), "/other-ca": try tls("renewed", clientCA: "elsewhere")]
        var options = HTTPServer.Options()
        options.tls = try tls("server", clientCA: "clients")
        // Swaps from a request, between two requests of one connection; the handler stays.
        @Sendable func respond(_ request: HTTPRequest) -> HTTPResponse {
            do {
                if let swap = swaps[request.path] { try box.value?.update(tls: swap, users: nil, headers: [], handler: respond) }
            } catch { errors.update { $0.append("\(error)") } }
            return ok
        }
        let server = try HTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0), options: options, handler: respond)
        box.update { $0 = server }
        defer { server.stop(grace: 0) }
        let base = "https://127.0.0.1:\(server.boundAddress.port)"
        // One curl, one connection kept alive across its URLs: status and connections made, per URL.
        func statuses(_ paths: [String]) -> String {
            let urls = paths.flatMap { ["-o", "/dev/null", base + $0] }
            let command = ["curl", "-s", "-w", "%{http_code}/%{num_connects} ", "--max-time", "15",
                           "--cacert", pem("server-ca"), "--cert", pem("prometheus"), "--key", folder.appendingPathComponent("prometheus.key").path]
            let run = try? ChildProcess.run(command + urls)
            return run?.output.trimmingCharacters(in: .whitespaces) ?? "?"
        }
        // The server certificate renewed between two requests: the connection goes on.
        #expect(statuses(["/renew", "/metrics"]) == "200/1 200/0")
        // The client CAs replaced: the connection is told to go; a new one is checked against the new CAs.
        #expect(statuses(["/other-ca", "/metrics", "/metrics"]) == "200/1 503/0 403/1")
        #expect(errors.value.isEmpty, "\(errors.value)")
    }

    private static func waitUntil(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            guard Date() < deadline else { return false }
            usleep(5_000)
        }
        return true
    }

    /// A key pair for 127.0.0.1 made by the openssl CLI (P-256: fast to make).
    private func keyPair(_ name: String) throws -> TLSSettings {
        let key = folder.appendingPathComponent("\(name).key").path
        #expect(runCommand(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                            "-days", "2", "-subj", "/CN=\(name)", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", key, "-out", pem(name)]) == 0)
        return TLSSettings(key: try String(contentsOfFile: key, encoding: .utf8),
                           certificate: try String(contentsOfFile: pem(name), encoding: .utf8))
    }

    private func pem(_ name: String) -> String { folder.appendingPathComponent("\(name).pem").path }

    /// libcurl trusting the certificates in `bundle` only, keeping one connection alive.
    private static func client(trusting bundle: String) -> CurlTransport {
        var options = CurlTransport.Options()
        options.caBundle = bundle
        options.maxIdleHandles = 1
        return CurlTransport(options: options)
    }

    /// The status of a GET, nil when it failed (the handshake among others).
    private static func status(_ client: CurlTransport, _ url: String) -> Int? {
        try? client.perform(HTTPRequestSpec(method: "GET", url: url, timeout: 15)).get().status
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
