import Foundation
import Testing
import VigilTestSupport

/// The secrets endpoint against moto through the fault proxy: each test is
/// a row of docs/endpoint.md's compatibility table with the AWS Secrets
/// Manager Agent, or one of the points where Vigil does better.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct EndpointTests {
    let env = ServicesEnvironment()
    static let token = "endpoint-token-\(UUID().uuidString)"

    /// Vigil with the endpoint on, AWS behind a fault proxy, secrets under
    /// a fresh prefix (`vigil/dev/<run>/`).
    /// Immutable after `init`; its requests are made with a client each.
    final class Endpoint: @unchecked Sendable {
        let vigil: VigilUnderTest
        let proxy: FaultProxy
        let base: String
        let prefix = "vigil/dev/endpoint-\(UUID().uuidString.prefix(8))"

        init(_ env: ServicesEnvironment, config: String = "", environment: [String: String] = [:]) throws {
            let proxy = try FaultProxy(upstream: env.motoURL)
            let vigil = try VigilUnderTest(config: """
                secrets:
                  prefix: vigil
                  environment: dev
                endpoint:
                  enabled: true
                  listen_address: 127.0.0.1:0
                \(config)
                """, environment: ["AWS_ENDPOINT_URL": proxy.url, "AWS_TOKEN": EndpointTests.token].merging(environment) { $1 })
            guard let found = vigil.process.waitForListenAddress(of: "secrets endpoint listening") else {
                throw NotStarted(log: vigil.process.log)
            }
            (self.proxy, self.vigil, base) = (proxy, vigil, "http://\(found)")
            // The start-up load is done before a test counts AWS calls.
            _ = vigil.seconds(until: { $0.checks["secrets"]?.status == "healthy" }, timeout: 20)
        }

        func get(_ path: String, token: String? = EndpointTests.token, header: String = "X-Aws-Parameters-Secrets-Token",
                 method: String = "GET", extra: [String] = []) throws -> CurlClient.Response {
            try CurlClient().request(base + path, method: method, headers: (token.map { ["\(header): \($0)"] } ?? []) + extra)
        }

        func json(_ response: CurlClient.Response) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
        }

        /// AWS calls the proxy saw of `operation` since the last `clear()`.
        func calls(_ operation: String) throws -> Int { try proxy.log().filter { $0.target.hasSuffix(operation) }.count }

        deinit { _ = vigil.process.stop() }
    }

    struct NotStarted: Error {
        var log: String
    }

    private func encoded(_ id: String) -> String { id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id }

    @Test func pingTokenMethodsPathsAndParametersAnswerAsTheAgentDoes() throws {
        let endpoint = try Endpoint(env)
        let ping = try endpoint.get("/ping", token: nil)
        #expect(ping.status == 200 && ping.text == "healthy")
        #expect(try endpoint.get("/ping", token: nil, method: "POST").status == 405)
        let id = "vigil/dev/database/credentials"
        // Token: none, wrong, either header.
        let none = try endpoint.get("/secretsmanager/get?secretId=\(encoded(id))", token: nil)
        #expect(none.status == 403 && none.text == "Bad Token")
        #expect(try endpoint.get("/secretsmanager/get?secretId=\(encoded(id))", token: "wrong").status == 403)
        #expect(try endpoint.get("/secretsmanager/get?secretId=\(encoded(id))", token: EndpointTests.token + "x").status == 403)
        #expect(try endpoint.get("/secretsmanager/get?secretId=\(encoded(id))").status == 200)
        #expect(try endpoint.get("/secretsmanager/get?secretId=\(encoded(id))", header: "X-Vault-Token").status == 200)
        // Forwarded requests, other methods, other paths.
        let forwarded = try endpoint.get("/secretsmanager/get?secretId=\(encoded(id))", extra: ["X-Forwarded-For: 10.0.0.1"])
        #expect(forwarded.status == 400 && forwarded.text == "Forwarded")
        #expect(try endpoint.get("/secretsmanager/get?secretId=\(encoded(id))", method: "POST").status == 405)
        #expect(try endpoint.get("/secretsmanager/get?secretId=\(encoded(id))", method: "PUT").status == 405)
        let notFound = try endpoint.get("/secrets")
        #expect(notFound.status == 404 && notFound.text == "Not found")
        // Parameters.
        #expect(try endpoint.get("/secretsmanager/get").text == "missing parameter secretId")
        #expect(try endpoint.get("/secretsmanager/get?secretId=").status == 400)
        let unknown = try endpoint.get("/secretsmanager/get?secretId=x&colour=blue")
        #expect(unknown.status == 400 && unknown.text == "unknown parameter: colour")
        let refresh = try endpoint.get("/secretsmanager/get?secretId=\(encoded(id))&refreshNow=maybe")
        #expect(refresh.status == 400 && refresh.text == "invalid refreshNow value")
        #expect(try endpoint.get("/v1/").text == "missing secret ID")
        #expect(try endpoint.get("/v1/\(id)?secretId=x").text == "unknown parameter: secretId")
        // Hundreds of parameters: 400. Ten thousand outgrow libmicrohttpd's
        // 40 KiB per connection: 414 (from ~600 to ~5,000, no answer until
        // the idle timeout: docs/endpoint.md), and everything else goes on.
        let hundreds = (0..<300).map { "p\($0)=1" }.joined(separator: "&")
        #expect(try endpoint.get("/secretsmanager/get?secretId=x&\(hundreds)").text == "unknown parameter: p0")
        let thousands = (0..<10_000).map { "p\($0)=1" }.joined(separator: "&")
        #expect(try endpoint.get("/secretsmanager/get?secretId=x&\(thousands)").status == 414)
        let long = String(repeating: "a", count: 3000)
        #expect(try endpoint.get("/v1/vigil/dev/\(long)").status == 400)
        // The path form takes ids with slashes, the query form percent-encoded ones.
        let path = try endpoint.get("/v1/\(id)")
        #expect(path.status == 200 && endpoint.json(path)["Name"] as? String == id)
        #expect(endpoint.vigil.process.process.isRunning)
        // /health: the endpoint is a component of its own (its /ping, through the listener), not critical.
        #expect(VigilProcess.waitUntil(timeout: 10) { endpoint.vigil.health()?.checks["endpoint"]?.status == "healthy" },
                "\(endpoint.vigil.health()?.checks ?? [:])")
        #expect(endpoint.vigil.health()?.services["endpoint"] != nil)
        env.assertNoCanary(in: [endpoint.vigil.process.log, endpoint.vigil.metrics, ping.text, none.text, notFound.text])
    }

    @Test func aStringAndABinarySecretCarryGetSecretValuesFields() throws {
        // CloudWatch as EMF lines in a file: its payloads are checked for the canaries too.
        let emf = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-endpoint-emf-\(UUID().uuidString)")
        let endpoint = try Endpoint(env, config: "cloudwatch:\n  enabled: true\n  mode: emf\n  interval: 1s\n  emf_output: \(emf.path)\n")
        let id = endpoint.prefix + "/partner", value = "canary-string-\(UUID().uuidString)"
        #expect(env.putSecret(id, value))
        let read = try endpoint.get("/secretsmanager/get?secretId=\(encoded(id))")
        let fields = endpoint.json(read)
        let secretCheck1 = fields["SecretString"] as? String == value
        #expect(read.status == 200 && secretCheck1)
        #expect(fields["Name"] as? String == id)
        #expect((fields["ARN"] as? String)?.hasPrefix("arn:aws:secretsmanager:") == true)
        #expect((fields["VersionId"] as? String)?.isEmpty == false)
        #expect(fields["VersionStages"] as? [String] == ["AWSCURRENT"])
        #expect((fields["CreatedDate"] as? String).flatMap(Double.init) != nil, "\(fields["CreatedDate"] ?? "none")")
        #expect(read.headers["x-vigil-source"] == "aws" && read.headers["age"] == "0")
        #expect(read.headers["cache-control"] == "no-store")

        let binaryID = endpoint.prefix + "/keystore"
        let bytes = Data((0..<64).map { UInt8($0 * 3 % 256) })
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-binary-\(UUID().uuidString)")
        try bytes.write(to: file)
        #expect(runCommand(["aws", "secretsmanager", "create-secret", "--name", binaryID, "--secret-binary", "fileb://\(file.path)"],
                           environment: env.admin) == 0)
        let binary = endpoint.json(try endpoint.get("/v1/\(binaryID)"))
        #expect(binary["SecretBinary"] as? String == bytes.base64EncodedString() && binary["SecretString"] == nil)

        let missing = try endpoint.get("/v1/\(endpoint.prefix)/absent")
        // AWS's own status is passed on: 400 from AWS, 404 from moto.
        #expect([400, 404].contains(missing.status) && endpoint.json(missing)["__type"] as? String == "ResourceNotFoundException",
                "\(missing.text)")
        #expect(VigilProcess.waitUntil(timeout: 10) { ((try? String(contentsOf: emf, encoding: .utf8)) ?? "").contains("\n") })
        let health = try CurlClient().request(endpoint.vigil.base + "/health?verbose").text
        let published = (try? String(contentsOf: emf, encoding: .utf8)) ?? ""
        env.assertNoCanary(in: [endpoint.vigil.process.log, endpoint.vigil.metrics, missing.text, health, published], extra: [value])
    }

    /// Two refreshNow reads around a change in AWS, the second within a
    /// second of the first: it waits for its turn and answers the new value
    /// (it used to answer the first read's value, from before it arrived).
    /// Every read carries `ETag` (its version id); `If-None-Match` with it
    /// answers 304 without the value, on both forms and for one `jsonKey`;
    /// once the version moves the old tag gets the new value, under its tag.
    @Test func anETagIsTheVersionAndIfNoneMatchWithItIs304() throws {
        let endpoint = try Endpoint(env)
        let id = endpoint.prefix + "/tagged", first = #"{"password":"etag-first-\#(UUID().uuidString)"}"#
        #expect(env.putSecret(id, first))
        let read = try endpoint.get("/v1/\(id)")
        let version = try #require(endpoint.json(read)["VersionId"] as? String)
        let tag = "\"\(version)\""
        #expect(read.status == 200 && read.headers["etag"] == tag)
        for (path, holds) in [("/v1/\(id)", tag), ("/secretsmanager/get?secretId=\(encoded(id))", "W/\(tag)"),
                              ("/v1/\(id)?jsonKey=password", "\"other\", \(tag)"), ("/v1/\(id)", "*")] {
            let cached = try endpoint.get(path, extra: ["If-None-Match: \(holds)"])
            #expect(cached.status == 304 && cached.body.isEmpty && cached.headers["etag"] == tag, "\(path) with \(holds): \(cached.status)")
        }
        #expect(try endpoint.get("/v1/\(id)", extra: [#"If-None-Match: "another-version""#]).status == 200)

        let second = #"{"password":"etag-second-\#(UUID().uuidString)"}"#
        #expect(env.putSecret(id, second))
        let moved = try endpoint.get("/v1/\(id)?refreshNow=true", extra: ["If-None-Match: \(tag)"])
        let newVersion = endpoint.json(moved)["VersionId"] as? String
        #expect(moved.status == 200 && newVersion != version && moved.headers["etag"] == newVersion.map { "\"\($0)\"" })
        env.assertNoCanary(in: [endpoint.vigil.process.log, endpoint.vigil.metrics], extra: [first, second])
    }

    /// Long polls: 1,000 reads holding the version served wait (suspended,
    /// no thread each) until AWSCURRENT moves and Vigil sees it, then all
    /// answer 200 with the new version; one whose deadline comes first
    /// answers 304. Prints the time from Vigil seeing the change to the
    /// last answer, the RSS they cost and `/health` latencies meanwhile.
    @Test func aThousandLongPollsAreAnsweredWhenTheVersionMovesAndAtTheirDeadline304() throws {
        let endpoint = try Endpoint(env)
        let id = endpoint.prefix + "/polled", first = #"{"password":"poll-first-\#(UUID().uuidString)"}"#
        #expect(env.putSecret(id, first))
        let read = try endpoint.get("/v1/\(id)")
        let tag = try #require(read.headers["etag"])
        let started = Date()
        let expired = try endpoint.get("/v1/\(id)?wait=1", extra: ["If-None-Match: \(tag)"])
        let waited = Date().timeIntervalSince(started)
        #expect(expired.status == 304 && expired.body.isEmpty && waited >= 0.9 && waited < 5, "304 after \(waited) s")
        #expect(try endpoint.get("/v1/\(id)?wait=30", extra: [#"If-None-Match: "older""#]).status == 200, "a version the client lacks waits for nothing")
        for bad in ["soon", "nan", "inf", "-1", "1e300"] {  // a Duration from nan, inf or 1e300 s traps: each refused first
            #expect(try endpoint.get("/v1/\(id)?wait=\(bad)", extra: ["If-None-Match: \(tag)"]).status == 400, "wait=\(bad)")
        }

        let rss = { () -> Double in
            let status = (try? String(contentsOfFile: "/proc/\(endpoint.vigil.process.process.pid)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return (Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1024
        }
        let idle = rss()
        let polls = 1000
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-polls-\(UUID().uuidString.prefix(6)).curl")
        // Headers and write-out apply to every URL of a curl config; each URL has its output.
        let headers = "header = \"X-Aws-Parameters-Secrets-Token: \(EndpointTests.token)\"\n"
            + "header = \"If-None-Match: \(tag.replacingOccurrences(of: "\"", with: "\\\""))\"\n"
            + "write-out = \"%{http_code}\\n\"\n"
        let entry = "url = \"\(endpoint.base)/v1/\(id)?wait=60\"\noutput = \"/dev/null\"\n"
        // curl holds at most 300 transfers in parallel: four of 250.
        try (headers + String(repeating: entry, count: polls / 4)).write(to: config, atomically: true, encoding: .utf8)
        let clients = try (0..<4).map { _ in
            try ChildProcess(["curl", "-s", "--no-progress-meter", "--parallel", "--parallel-immediate", "--parallel-max", "300",
                              "--max-time", "90", "-K", config.path], stderr: false)
        }
        let gauge = { endpoint.vigil.value("vigil_endpoint_long_polls") ?? 0 }
        #expect(VigilProcess.waitUntil(timeout: 30) { gauge() == Double(polls) }, "\(gauge()) long polls held")
        let held = rss()
        var latencies: [Double] = []
        for _ in 0..<200 {
            let before = Date()
            _ = try? CurlClient().request(endpoint.vigil.base + "/health")
            latencies.append(Date().timeIntervalSince(before) * 1000)
        }
        latencies.sort()

        let second = #"{"password":"poll-second-\#(UUID().uuidString)"}"#
        #expect(env.putSecret(id, second))
        let fresh = try endpoint.get("/v1/\(id)?refreshNow=true")
        let seen = Date()  // Vigil held the new version by the time this read returned
        for client in clients { client.waitUntilExit() }
        let answeredAfter = Date().timeIntervalSince(seen)
        _ = VigilProcess.waitUntil(timeout: 10) { clients.allSatisfy(\.reachedEnd) }
        let codes = clients.flatMap { $0.log.split(separator: "\n") }
        #expect(codes.count == polls && codes.allSatisfy { $0 == "200" }, "\(Dictionary(grouping: codes, by: { $0 }).mapValues(\.count))")
        #expect(fresh.headers["etag"] != tag)
        #expect(VigilProcess.waitUntil(timeout: 5) { gauge() == 0 }, "\(gauge()) long polls still held")
        print("long polls: \(polls) answered 200 \(Int(answeredAfter * 1000)) ms after Vigil saw the new version (curl's exit included); "
              + "RSS \(String(format: "%.1f", idle)) MB idle, \(String(format: "%.1f", held)) MB with them waiting; "
              + "/health while they waited: p50 \(String(format: "%.2f", latencies[100])) ms, p99 \(String(format: "%.2f", latencies[197])) ms")
        #expect(answeredAfter < 5, "the long polls were answered \(answeredAfter) s after the change was seen")
        try? FileManager.default.removeItem(at: config)
        env.assertNoCanary(in: [endpoint.vigil.process.log, endpoint.vigil.metrics], extra: [first, second])
    }

    /// `/secretsmanager/batch`: ten cold ids, three outside the allow-list,
    /// are one BatchGetSecretValue for the seven (no GetSecretValue) and
    /// three AccessDeniedException in `Errors`, never asked of AWS; the same
    /// batch again comes from the cache.
    @Test func aBatchOfColdSecretsIsOneBatchGetSecretValueAndTheDeniedAreNeverAsked() throws {
        let allowed = "vigil/dev/batch-\(UUID().uuidString.prefix(6))"
        let endpoint = try Endpoint(env, config: "  allow: [\"\(allowed)/*\"]")
        let ids = (0..<7).map { "\(allowed)/ok-\($0)" } + (0..<3).map { "\(endpoint.prefix)/no-\($0)" }
        for id in ids { #expect(env.putSecret(id, "batch-value-\(id.suffix(4))")) }
        try endpoint.proxy.clear()
        let query = ids.map { "secretId=\(encoded($0))" }.joined(separator: "&")
        let reply = try endpoint.get("/secretsmanager/batch?\(query)")
        let body = endpoint.json(reply)
        let values = body["SecretValues"] as? [[String: Any]] ?? [], errors = body["Errors"] as? [[String: Any]] ?? []
        #expect(reply.status == 200 && values.count == 7 && errors.count == 3, "\(reply.text.prefix(300))")
        #expect(Set(values.compactMap { $0["Name"] as? String }) == Set(ids.prefix(7)))
        #expect(values.allSatisfy { ($0["SecretString"] as? String) == "batch-value-\((($0["Name"] as? String) ?? "").suffix(4))" })
        #expect(Set(errors.compactMap { $0["SecretId"] as? String }) == Set(ids.suffix(3))
                && errors.allSatisfy { $0["ErrorCode"] as? String == "AccessDeniedException" })
        let log = try endpoint.proxy.log()
        #expect(log.filter { $0.target.hasSuffix("BatchGetSecretValue") }.count == 1, "\(log.map(\.target))")
        #expect(log.filter { $0.target.hasSuffix(".GetSecretValue") }.isEmpty && !log.contains { $0.secretID.contains("/no-") })
        try endpoint.proxy.clear()
        #expect(endpoint.json(try endpoint.get("/secretsmanager/batch?\(query)"))["SecretValues"].map { ($0 as? [Any])?.count } == 7)
        #expect(try endpoint.proxy.log().isEmpty, "a warm batch asked AWS")
        #expect(try endpoint.get("/secretsmanager/batch").status == 400 && endpoint.get("/secretsmanager/batch?secretId=a&x=1").status == 400)
    }

    /// Past `endpoint.max_waiters` a long poll is told to come back later
    /// (503, `Retry-After`), not answered 304 at once for a client to spin on.
    @Test func pastMaxWaitersALongPollIs503WithRetryAfter() throws {
        let endpoint = try Endpoint(env, config: "  max_waiters: 1\n")
        let id = endpoint.prefix + "/crowded"
        #expect(env.putSecret(id, #"{"k":"crowded-\#(UUID().uuidString)"}"#))
        let tag = try #require(try endpoint.get("/v1/\(id)").headers["etag"])
        let first = try ChildProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30",
                                      "-H", "X-Aws-Parameters-Secrets-Token: \(EndpointTests.token)", "-H", "If-None-Match: \(tag)",
                                      endpoint.base + "/v1/\(id)?wait=3"])
        #expect(VigilProcess.waitUntil(timeout: 10) { endpoint.vigil.value("vigil_endpoint_long_polls") == 1 })
        let second = try endpoint.get("/v1/\(id)?wait=3", extra: ["If-None-Match: \(tag)"])
        #expect(second.status == 503 && second.headers["retry-after"] == "5")
        first.waitUntilExit()
        #expect(VigilProcess.waitUntil(timeout: 5) { first.log == "304" }, "\(first.log)")
    }

    @Test func refreshNowTwiceAroundAChangeAnswersTheNewValue() throws {
        let endpoint = try Endpoint(env)
        let id = endpoint.prefix + "/twice", first = "first-\(UUID().uuidString)", second = "second-\(UUID().uuidString)"
        #expect(env.putSecret(id, first))
        let before = try endpoint.get("/v1/\(id)?refreshNow=true")
        let started = Date()
        // PutSecretValue signed by curl itself (the aws CLI takes seconds to start here).
        #expect(runCommand(["curl", "-sf", "-o", "/dev/null", "--aws-sigv4", "aws:amz:us-east-1:secretsmanager",
                            "--user", "\(env.adminKeyID):\(env.adminSecret)", "-H", "X-Amz-Target: secretsmanager.PutSecretValue",
                            "-H", "Content-Type: application/x-amz-json-1.1",
                            "-d", #"{"SecretId":"\#(id)","SecretString":"\#(second)"}"#, env.motoURL]) == 0)
        let after = try endpoint.get("/v1/\(id)?refreshNow=true")
        let gap = Date().timeIntervalSince(started)
        print("refreshNow around a change: the second read answered \(gap) s after the first")
        let secretCheck = endpoint.json(before)["SecretString"] as? String == first && endpoint.json(after)["SecretString"] as? String == second
        #expect(secretCheck && after.headers["x-vigil-source"] == "aws")
        env.assertNoCanary(in: [endpoint.vigil.process.log, endpoint.vigil.metrics], extra: [first, second])
    }

    @Test func anUpstreamChangeIsHiddenWithinTheTTLUntilRefreshNow() throws {
        let endpoint = try Endpoint(env)
        let id = endpoint.prefix + "/email", first = "first-\(UUID().uuidString)", second = "second-\(UUID().uuidString)"
        #expect(env.putSecret(id, first))
        let old = endpoint.json(try endpoint.get("/v1/\(id)"))
        #expect(env.putSecret(id, second))
        let cached = try endpoint.get("/v1/\(id)")
        let secretCheck1 = endpoint.json(cached)["SecretString"] as? String == first
        #expect(secretCheck1 && cached.headers["x-vigil-source"] == "cache", "the cached value within the TTL")
        let refreshed = try endpoint.get("/v1/\(id)?refreshNow=true")
        let secretCheck2 = endpoint.json(refreshed)["SecretString"] as? String == second
        #expect(secretCheck2 && refreshed.headers["x-vigil-source"] == "aws")
        let kept = try endpoint.get("/secretsmanager/get?secretId=\(encoded(id))")
        let secretCheck3 = endpoint.json(kept)["SecretString"] as? String == second
        #expect(secretCheck3 && kept.headers["x-vigil-source"] == "cache")

        // Versions: by stage and by id, each its own entry.
        let previous = endpoint.json(try endpoint.get("/v1/\(id)?versionStage=AWSPREVIOUS"))
        let secretCheck4 = previous["SecretString"] as? String == first
        #expect(secretCheck4 && previous["VersionStages"] as? [String] == ["AWSPREVIOUS"])
        let pinned = endpoint.json(try endpoint.get("/v1/\(id)?versionId=\(old["VersionId"] as? String ?? "")"))
        let secretCheck5 = pinned["SecretString"] as? String == first
        #expect(secretCheck5)

        // refreshNow is bounded: one AWS read a second per secret; one sooner
        // waits for its turn (never answered from before it arrived).
        try endpoint.proxy.clear()
        let started = ContinuousClock.now
        let again = try (0..<3).map { _ in try endpoint.get("/v1/\(id)?refreshNow=1").headers["x-vigil-source"] }
        #expect(again == ["aws", "aws", "aws"])
        #expect(try endpoint.calls("GetSecretValue") == 3)
        #expect(ContinuousClock.now - started >= .seconds(2), "three refreshNow within a second each reached AWS")
        env.assertNoCanary(in: [endpoint.vigil.process.log, endpoint.vigil.metrics], extra: [first, second])
    }

    @Test func fiftyConcurrentColdReadsMakeOneAWSCallAndANameAndItsARNShareIt() throws {
        let endpoint = try Endpoint(env)
        let id = endpoint.prefix + "/payments", value = "payments-\(UUID().uuidString)"
        #expect(env.putSecret(id, value))
        try endpoint.proxy.clear()
        try endpoint.proxy.inject("delay", seconds: 0.5, target: "GetSecretValue")  // all 50 arrive during the one read
        let lock = NSLock()
        nonisolated(unsafe) var statuses: [Int] = []
        let group = DispatchGroup()
        for _ in 0..<50 {
            group.enter()
            Thread {
                let status = (try? endpoint.get("/v1/\(id)").status) ?? -1
                lock.withLock { statuses.append(status) }
                group.leave()
            }.start()
        }
        group.wait()
        #expect(lock.withLock { statuses } == Array(repeating: 200, count: 50))
        #expect(try endpoint.calls("GetSecretValue") == 1)

        let arn = endpoint.json(try endpoint.get("/v1/\(id)"))["ARN"] as? String ?? ""
        let byARN = try endpoint.get("/secretsmanager/get?secretId=\(encoded(arn))")
        #expect(byARN.status == 200 && byARN.headers["x-vigil-source"] == "cache")
        let partial = try endpoint.get("/secretsmanager/get?secretId=\(encoded(String(arn.dropLast(7))))")
        #expect(partial.status == 200 && partial.headers["x-vigil-source"] == "cache")
        #expect(try endpoint.calls("GetSecretValue") == 1, "the ARN or the partial ARN was a second entry")

        // Outside the allow-list: refused, and AWS never asked.
        let outside = try endpoint.get("/v1/other/team/secret")
        #expect(outside.status == 403 && endpoint.json(outside)["__type"] as? String == "AccessDeniedException")
        #expect(try endpoint.proxy.log().count == 1)
        #expect(endpoint.vigil.value(#"vigil_endpoint_requests_total{outcome="denied"}"#) == 1)
        #expect(endpoint.vigil.value(#"vigil_endpoint_requests_total{outcome="miss"}"#) == 50)
        env.assertNoCanary(in: [endpoint.vigil.process.log, endpoint.vigil.metrics], extra: [value])
    }

    @Test func theLeastRecentlyReadIsEvictedAndAConfiguredItemsRefreshNowIsBounded() throws {
        let endpoint = try Endpoint(env, config: "  cache_size: 2\n")
        let ids = ["a", "b", "c"].map { "\(endpoint.prefix)/\($0)" }
        for id in ids { #expect(env.putSecret(id, "value-\(UUID().uuidString)")) }
        for id in [ids[0], ids[1], ids[0], ids[2]] { #expect(try endpoint.get("/v1/\(id)").status == 200) }
        try endpoint.proxy.clear()
        #expect(try endpoint.get("/v1/\(ids[0])").headers["x-vigil-source"] == "cache", "the most recently read was evicted")
        #expect(try endpoint.get("/v1/\(ids[1])").headers["x-vigil-source"] == "aws", "the least recently read was kept")
        #expect(try endpoint.calls("GetSecretValue") == 1)

        // refreshNow on a configured item: each one reads AWS, a second apart at most once.
        try endpoint.proxy.clear()
        let started = ContinuousClock.now
        let sources = try (0..<3).map { _ in try endpoint.get("/v1/vigil/dev/database/credentials?refreshNow=true").headers["x-vigil-source"] }
        #expect(sources == ["aws", "aws", "aws"])
        #expect(try endpoint.calls("GetSecretValue") == 3)
        #expect(ContinuousClock.now - started >= .seconds(2))
    }

    /// Slow clients: connections that send half a request hold a thread
    /// each, never anyone else's read, and are closed after web.idle_timeout.
    @Test func slowClientsHoldUpNobodyAndAreClosedAfterTheIdleTimeout() throws {
        let endpoint = try Endpoint(env, config: "web:\n  idle_timeout: 2s\n")
        let port = UInt16(endpoint.base.split(separator: ":").last.flatMap { Int($0) } ?? 0)
        var stalled: [Int32] = []
        for _ in 0..<40 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var remote = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: port.bigEndian,
                                     sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
            let connected = withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            #expect(connected)
            _ = "GET /v1/vigil/dev/redis/cre".withCString { send(fd, $0, strlen($0), 0) }
            var wait = timeval(tv_sec: 8, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
            stalled.append(fd)
        }
        defer { for fd in stalled { close(fd) } }
        let started = Date()
        #expect(try endpoint.get("/v1/vigil/dev/redis/credentials").status == 200)
        let read = Date().timeIntervalSince(started)
        print("endpoint: a read beside 40 stalled clients took \(String(format: "%.1f", read * 1000)) ms")
        #expect(read < 1, "a stalled client held up a read")
        // Each stalled connection is closed by the server (recv sees the end, not the 8 s timeout).
        var buffer = [UInt8](repeating: 0, count: 512)
        let closed = stalled.filter { recv($0, &buffer, buffer.count, 0) >= 0 }.count
        print("endpoint: \(closed) of 40 stalled connections closed after \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        #expect(closed == 40 && Date().timeIntervalSince(started) < 7)
        #expect(try endpoint.get("/ping", token: nil).status == 200)
    }

    /// A cold read AWS cannot answer: 504 TimeoutError while it hangs, 502
    /// ConnectionError while it refuses, each within the bounds set, as the agent answers.
    @Test func aColdReadAWSCannotAnswerGets504Or502InTime() throws {
        let endpoint = try Endpoint(env, config: "  timeout: 2s\n", environment: ["VIGIL_AWS_TIMEOUT": "1s", "VIGIL_AWS_MAX_ATTEMPTS": "1"])
        try endpoint.proxy.inject("hang", sticky: true)
        var started = Date()
        let hung = try endpoint.get("/v1/\(endpoint.prefix)/cold-hang")
        let hungAfter = Date().timeIntervalSince(started)
        #expect(hung.status == 504 && endpoint.json(hung)["__type"] as? String == "TimeoutError", "\(hung.status) \(hung.text)")
        #expect(hungAfter < 2.5, "waited \(hungAfter) s, past endpoint.timeout")
        try endpoint.proxy.clear()
        try endpoint.proxy.refuse(true)
        started = Date()
        let refused = try endpoint.get("/v1/\(endpoint.prefix)/cold-refused")
        let refusedAfter = Date().timeIntervalSince(started)
        try endpoint.proxy.refuse(false)
        #expect(refused.status == 502 && endpoint.json(refused)["__type"] as? String == "ConnectionError", "\(refused.status) \(refused.text)")
        print("endpoint: cold read, AWS hanging: 504 after \(String(format: "%.2f", hungAfter)) s; refusing: 502 after \(String(format: "%.3f", refusedAfter)) s")
        #expect(endpoint.vigil.value(#"vigil_endpoint_requests_total{outcome="error"}"#) == 2)
    }

    /// Past the TTL while AWS hangs, and while it throttles: the cached value
    /// at once (the agent passes throttling on as an error).
    @Test func pastTheTTLWhileAWSHangsOrThrottlesTheCachedValueIsServedAtOnce() throws {
        let endpoint = try Endpoint(env, config: "  timeout: 2s\n", environment: [
            "VIGIL_SECRETS_TTL": "2s", "VIGIL_SECRETS_REFRESH_AHEAD": "1s", "VIGIL_AWS_TIMEOUT": "1s", "VIGIL_AWS_MAX_ATTEMPTS": "1"])
        let id = endpoint.prefix + "/portal", value = "portal-\(UUID().uuidString)"
        #expect(env.putSecret(id, value))
        #expect(try endpoint.get("/v1/\(id)").status == 200)
        for fault in ["hang", "throttle"] {
            try endpoint.proxy.inject(fault, sticky: true)
            var slowest = 0.0, stale = 0, answers = 0
            let started = Date()
            while Date().timeIntervalSince(started) < 4 {  // two TTLs
                let sent = Date()
                let read = try endpoint.get("/v1/\(id)")
                slowest = max(slowest, Date().timeIntervalSince(sent))
                let secretCheck = endpoint.json(read)["SecretString"] as? String == value
                #expect(read.status == 200 && secretCheck, "\(fault): \(read.status)")
                if read.headers["x-vigil-source"] == "stale" { stale += 1 }
                answers += 1
                usleep(50_000)  // an application's pace, not a synchronisation
            }
            print("endpoint: AWS \(fault): \(answers) answers, \(stale) stale, slowest \(String(format: "%.1f", slowest * 1000)) ms")
            #expect(stale > 0 && slowest < 0.1, "\(fault): \(stale) stale, slowest \(slowest) s")
            try endpoint.proxy.clear()
            #expect(VigilProcess.waitUntil(timeout: 10) {
                (try? endpoint.get("/v1/\(id)").headers["x-vigil-source"]) == "cache"
            }, "not back on fresh values after the \(fault)")
        }
        #expect(endpoint.vigil.value(#"vigil_secrets_fallback_total{secret="_other",source="emergency_cache"}"#) ?? 0 > 0)
        env.assertNoCanary(in: [endpoint.vigil.process.log, endpoint.vigil.metrics], extra: [value])
    }

    /// Requests exactly as the Lambda extension's clients send them: middy's
    /// (`withDecryption=true`, the id through `encodeURI`, which leaves `/`)
    /// and Go's secretlamb (`versionId=` and `versionStage=` empty); and
    /// `jsonKey` on both forms, one key as text: a nested one, a missing one
    /// named, a binary or non-JSON secret refused. No value in an error.
    @Test func theLambdaExtensionsClientsAndJSONKey() throws {
        let endpoint = try Endpoint(env)
        let id = "vigil/dev/database/credentials"
        let plain = try endpoint.get("/secretsmanager/get?secretId=\(encoded(id))")
        let middy = try endpoint.get("/secretsmanager/get?withDecryption=true&secretId=\(id)")
        #expect(middy.status == 200 && middy.body == plain.body, "withDecryption changes nothing: \(middy.status)")
        let secretlamb = try endpoint.get("/secretsmanager/get?secretId=\(encoded(id))&versionId=&versionStage=")
        #expect(secretlamb.status == 200 && secretlamb.body == plain.body)
        #expect(try endpoint.get("/v1/\(id)?withDecryption=true").status == 400, "the agent's path keeps the agent's rules")

        let password = try endpoint.get("/v1/\(id)?jsonKey=password")
        #expect(password.status == 200 && password.text == env.databasePassword, "the password as text")
        #expect(password.headers["content-type"]?.hasPrefix("text/plain") == true && password.headers["x-vigil-source"] != nil)
        #expect(try endpoint.get("/secretsmanager/get?secretId=\(encoded(id))&jsonKey=password").body == password.body)
        let missing = try endpoint.get("/v1/\(id)?jsonKey=passwd")
        #expect(missing.status == 404 && missing.text.contains("has no key passwd") && !missing.text.contains(env.databasePassword))

        let nestedID = endpoint.prefix + "/nested", nested = "canary-nested-\(UUID().uuidString.prefix(8))"
        #expect(env.putSecret(nestedID, #"{"db":{"password":"\#(nested)"},"plain":"x"}"#))
        #expect(try endpoint.get("/v1/\(nestedID)?jsonKey=db.password").text == nested)
        let textID = endpoint.prefix + "/text"
        #expect(env.putSecret(textID, "canary-not-json"))
        let notJSON = try endpoint.get("/v1/\(textID)?jsonKey=password")
        #expect(notJSON.status == 400 && notJSON.text.contains("not a JSON object") && !notJSON.text.contains("canary-not-json"))
        let binaryID = endpoint.prefix + "/binary"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-binary-\(UUID().uuidString)")
        try Data([0x7B, 0x7D]).write(to: file)
        #expect(runCommand(["aws", "secretsmanager", "create-secret", "--name", binaryID, "--secret-binary", "fileb://\(file.path)"],
                           environment: env.admin) == 0)
        let binary = try endpoint.get("/v1/\(binaryID)?jsonKey=a")
        #expect(binary.status == 400 && binary.text.contains("is binary"))
        env.assertNoCanary(in: [endpoint.vigil.process.log, endpoint.vigil.metrics, missing.text, notJSON.text],
                           extra: [nested, "canary-not-json"])
    }

    @Test func nodeAndPythonClientsReadTheDatabasePassword() throws {
        let endpoint = try Endpoint(env)
        let id = "vigil/dev/database/credentials"
        let node = """
            const http = require('http');
            http.get({host: '127.0.0.1', port: \(endpoint.base.split(separator: ":").last!), path: '/v1/\(id)',
                      headers: {'X-Aws-Parameters-Secrets-Token': process.env.AWS_TOKEN}}, (res) => {
              let body = '';
              res.on('data', (chunk) => body += chunk);
              res.on('end', () => {
                const secret = JSON.parse(JSON.parse(body).SecretString);
                process.stdout.write(secret.password === process.env.EXPECTED ? 'match' : 'differs');
              });
            });
            """
        let python = """
            import json, os, urllib.request
            request = urllib.request.Request('\(endpoint.base)/secretsmanager/get?secretId=\(encoded(id))',
                                             headers={'X-Aws-Parameters-Secrets-Token': os.environ['AWS_TOKEN']})
            secret = json.loads(json.load(urllib.request.urlopen(request))['SecretString'])
            print('match' if secret['password'] == os.environ['EXPECTED'] else 'differs', end='')
            """
        let environment = ["AWS_TOKEN": EndpointTests.token, "EXPECTED": env.databasePassword]
        let nodeRun = try ChildProcess.run(["node", "-e", node], environment: environment)
        #expect(nodeRun.status == 0 && nodeRun.output == "match", "node: \(nodeRun.status)")
        let pythonRun = try ChildProcess.run(["python3", "-c", python], environment: environment)
        #expect(pythonRun.status == 0 && pythonRun.output == "match", "python: \(pythonRun.status)")
        env.assertNoCanary(in: [endpoint.vigil.process.log, endpoint.vigil.metrics, nodeRun.output, pythonRun.output])
    }

    /// `unix:/PATH`: the socket file is the owner's and group's (0660), a
    /// stale one of a crashed run is replaced, a Node.js client reads
    /// through it (`socketPath`), `/health`'s endpoint component probes
    /// through it, and the file goes at exit. Anything else at the path is
    /// refused. Over TCP every answer leaves with TTL 1, as the agent's.
    @Test func aUnixSocketListenerAndTTLOneOverTCP() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-unix-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/endpoint.sock"
        // A socket file left behind by a process that died.
        #expect(try ChildProcess.run(["python3", "-c", "import socket; socket.socket(socket.AF_UNIX).bind('\(path)')"]).status == 0)
        let vigil = try VigilUnderTest(config: """
            secrets: {prefix: vigil, environment: dev}
            endpoint: {enabled: true, listen_address: "unix:\(path)"}
            """,
                                       environment: ["AWS_TOKEN": EndpointTests.token])
        #expect(vigil.seconds(until: { $0.services["endpoint"] == "healthy" }, timeout: 20) != nil, "\(vigil.process.log.suffix(1500))")
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o660, "mode \(String(mode ?? 0, radix: 8))")
        let ping = try ChildProcess.run(["curl", "-s", "--unix-socket", path, "http://localhost/ping"])
        #expect(ping.output == "healthy")
        let node = """
            const http = require('http');
            http.get({socketPath: '\(path)', path: '/v1/vigil/dev/database/credentials',
                      headers: {'X-Aws-Parameters-Secrets-Token': process.env.AWS_TOKEN}}, (res) => {
              let body = '';
              res.on('data', (chunk) => body += chunk);
              res.on('end', () => process.stdout.write(JSON.parse(JSON.parse(body).SecretString).password === process.env.EXPECTED ? 'match' : 'differs'));
            });
            """
        let read = try ChildProcess.run(["node", "-e", node], environment: ["AWS_TOKEN": EndpointTests.token, "EXPECTED": env.databasePassword])
        #expect(read.status == 0 && read.output == "match", "node: \(read.status) \(read.output.prefix(300))")
        // A second Vigil on the same live socket is refused, and leaves the first one's file alone.
        let second = try VigilProcess(["serve", "--web.listen-address", "127.0.0.1:0"], environment: [
            "VIGIL_ENDPOINT_ENABLED": "true", "VIGIL_ENDPOINT_LISTEN_ADDRESS": "unix:\(path)", "AWS_TOKEN": EndpointTests.token])
        #expect(VigilProcess.waitUntil(timeout: 10) { second.log.contains("cannot listen on unix:\(path)") }, "\(second.log.suffix(500))")
        _ = second.stop(signal: SIGTERM, timeout: 10)
        #expect(try ChildProcess.run(["curl", "-s", "--unix-socket", path, "http://localhost/ping"]).output == "healthy")
        #expect(vigil.process.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: path), "the socket file outlived the process")

        // A regular file there is not Vigil's to remove.
        _ = FileManager.default.createFile(atPath: path, contents: Data("not a socket".utf8))
        let refused = try VigilProcess(["serve", "--web.listen-address", "127.0.0.1:0"], environment: [
            "VIGIL_ENDPOINT_ENABLED": "true", "VIGIL_ENDPOINT_LISTEN_ADDRESS": "unix:\(path)", "AWS_TOKEN": EndpointTests.token])
        let status = refused.stop(signal: SIGTERM, timeout: 10)
        #expect(status != 0 && (try? String(contentsOfFile: path, encoding: .utf8)) == "not a socket", "\(refused.log.suffix(800))")

        // TCP: the TTL in the IP header of the answer's packets, read off the
        // loopback interface (TCP hands no IP_TTL to a receiving application).
        let endpoint = try Endpoint(env)
        let port = endpoint.base.split(separator: ":").last!
        let ttl = try ChildProcess.run(["python3", "-c", """
            import socket, struct, time
            sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
            sniff.bind(('lo', 0)); sniff.settimeout(5)
            client = socket.create_connection(('127.0.0.1', \(port)))
            client.sendall(b'GET /ping HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'); client.recv(4096)
            deadline = time.time() + 5
            while time.time() < deadline:
                frame = sniff.recv(65535)[14:]  # past the (empty) Ethernet header
                if frame[9] == 6 and struct.unpack('!H', frame[(frame[0] & 15) * 4:][:2])[0] == \(port):
                    print(frame[8], end=''); break
            """])
        #expect(ttl.output == "1", "TTL \(ttl.output)")
    }

    @Test func theTokenFileIsReReadWhenItChangesAndNoTokenRefusesToStart() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-token-\(UUID().uuidString)")
        try "first-token\n".write(to: file, atomically: true, encoding: .utf8)
        let endpoint = try Endpoint(env, environment: ["AWS_TOKEN": "file://\(file.path)"])
        #expect(try endpoint.get("/v1/vigil/dev/redis/credentials", token: "first-token").status == 200)
        try "second-token\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(VigilProcess.waitUntil(timeout: 5) {
            (try? endpoint.get("/v1/vigil/dev/redis/credentials", token: "second-token").status) == 200
        })
        #expect(try endpoint.get("/v1/vigil/dev/redis/credentials", token: "first-token").status == 403)

        let refused = try VigilProcess.run(["serve", "--web.listen-address", "127.0.0.1:0"], environment: [
            "VIGIL_ENDPOINT_ENABLED": "true", "AWS_TOKEN": "", "AWS_SESSION_TOKEN": "", "AWS_CONTAINER_AUTHORIZATION_TOKEN": ""])
        #expect(refused.status == 78)
        #expect(refused.output.contains("AWS_TOKEN, AWS_SESSION_TOKEN, AWS_CONTAINER_AUTHORIZATION_TOKEN"), "\(refused.output)")
    }
}

