import ArgumentParser
import FoundationEssentials
import VigilAWS
import VigilConfig
import VigilPlatform
import VigilSecrets

struct IAMPolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iam-policy",
        abstract: "Print the least-privilege IAM policy for what this configuration does (JSON, to stdout).")

    @OptionGroup var options: ConfigOptions

    @Option(help: "AWS account id in the ARNs (default: any, `*`).")
    var account = "*"

    @Option(help: "ARN partition: aws, aws-cn or aws-us-gov.")
    var partition = "aws"

    @Option(help: "Region in the ARNs (default: aws.region or the AWS environment's; `*` when none).")
    var region: String?

    @Option(name: .customLong("kms-key-arn"),
            help: ArgumentHelp("The customer managed KMS key the secrets are encrypted with, if any (its key ARN, not an alias): adds "
                + "kms:Decrypt (with --for migrate also kms:Encrypt and kms:GenerateDataKey) through Secrets Manager only, in the "
                + "key's region. Repeat it for the replicas' keys (aws.failover_regions)."))
    var kmsKeyARNs: [String] = []

    @Option(name: .customLong("parameters-kms-key-arn"),
            help: ArgumentHelp("The customer managed KMS key of the SecureStrings in endpoint.allow_parameters (its key ARN): kms:Decrypt "
                + "on it through Parameter Store only. Without it, on the account's keys through Parameter Store. Repeatable."))
    var parameterKeyARNs: [String] = []

    @Option(name: .customLong("for"), help: "serve (read the secrets, publish metrics) or migrate (also create and update the configured secrets).")
    var purpose = "serve"

    func validate() throws {
        guard ["serve", "migrate"].contains(purpose) else { throw ValidationError("--for must be serve or migrate") }
        guard ["aws", "aws-cn", "aws-us-gov"].contains(partition) else { throw ValidationError("--partition must be aws, aws-cn or aws-us-gov") }
        guard account == "*" || (account.count == 12 && account.allSatisfy(\.isNumber)) else {
            throw ValidationError("--account must be a 12-digit account id")
        }
        for key in kmsKeyARNs + parameterKeyARNs where !(key.hasPrefix("arn:") && key.contains(":key/")) {
            throw ValidationError("\(kmsKeyARNs.contains(key) ? "--kms-key-arn" : "--parameters-kms-key-arn") \(key): a policy names a key by its key ARN (arn:...:key/ID); an alias is resolved "
                + "per request and matches no key resource. Find the ARN with `aws kms describe-key --key-id \(key.hasPrefix("arn:") ? key : "alias/NAME") "
                + "--query KeyMetadata.Arn`")
        }
    }

    func run() throws {
        let config = try options.load()
        let region = region ?? RegionResolver.resolve(configured: config.aws.region,
                                                      environment: ProcessInfo.processInfo.environment.merging(
                                                          ["AWS_EC2_METADATA_DISABLED": "true"]) { $1 }) ?? "*"
        let policy = IAMPolicy(partition: partition, region: region, account: account,
                               replicaRegions: config.aws.failoverRegions.filter { $0 != region })
        print(purpose == "migrate" ? policy.forMigrate(config, kmsKeyARNs: kmsKeyARNs)
            : policy.forServe(config, kmsKeyARNs: kmsKeyARNs, parameterKeyARNs: parameterKeyARNs))
    }
}

/// Least-privilege policies from a configuration: the actions Vigil calls,
/// on exactly the resources it names.
struct IAMPolicy {
    var partition: String
    var region: String
    var account: String
    /// Regions whose replicas are read too (`aws.failover_regions`): migrations write in the primary only.
    var replicaRegions: [String] = []

    /// A secret id as a resource: ARNs as given, names with the `-??????`
    /// suffix Secrets Manager appends to every secret's ARN.
    func secretARN(_ id: String, in region: String? = nil) -> String {
        id.hasPrefix("arn:") ? id : secretsARN("\(id)-??????", in: region)
    }

    /// `arn:<partition>:secretsmanager:<region>:<account>:secret:<pattern>`.
    func secretsARN(_ pattern: String, in region: String? = nil) -> String {
        "arn:\(partition):secretsmanager:\(region ?? self.region):\(account):secret:\(pattern)"
    }

    /// A secret id (or a name prefix ending in `*`) as resources in the
    /// primary region and in each replica region (`ReplicaID`: an ARN of
    /// the primary's with the region swapped).
    func readableARNs(_ id: String) -> [String] {
        ([region] + replicaRegions).map { region in
            if id.hasPrefix("arn:") { return ReplicaID.of(id, primary: self.region, replica: region) }
            return id.hasSuffix("*") ? secretsARN(id, in: region) : secretARN(id, in: region)
        }
    }

