import Foundation
import Testing
import VigilTestSupport

/// docs/endpoint.md's clients, run as a reader copies them: the Node.js
/// module and its use verbatim, Python and the shell with only the address
/// and the token file swapped. A 404, a missing token file and a stopped
/// Vigil are errors the application handles, never a crash or a value.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct DocumentedClientsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let env = ServicesEnvironment()
    let password = "canary-docs-\(UUID().uuidString.prefix(8))"

    /// The doc's fenced blocks of one language, in order.
    static func blocks(_ language: String, in doc: String = "docs/endpoint.md") throws -> [String] {
        let text = try String(contentsOf: Self.root.appendingPathComponent(doc), encoding: .utf8)
        return text.components(separatedBy: "```\(language)\n").dropFirst().map { $0.components(separatedBy: "\n```")[0] + "\n" }
    }

    @Test func theNodePythonAndShellClientsReadOrFailPlainly() throws {
        let id = "myapp/prod/database"  // the quickstart's
        let value = #"{"username":"app","password":"\#(password)","host":"db","port":5432,"dbname":"app"}"#
        let created = try ChildProcess.run(["aws", "secretsmanager", "create-secret", "--name", id, "--secret-string", value],
                                           environment: env.admin, stderr: false)
        if created.status != 0 {
            #expect(try ChildProcess.run(["aws", "secretsmanager", "put-secret-value", "--secret-id", id, "--secret-string", value],
                                         environment: env.admin, stderr: false).status == 0)
        }
        let endpoint = try EndpointTests.Endpoint(env, config: "  allow: [\"myapp/prod/*\"]")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-clients-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let tokenFile = folder.appendingPathComponent("token").path
        try EndpointTests.token.write(toFile: tokenFile, atomically: true, encoding: .utf8)

        let javascript = try Self.blocks("js")
        #expect(javascript.count == 2, "the module and its use")
        try javascript[0].write(to: folder.appendingPathComponent("vigil-secrets.js"), atomically: true, encoding: .utf8)
        try javascript[1].write(to: folder.appendingPathComponent("app.js"), atomically: true, encoding: .utf8)
        try """
            const { getSecret } = require('./vigil-secrets');
            getSecret(process.argv[2])
              .then((secret) => process.stdout.write(secret.password === process.env.EXPECTED ? 'match' : 'differs'))
              .catch((err) => { process.stdout.write('error: ' + err.message); process.exitCode = 1; });
            """.write(to: folder.appendingPathComponent("read.js"), atomically: true, encoding: .utf8)
        let environment = ["VIGIL_TOKEN_FILE": tokenFile, "VIGIL_ENDPOINT": endpoint.base, "EXPECTED": password]
        func node(_ script: String, _ arguments: [String] = [], _ extra: [String: String] = [:]) throws -> (status: Int32, output: String) {
            try ChildProcess.run(["node", folder.appendingPathComponent(script).path] + arguments, environment: environment.merging(extra) { $1 })
        }

        #expect(try node("read.js", [id]).output == "match")
        // docs/deployment.md's PM2 ecosystem file sets exactly what the module reads.
        try Self.blocks("js", in: "docs/deployment.md")[0].write(to: folder.appendingPathComponent("ecosystem.config.js"), atomically: true, encoding: .utf8)
        let apps = "require('\(folder.appendingPathComponent("ecosystem.config.js").path)').apps"
        let ecosystem = try ChildProcess.run(["node", "-e", "process.stdout.write(Object.keys(\(apps)[0].env).sort().join(','))"])
        #expect(ecosystem.output == "VIGIL_ENDPOINT,VIGIL_TOKEN_FILE" && javascript[0].contains("process.env.VIGIL_ENDPOINT")
                && javascript[0].contains("process.env.VIGIL_TOKEN_FILE"), "\(ecosystem.output)")
        let app = try node("app.js")
        #expect(app.status == 0 && app.output.isEmpty, "the use as documented: \(app.output)")
        let missing = try node("read.js", ["myapp/prod/nothing-here"])
        #expect(missing.status == 1 && missing.output.hasPrefix("error: Vigil answered 4") && missing.output.contains("myapp/prod/nothing-here"),
                "\(missing.output)")
        let noToken = try node("read.js", [id], ["VIGIL_TOKEN_FILE": folder.appendingPathComponent("absent").path])
        #expect(noToken.status == 1 && noToken.output.contains("cannot read the Vigil token") && noToken.output.contains("ENOENT"))

        let python = try Self.blocks("python")[0].replacingOccurrences(of: "http://127.0.0.1:2773", with: endpoint.base)
            .replacingOccurrences(of: "/run/vigil/token", with: tokenFile) + "print('match' if credentials['password'] == '\(password)' else 'differs', end='')\n"
        #expect(try ChildProcess.run(["python3", "-c", python]).output == "match")
        let shell = try Self.blocks("sh").first { $0.contains("/run/vigil/token") }.map {
            $0.replacingOccurrences(of: "http://127.0.0.1:2773", with: endpoint.base).replacingOccurrences(of: "/run/vigil/token", with: tokenFile)
        }
        let curl = try ChildProcess.run(["bash", "-c", try #require(shell)])
        #expect(curl.status == 0 && curl.output.contains(password), "the shell client")

        #expect(endpoint.vigil.process.stop() == 0)
        let stopped = try node("read.js", [id])
        #expect(stopped.status == 1 && stopped.output.contains("cannot reach Vigil at") && stopped.output.contains("ECONNREFUSED"),
                "\(stopped.output)")
        for run in [missing, noToken, stopped] {
            #expect(!run.output.contains("SyntaxError") && !run.output.contains("    at "), "a crash, not a handled error: \(run.output)")
        }
        env.assertNoCanary(in: [endpoint.vigil.process.log, app.output, missing.output, stopped.output], extra: [password])
    }
}
