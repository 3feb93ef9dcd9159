import Foundation
import Testing
import VigilTestSupport

/// `vigil iam-policy` applied to a fresh identity in moto (signature and
/// policy checking on): enough for `vigil serve`, nothing more.
@Suite(.enabled(if: ServicesEnvironment.available, "needs scripts/services; scripts/test provides it"))
struct IAMPolicyTests {
    let env = ServicesEnvironment()
    let suffix = String(UUID().uuidString.prefix(6)).lowercased()

    /// An aws CLI call as `keys` (default: the admin); status and output.
    private func aws(_ arguments: [String], keys: (id: String, secret: String)? = nil) throws -> (status: Int32, output: String) {
        let keys = keys ?? (env.adminKeyID, env.adminSecret)
        return try ChildProcess.run(["aws"] + arguments + ["--output", "json"],
                                    environment: ["AWS_ACCESS_KEY_ID": keys.id, "AWS_SECRET_ACCESS_KEY": keys.secret, "AWS_MAX_ATTEMPTS": "1"])
    }

    @Test func thePrintedPolicyIsEnoughForServeAndNoMore() throws {
        let namespace = "VigilIAM/\(suffix)"
        let config = "secrets:\n  environment: dev\nprobes:\n  interval: 1s\ncloudwatch:\n  enabled: true\n  interval: 1s\n"
            + "  namespace: \(namespace)\n"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-iam-\(suffix).yml")
        try config.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let printed = try VigilProcess.run(["iam-policy", "--config", file.path, "--account", "123456789012"])
        #expect(printed.status == 0, "\(printed.output)")
        let policy = try #require(try JSONSerialization.jsonObject(with: Data(printed.output.utf8)) as? [String: Any])
        let statements = policy["Statement"] as? [[String: Any]] ?? []
        let resources = statements.flatMap { $0["Resource"] as? [String] ?? [] }
        // moto authorises every Secrets Manager call against the resource "*" (its responses have no
        // `_determine_resource`, moto 5.x), so the per-secret scoping is checked here, in the text; in moto
        // the identity reads its secrets through BatchGetSecretValue, as Vigil does at start, and nothing else.
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:vigil/dev/"
        #expect(Set(resources) == ["\(arn)database/credentials-??????", "\(arn)redis/credentials-??????", "*"])
        #expect(statements.filter { ($0["Resource"] as? [String]) == ["*"] }.allSatisfy {
            ($0["Action"] as? [String]) == ["secretsmanager:BatchGetSecretValue"] || $0["Condition"] != nil
        })
        // moto does not evaluate cloudwatch:namespace either (PutMetricData to any namespace passes there): checked in the text.
        let publish = statements.first { ($0["Action"] as? [String]) == ["cloudwatch:PutMetricData"] }
        #expect((publish?["Condition"] as? [String: [String: String]])?["StringEquals"]?["cloudwatch:namespace"] == namespace)

        // Two moto quirks (../shared/ENGINEERING.md): its IAM action prefix for CloudWatch is `monitoring`,
        // and it matches resources as regular expressions, where IAM's one-character `?` is `.`.
        let forMoto = printed.output.replacing("\"cloudwatch:PutMetricData\"", with: "\"monitoring:PutMetricData\"")
            .replacing("?", with: ".")
        let user = "vigil-iam-\(suffix)"
        #expect(try aws(["iam", "create-user", "--user-name", user]).status == 0)
        #expect(try aws(["iam", "put-user-policy", "--user-name", user, "--policy-name", "vigil", "--policy-document", forMoto]).status == 0)
        let created = try aws(["iam", "create-access-key", "--user-name", user])
        let key = try #require(try JSONSerialization.jsonObject(with: Data(created.output.utf8)) as? [String: [String: Any]])["AccessKey"]
        let keys = (id: key?["AccessKeyId"] as? String ?? "", secret: key?["SecretAccessKey"] as? String ?? "")
        try #require(!keys.secret.isEmpty)

        let vigil = try VigilUnderTest(config: config, environment: ["AWS_ACCESS_KEY_ID": keys.id, "AWS_SECRET_ACCESS_KEY": keys.secret])
        #expect(vigil.seconds(until: { $0.status == "healthy" }, timeout: 10) != nil, "\(vigil.process.log)")
        #expect(VigilProcess.waitUntil(timeout: 10) { (vigil.value("vigil_cloudwatch_publish_total") ?? 0) >= 1 })

        let other = "vigil/other-\(suffix)/credentials"
        #expect(try aws(["secretsmanager", "create-secret", "--name", other, "--secret-string", "{}"]).status == 0)
        let outside = try aws(["secretsmanager", "get-secret-value", "--secret-id", other], keys: keys)
        #expect(outside.status != 0 && outside.output.contains("AccessDenied"), "\(outside.output)")
        let delete = try aws(["secretsmanager", "delete-secret", "--secret-id", "vigil/dev/database/credentials"], keys: keys)
        #expect(delete.status != 0 && delete.output.contains("AccessDenied"), "\(delete.output)")
        env.assertNoCanary(in: [printed.output, vigil.process.log, vigil.metrics], extra: [keys.secret])  // the key Vigil held too
    }

    /// With the secrets endpoint on, the policy covers its allow-list:
    /// prefixes as ARN patterns, names with their suffix.
    @Test func theEndpointsAllowListIsInThePolicy() throws {
        let config = "secrets:\n  environment: dev\nendpoint:\n  enabled: true\n  allow: [\"vigil/dev/app/*\", \"partner/key\"]\n"
            + "  allow_parameters: [\"/app/prod/*\", \"feature-flags\"]\n"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-iam-endpoint-\(suffix).yml")
        try config.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let printed = try VigilProcess.run(["iam-policy", "--config", file.path, "--account", "123456789012"])
        let policy = try #require(try JSONSerialization.jsonObject(with: Data(printed.output.utf8)) as? [String: Any])
        let statement = (policy["Statement"] as? [[String: Any]] ?? []).first { $0["Sid"] as? String == "ServeApplicationsThroughTheEndpoint" }
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
        #expect(Set(statement?["Resource"] as? [String] ?? []) == ["\(arn)partner/key-??????", "\(arn)vigil/dev/app/*"], "\(printed.output)")
        #expect(statement?["Action"] as? [String] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"])
        // Parameters: GetParameter on the names (no leading `/` after `parameter`), their SecureStrings' keys only through SSM.
        let statements = policy["Statement"] as? [[String: Any]] ?? []
        let parameters = statements.first { $0["Sid"] as? String == "ServeParametersThroughTheEndpoint" }
        #expect(parameters?["Action"] as? [String] == ["ssm:GetParameter"])
        #expect(Set(parameters?["Resource"] as? [String] ?? []) == ["arn:aws:ssm:us-east-1:123456789012:parameter/app/prod/*",
                                                                   "arn:aws:ssm:us-east-1:123456789012:parameter/feature-flags"])
        let decrypt = statements.first { $0["Sid"] as? String == "DecryptThroughParameterStore" }
        #expect(decrypt?["Action"] as? [String] == ["kms:Decrypt"] && printed.output.contains(#""kms:ViaService": "ssm.us-east-1.amazonaws.com""#)
                && decrypt?["Resource"] as? [String] == ["arn:aws:kms:us-east-1:123456789012:key/*"], "\(printed.output)")
        // Their own key, apart from the secrets' (which --kms-key-arn names).
        let key = "arn:aws:kms:us-east-1:123456789012:key/params"
        let keyed = try VigilProcess.run(["iam-policy", "--config", file.path, "--account", "123456789012", "--parameters-kms-key-arn", key,
                                          "--kms-key-arn", "arn:aws:kms:us-east-1:123456789012:key/secrets"])
        let keyedPolicy = try #require(try JSONSerialization.jsonObject(with: Data(keyed.output.utf8)) as? [String: Any])
        let keyedDecrypt = (keyedPolicy["Statement"] as? [[String: Any]] ?? []).first { $0["Sid"] as? String == "DecryptThroughParameterStore" }
        #expect(keyedDecrypt?["Resource"] as? [String] == [key], "\(keyed.output)")
    }

    /// With failover regions, the secrets (names and primary-region ARNs)
    /// are readable in each; a KMS key per region decrypts through Secrets Manager there.
    @Test func failoverRegionsReplicasAreInThePolicy() throws {
        let config = "aws:\n  region: us-east-1\n  failover_regions: [us-west-2]\nsecrets:\n  items:\n    db: {id: shop/db}\n"
            + "    key: {id: \"arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/key-AbCdEf\"}\n"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-iam-replicas-\(suffix).yml")
        try config.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let printed = try VigilProcess.run(["iam-policy", "--config", file.path, "--account", "123456789012",
                                            "--kms-key-arn", "arn:aws:kms:us-east-1:123456789012:key/a",
                                            "--kms-key-arn", "arn:aws:kms:us-west-2:123456789012:key/b"])
        let policy = try #require(try JSONSerialization.jsonObject(with: Data(printed.output.utf8)) as? [String: Any])
        let statements = policy["Statement"] as? [[String: Any]] ?? []
        let read = statements.first { $0["Sid"] as? String == "ReadConfiguredSecrets" }
        #expect(Set(read?["Resource"] as? [String] ?? []) == [
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-??????",
            "arn:aws:secretsmanager:us-west-2:123456789012:secret:shop/db-??????",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/key-AbCdEf",
            "arn:aws:secretsmanager:us-west-2:123456789012:secret:shop/key-AbCdEf",
        ], "\(printed.output)")
        let services = statements.compactMap { (($0["Condition"] as? [String: [String: String]])?["StringEquals"])?["kms:ViaService"] }
        #expect(services == ["secretsmanager.us-east-1.amazonaws.com", "secretsmanager.us-west-2.amazonaws.com"])
    }

    @Test func migratePolicyCoversThePrefixAndBadFlagsAreRefused() throws {
        let printed = try VigilProcess.run(["iam-policy", "--for", "migrate", "--account", "123456789012", "--region", "eu-west-1"])
        #expect(printed.status == 0)
        #expect(printed.output.contains("arn:aws:secretsmanager:eu-west-1:123456789012:secret:vigil/dev/*\""))
        #expect(printed.output.contains("secretsmanager:CreateSecret") && !printed.output.contains("DeleteSecret"))
        #expect(try VigilProcess.run(["iam-policy", "--account", "12345"]).status != 0)
        #expect(try VigilProcess.run(["iam-policy", "--for", "everything"]).status != 0)
    }

    /// A migration to a customer managed key writes with it; an alias names no key resource and is refused, saying how to find the ARN.
    @Test func migrateWithAKeyMayEncryptAndAnAliasIsRefused() throws {
        let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd"
        let printed = try VigilProcess.run(["iam-policy", "--for", "migrate", "--region", "eu-west-1", "--kms-key-arn", key])
        let policy = try #require(try JSONSerialization.jsonObject(with: Data(printed.output.utf8)) as? [String: Any])
        let statement = (policy["Statement"] as? [[String: Any]] ?? []).first { $0["Sid"] as? String == "EncryptThroughSecretsManager" }
        #expect(statement?["Action"] as? [String] == ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], "\(printed.output)")
        #expect(statement?["Resource"] as? [String] == [key])
        let alias = try VigilProcess.run(["iam-policy", "--for", "migrate", "--kms-key-arn", "alias/myapp"])
        #expect(alias.status != 0 && alias.output.contains("an alias is resolved per request") && alias.output.contains("describe-key"),
                "\(alias.output)")
    }
}
