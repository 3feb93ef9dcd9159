import Foundation
import Testing
import VigilTestSupport

/// `vigil secrets migrate` into moto, behind the fault proxy (which counts
/// the write calls), as the admin identity.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct MigrateTests {
    let env = ServicesEnvironment()
    let suffix = String(UUID().uuidString.prefix(6)).lowercased()
    let proxy: FaultProxy
    let directory: URL

    init() throws {
        proxy = try FaultProxy(upstream: ServicesEnvironment().motoURL)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-migrate-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Every syntax the common dotenv loaders accept, with canary values.
    private func dotenv(stripeKey: String) -> String {
        """
        # The application's settings
        export DATABASE_URL=postgres://app:canary-pg-\(suffix)@db.internal:5432/app
        REDIS_URL='rediss://:canary-redis-\(suffix)@cache.internal:6380/2'
        STRIPE_API_KEY="\(stripeKey)\\"q\\"\\nline"   # a comment
        STRIPE_WEBHOOK_SECRET=whsec-canary-\(suffix) # another
        MAIL_PASSWORD='canary p@ss#word $HOME'
        PORTAL_CERT="-----BEGIN-----
        canary-cert-\(suffix)
        -----END-----"
        DEBUG=true
        DEBUG=false

        """
    }

    private var canaries: [String] {
        ["canary-pg-\(suffix)", "canary-redis-\(suffix)", "canary-stripe", "whsec-canary-\(suffix)", "canary p@ss", "canary-cert-\(suffix)"]
    }

    /// As the admin identity, unless `identity` names another's keys.
    private func migrate(_ file: String, _ extra: [String] = ["--all", "--yes"],
                         identity: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let envFile = directory.appendingPathComponent("app.env")
        try file.write(to: envFile, atomically: true, encoding: .utf8)
        let config = directory.appendingPathComponent("vigil.yml")
        try """
            secrets:
              environment: mig-\(suffix)
              items:
                database: {env: DATABASE_URL, keys: [username, password]}
                redis: {env: REDIS_URL, keys: [password]}
            """.write(to: config, atomically: true, encoding: .utf8)
        return try VigilProcess.run(["secrets", "migrate", "--config", config.path, "--from", envFile.path] + extra,
                                    environment: (identity ?? env.admin).merging(["AWS_ENDPOINT_URL": proxy.url]) { $1 })
    }

    /// The secret's current value, compared here: never printed.
    private func stored(_ name: String) throws -> [String: Any] {
        let output = try ChildProcess.run(["aws", "secretsmanager", "get-secret-value", "--secret-id", "vigil/mig-\(suffix)/\(name)",
                                           "--query", "SecretString", "--output", "text"], environment: env.admin, stderr: false).output
        return (try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]) ?? [:]
    }

    private func writes() throws -> [String] {
        try proxy.log().map(\.target).filter { $0.hasSuffix("CreateSecret") || $0.hasSuffix("PutSecretValue") }
    }

    @Test func migratesOnceAndThenChangesNothing() throws {
        let dryRun = try migrate(dotenv(stripeKey: "canary-stripe-1"), ["--all", "--dry-run"])
        #expect(dryRun.status == 0 && dryRun.output.contains("dry run: nothing changed"))
        #expect(try writes().isEmpty)
        let refused = try migrate(dotenv(stripeKey: "canary-stripe-1"), ["--all"])  // no --yes, no terminal
        #expect(refused.status != 0 && refused.output.contains("no terminal to ask: run again with --yes"))

        let first = try migrate(dotenv(stripeKey: "canary-stripe-1"))
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("DEBUG is set on line 10 and again on line 11: the last one wins"))
        let created = try writes()  // a secret without a version, then its first version, labelled
        #expect(created.filter { $0.hasSuffix("CreateSecret") }.count == 6 && created.filter { $0.hasSuffix("PutSecretValue") }.count == 6,
                "\(created)")
        let database = try stored("database")
        let matches = database["username"] as? String == "app" && database["password"] as? String == "canary-pg-\(suffix)"
            && database["host"] as? String == "db.internal" && database["port"] as? Int == 5432 && database["dbname"] as? String == "app"
        #expect(matches, "database secret keys")
        let redis = try stored("redis")
        #expect(redis["tls"] as? Bool == true && redis["db"] as? Int == 2 && redis["port"] as? Int == 6380, "redis secret keys")
        let stripe = try stored("stripe")
        let stripeMatches = stripe["STRIPE_API_KEY"] as? String == "canary-stripe-1\"q\"\nline"
            && stripe["STRIPE_WEBHOOK_SECRET"] as? String == "whsec-canary-\(suffix)"
        #expect(stripeMatches, "stripe secret keys")
        let mail = try stored("mail")["MAIL_PASSWORD"] as? String == "canary p@ss#word $HOME"
        #expect(mail, "single quotes are literal")
        let portal = try stored("portal")["PORTAL_CERT"] as? String == "-----BEGIN-----\ncanary-cert-\(suffix)\n-----END-----"
        #expect(portal, "multi-line value")
        #expect(try stored("debug")["DEBUG"] as? String == "false")

        try proxy.clear()
        let second = try migrate(dotenv(stripeKey: "canary-stripe-1"))
        #expect(second.status == 0 && second.output.contains("nothing to change"))
        #expect(!second.output.contains("migrate ("), "\(second.output)")
        #expect(try writes().isEmpty, "a second run wrote")

        let third = try migrate(dotenv(stripeKey: "canary-stripe-2"))
        #expect(third.status == 0 && third.output.contains("updated vigil/mig-\(suffix)/stripe"))
        #expect(try writes() == ["secretsmanager.PutSecretValue"])
        let versions = try ChildProcess.run(["aws", "secretsmanager", "list-secret-version-ids", "--secret-id", "vigil/mig-\(suffix)/stripe",
                                             "--query", "length(Versions)", "--output", "text"], environment: env.admin).output
        #expect(versions.trimmingCharacters(in: .whitespacesAndNewlines) == "2", "\(versions)")
        env.assertNoCanary(in: [dryRun.output, refused.output, first.output, second.output, third.output], extra: canaries)
    }

    private func rotate(_ name: String, to json: String) throws {
        let put = try ChildProcess.run(["aws", "secretsmanager", "put-secret-value", "--secret-id", "vigil/mig-\(suffix)/\(name)",
                                        "--secret-string", json], environment: env.admin, stderr: false)
        #expect(put.status == 0)
    }

    /// A rotation in AWS after the migration: re-running it (a deploy script does) never puts the file's password back.
    @Test func aRotationInAWSIsNeverUndone() throws {
        let file = "DATABASE_URL=postgres://app:canary-pg-\(suffix)@db.internal:5432/app?sslmode=require&application_name=api\n"
        let first = try migrate(file)
        #expect(first.status == 0 && first.output.contains("created vigil/mig-\(suffix)/database"), "\(first.output)")
        let database = try stored("database")
        #expect(database["sslmode"] as? String == "require" && database["application_name"] as? String == "api", "query parameters kept")
        try rotate("database", to: #"{"username":"app","password":"canary-rotated-\#(suffix)","host":"db.internal","port":5432,"dbname":"app","sslmode":"require","application_name":"api"}"#)

        try proxy.clear()
        let dryRun = try migrate(file, ["--dry-run"])
        #expect(dryRun.status == 0 && dryRun.output.contains("skipped") && dryRun.output.contains("AWS changed it since vigil migrate wrote it"),
                "\(dryRun.output)")
        #expect(dryRun.output.contains("vigil/mig-\(suffix)/database: changes password"), "\(dryRun.output)")
        let applied = try migrate(file, ["--yes"])
        #expect(applied.status == 0 && applied.output.contains("nothing to change: 1 secret(s) skipped"), "\(applied.output)")
        #expect(try writes().isEmpty, "a skipped secret was written")
        #expect(try stored("database")["password"] as? String == "canary-rotated-\(suffix)", "the rotation was undone")

        let forced = try migrate(file, ["--yes", "--force"])
        #expect(forced.status == 0 && forced.output.contains("updated vigil/mig-\(suffix)/database"), "\(forced.output)")
        #expect(try stored("database")["password"] as? String == "canary-pg-\(suffix)")
        env.assertNoCanary(in: [first.output, dryRun.output, applied.output, forced.output],
                           extra: ["canary-pg-\(suffix)", "canary-rotated-\(suffix)"])
    }

    /// A key the file no longer has stays in AWS, named, until --prune.
    @Test func aKeyMissingFromTheFileIsKeptUntilPruned() throws {
        let both = "STRIPE_API_KEY=canary-sk-1-\(suffix)\nSTRIPE_WEBHOOK_SECRET=whsec-canary-\(suffix)\n"
        #expect(try migrate(both).status == 0)
        let one = "STRIPE_API_KEY=canary-sk-2-\(suffix)\n"
        let dryRun = try migrate(one, ["--all", "--dry-run"])
        #expect(dryRun.output.contains("migrate (update)"), "\(dryRun.output)")
        #expect(dryRun.output.contains("vigil/mig-\(suffix)/stripe: changes STRIPE_API_KEY; keeps STRIPE_WEBHOOK_SECRET (kept: not in the file; --prune removes them)"),
                "\(dryRun.output)")
        #expect(try migrate(one).status == 0)
        var stripe = try stored("stripe")
        #expect(stripe["STRIPE_API_KEY"] as? String == "canary-sk-2-\(suffix)" && stripe["STRIPE_WEBHOOK_SECRET"] as? String == "whsec-canary-\(suffix)",
                "the webhook key was dropped")

        let pruned = try migrate(one, ["--all", "--yes", "--prune"])
        #expect(pruned.status == 0 && pruned.output.contains("vigil/mig-\(suffix)/stripe: removes STRIPE_WEBHOOK_SECRET"), "\(pruned.output)")
        stripe = try stored("stripe")
        #expect(stripe["STRIPE_WEBHOOK_SECRET"] == nil && stripe["STRIPE_API_KEY"] as? String == "canary-sk-2-\(suffix)")
        env.assertNoCanary(in: [dryRun.output, pruned.output], extra: ["canary-sk-", "whsec-canary"])
    }

    /// Vigil's own identity may read, not write: the refusal names the policy that allows it.
    @Test func anIdentityWithoutThePolicyIsToldWhichOneItNeeds() throws {
        let denied = try migrate("STRIPE_API_KEY=canary-denied-\(suffix)\n",
                                 identity: ["AWS_ACCESS_KEY_ID": env.appKeyID, "AWS_SECRET_ACCESS_KEY": env.appSecret])
        #expect(denied.status != 0 && denied.output.contains("AccessDenied") && denied.output.contains("vigil iam-policy --for migrate"),
                "\(denied.output)")
        env.assertNoCanary(in: [denied.output], extra: ["canary-denied"])
    }

    @Test func badFilesNameTheLineAndNeverTheValue() throws {
        let unclosed = try migrate("A=1\nTOKEN=\"canary-unclosed-\(suffix)\nB=2\n")
        #expect(unclosed.status == 65 && unclosed.output.contains("line 2: TOKEN: the quote opened here is never closed"))
        let garbage = try migrate("A=1\nthis is not an assignment\n")
        #expect(garbage.status == 65 && garbage.output.contains("line 2"))
        let wrapped = try migrate("API_TOKEN=\ncanarywrapped\(suffix)\n")  // a value wrapped onto a line of its own
        #expect(wrapped.status == 65 && wrapped.output.contains("line 2: expected = after the first word"), "\(wrapped.output)")
        let badURL = try migrate("DATABASE_URL=mysql://canary-user:canary-pw-\(suffix)@h/db\n", ["--dry-run"])
        #expect(badURL.status == 0 && badURL.output.contains("DATABASE_URL") && badURL.output.contains("skipped"))
        env.assertNoCanary(in: [unclosed.output, garbage.output, wrapped.output, badURL.output],
                           extra: ["canary-unclosed", "canary-pw", "canary-user", "canarywrapped"])
    }
}