/// `endpoint.tokens`: an application's own token reads its own allow-list
/// and nothing else, refused before any AWS call; the endpoint's token keeps
/// its list.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct ApplicationTokenTests {
    let env = ServicesEnvironment()
    let suffix = String(UUID().uuidString.prefix(6)).lowercased()

    @Test func eachApplicationTokenReadsItsOwnAllowListAndNothingElse() throws {
        let ids = ["billing": "vigil/apps-\(suffix)/billing", "mailer": "vigil/apps-\(suffix)/mailer"]
        for (name, id) in ids { #expect(env.putSecret(id, #"{"key":"canary-app-\#(name)-\#(suffix)"}"#)) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-apps-\(suffix)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var tokens: [String: String] = [:]
        for name in ids.keys {
            tokens[name] = "token-\(name)-\(UUID().uuidString)"
            try tokens[name]!.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let proxy = try FaultProxy(upstream: env.motoURL)
        let vigil = try VigilUnderTest(config: """
            secrets:
              environment: dev
            endpoint:
              enabled: true
              listen_address: 127.0.0.1:0
              tokens:
                billing: {token_file: \(folder.path)/billing, allow: [\(ids["billing"]!)]}
                mailer: {token_file: \(folder.path)/mailer, allow: [\(ids["mailer"]!)]}
            """, environment: ["AWS_TOKEN": "default-\(suffix)", "AWS_ENDPOINT_URL": proxy.url])
        let address = try #require(vigil.process.waitForListenAddress(of: "secrets endpoint listening"), "\(vigil.process.log.suffix(1000))")
        func status(_ id: String, _ token: String) -> Int {
            (try? CurlClient().request("http://\(address)/v1/\(id)", headers: ["X-Aws-Parameters-Secrets-Token: \(token)"]).status) ?? 0
        }
        // Refused first, so a call for them at the proxy could only come from the refusal.
        #expect(status(ids["mailer"]!, tokens["billing"]!) == 403 && status(ids["billing"]!, tokens["mailer"]!) == 403)
        #expect(status(ids["billing"]!, "default-\(suffix)") == 403, "the endpoint's own token keeps its own list")
        #expect(try proxy.log().filter { ids.values.contains($0.secretID) }.isEmpty, "a refused read reached AWS")
        #expect(status(ids["billing"]!, tokens["billing"]!) == 200 && status(ids["mailer"]!, tokens["mailer"]!) == 200)
        #expect(status(ids["billing"]!, "token-billing-wrong") == 403)
        #expect(vigil.value(#"vigil_endpoint_token_requests_total{token="billing"}"#) == 2)
        #expect(vigil.value(#"vigil_endpoint_token_requests_total{token="mailer"}"#) == 2)
        let metrics = vigil.metrics
        #expect(vigil.process.stop() == 0)
        env.assertNoCanary(in: [vigil.process.log, metrics], extra: ["canary-app-"] + tokens.values)
    }
}
