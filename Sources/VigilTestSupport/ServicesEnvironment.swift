import Foundation
import Testing

/// What `scripts/services env` exported: the local PostgreSQL, Redis and
/// moto (with signature checking on) and their credentials.
public struct ServicesEnvironment: Sendable {
    public static var available: Bool { ProcessInfo.processInfo.environment["VIGIL_TEST_SCRATCH"] != nil }

    public let values = ProcessInfo.processInfo.environment

    public init() {}

    public var databaseURL: String { values["DATABASE_URL"] ?? "" }
    public var redisPort: String { values["VIGIL_TEST_REDIS_PORT"] ?? "" }
    public var databasePassword: String { URLComponents(string: databaseURL)?.password ?? "" }
    public var redisPassword: String { URLComponents(string: values["REDIS_URL"] ?? "")?.password ?? "" }
    public var motoURL: String { values["AWS_ENDPOINT_URL"] ?? "" }
    /// `vigil-app`: may read secrets and put metric data, nothing else.
    public var appKeyID: String { values["AWS_ACCESS_KEY_ID"] ?? "" }
    public var appSecret: String { values["AWS_SECRET_ACCESS_KEY"] ?? "" }
    /// `vigil-admin`: may do anything.
    public var adminKeyID: String { values["VIGIL_TEST_AWS_ADMIN_KEY_ID"] ?? "" }
    public var adminSecret: String { values["VIGIL_TEST_AWS_ADMIN_SECRET"] ?? "" }
    public var roleARN: String { values["VIGIL_TEST_ROLE_ARN"] ?? "" }
    /// `vigil-metrics`: may only put metric data.
    public var metricsKeyID: String { values["VIGIL_TEST_METRICS_KEY_ID"] ?? "" }
    public var metricsSecret: String { values["VIGIL_TEST_METRICS_SECRET"] ?? "" }
    public var secretPrefix: String { "vigil/dev" }
    public var redisTLSPort: Int { Int(values["VIGIL_TEST_REDIS_TLS_PORT"] ?? "") ?? 0 }
    public var tlsCA: String { values["VIGIL_TEST_TLS_CA"] ?? "" }
    public var postgresPort: Int { Int(values["VIGIL_TEST_PG_PORT"] ?? "") ?? 0 }
    /// The SMTP server's ports: STARTTLS, plain (no STARTTLS offered), implicit TLS; its login.
    public var smtpPort: Int { Int(values["VIGIL_TEST_SMTP_PORT"] ?? "") ?? 0 }
    public var smtpPlainPort: Int { Int(values["VIGIL_TEST_SMTP_PLAIN_PORT"] ?? "") ?? 0 }
    public var smtpTLSPort: Int { Int(values["VIGIL_TEST_SMTP_TLS_PORT"] ?? "") ?? 0 }
    public var smtpUser: String { values["VIGIL_TEST_SMTP_USER"] ?? "" }
    public var smtpPassword: String { values["VIGIL_TEST_SMTP_PASSWORD"] ?? "" }

    /// Creates the secret in moto, or puts a new version when it exists (as
    /// the admin identity); true when either worked.
    @discardableResult
    public func putSecret(_ id: String, _ value: String) -> Bool {
        runCommand(["aws", "secretsmanager", "create-secret", "--name", id, "--secret-string", value], environment: admin) == 0
            || runCommand(["aws", "secretsmanager", "put-secret-value", "--secret-id", id, "--secret-string", value],
                          environment: admin) == 0
    }

    /// The admin identity's keys, for an aws CLI call.
    /// A top-level `secrets:` section with the seeded dev items (`database`,
    /// `redis`, the SMTP login as `mail`) and `extra` items (name, secret id).
    public func devSecrets(_ extra: [(name: String, id: String)] = []) -> String {
        (["secrets:", "  environment: dev", "  items:", "    database: {id: vigil/dev/database/credentials}",
          "    redis: {id: vigil/dev/redis/credentials}", "    mail: {id: vigil/dev/email, keys: [username, password]}"]
            + extra.map { "    \($0.name): {id: \($0.id)}" }).joined(separator: "\n") + "\n"
    }

    public var admin: [String: String] { ["AWS_ACCESS_KEY_ID": adminKeyID, "AWS_SECRET_ACCESS_KEY": adminSecret] }

    /// Values that must never appear in anything Vigil prints or serves.
    /// Tests compare secret values outside `#expect` (`let secretCheckN = ...`):
    /// a failing expectation prints its operands, and test output must not
    /// carry secrets either.
    public var canaries: [String] {
        [databasePassword, redisPassword, smtpPassword, appSecret, adminSecret].filter { !$0.isEmpty }
    }

    public func assertNoCanary(in outputs: [String], extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) {
        // Evaluated outside #expect, whose failure report would print both strings.
        let leaks = (canaries + extra).enumerated().flatMap { index, secret in
            outputs.enumerated().filter { $0.element.contains(secret) }.map { "canary \(index) in output \($0.offset)" }
        }
        #expect(leaks.isEmpty, "secret values leaked: \(leaks.joined(separator: ", "))", sourceLocation: sourceLocation)
    }
}