    func forServe(_ config: VigilConfig, kmsKeyARNs: [String], parameterKeyARNs: [String] = []) -> String {
        let secrets = SecretsSetup.configuration(config.secrets).items.flatMap { readableARNs($0.secretID) }.uniqued
        var statements = [
            statement("ReadConfiguredSecrets", ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], secrets),
            // BatchGetSecretValue is authorised on "*"; each secret it returns still needs GetSecretValue above.
            statement("BatchLoadSecrets", ["secretsmanager:BatchGetSecretValue"], ["*"]),
        ]
        if config.endpoint.enabled {
            // What applications may read through the endpoint: endpoint.allow and each application token's, ids and prefixes.
            let entries = EndpointSetup.allowList(config, items: SecretsSetup.configuration(config.secrets).items).entries
                + config.endpoint.tokens.flatMap(\.allow)
            let allowed = entries.flatMap(readableARNs).uniqued
            statements.append(statement("ServeApplicationsThroughTheEndpoint",
                                        ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], allowed))
        }
        statements += keyStatements("DecryptThroughSecretsManager", ["kms:Decrypt"], kmsKeyARNs)
        if config.endpoint.enabled && !config.endpoint.allowParameters.isEmpty {
            statements.append(statement("ServeParametersThroughTheEndpoint", ["ssm:GetParameter"],
                                        config.endpoint.allowParameters.map(parameterARN).uniqued))
            // SecureStrings: their key, only through Parameter Store (any key of the account's when none is named).
            statements += keyStatements("DecryptThroughParameterStore", ["kms:Decrypt"],
                                        parameterKeyARNs.isEmpty ? ["arn:\(partition):kms:\(region):\(account):key/*"] : parameterKeyARNs,
                                        via: "ssm")
        }
        if config.cloudWatch.enabled && config.cloudWatch.mode == .api {
            statements.append(statement("PublishMetrics", ["cloudwatch:PutMetricData"], ["*"],
                                        condition: ("StringEquals", "cloudwatch:namespace", config.cloudWatch.namespace)))
        }
        return document(statements)
    }

    /// Creating and updating the configured prefix's secrets (`<prefix>/<environment>/*`) and the items' own ids.
    /// With the customer managed keys the secrets are (to be) encrypted with: writing needs a data key, reading the old value decrypts.
    func forMigrate(_ config: VigilConfig, kmsKeyARNs: [String]) -> String {
        let items = SecretsSetup.configuration(config.secrets).items.map { secretARN($0.secretID) }
        let prefix = secretsARN("\(config.secrets.prefix)/\(config.secrets.environment)/*")
        let resources = Array(Set(items + [prefix])).sorted()
        return document([
            statement("MigrateSecrets", ["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret",
                                         "secretsmanager:GetSecretValue", "secretsmanager:TagResource"], resources),
        ] + keyStatements("EncryptThroughSecretsManager", ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], kmsKeyARNs))
    }

    /// A parameter name (or a prefix ending in `*`) as a resource: `parameter/` then the name without its leading `/`.
    func parameterARN(_ name: String) -> String {
        "arn:\(partition):ssm:\(region):\(account):parameter/" + (name.hasPrefix("/") ? String(name.dropFirst()) : name)
    }

    /// One statement per key, usable only through `via` (Secrets Manager) in the key's own region (field 4 of its ARN).
    private func keyStatements(_ id: String, _ actions: [String], _ keys: [String], via service: String = "secretsmanager") -> [String] {
        keys.enumerated().map { index, key in
            let fields = key.split(separator: ":", omittingEmptySubsequences: false)
            let keyRegion = fields.count > 3 && !fields[3].isEmpty ? String(fields[3]) : region
            return statement(id + (index == 0 ? "" : "\(index + 1)"), actions, [key],
                             condition: ("StringEquals", "kms:ViaService", "\(service).\(keyRegion).amazonaws.com"))
        }
    }

    private func statement(_ id: String, _ actions: [String], _ resources: [String],
                           condition: (operator: String, key: String, value: String)? = nil) -> String {
        let list = { (values: [String]) in "[" + values.map { JSONWriter.quote($0) }.joined(separator: ", ") + "]" }
        var lines = ["      \"Sid\": \(JSONWriter.quote(id))", "      \"Effect\": \"Allow\"",
                     "      \"Action\": \(list(actions))", "      \"Resource\": \(list(resources))"]
        if let condition {
            lines.append("      \"Condition\": {\(JSONWriter.quote(condition.operator)): {\(JSONWriter.quote(condition.key)): "
                         + "\(JSONWriter.quote(condition.value))}}")
        }
        return "    {\n" + lines.joined(separator: ",\n") + "\n    }"
    }

    private func document(_ statements: [String]) -> String {
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n" + statements.joined(separator: ",\n") + "\n  ]\n}"
    }
}
