import VigilAWS

/// The Secrets Manager operations the client (and the migration) use, typed.
struct SecretsManagerAPI: Sendable {
    let aws: AWSClient
    /// For a replica region: the primary's, whose ARNs name the replica's
    /// with the region swapped (a name is the same in every region).
    var primaryRegion: String?
    /// nil: the AWS client's retry policy; 1: one attempt a call.
    var maxAttempts: Int?

    init(aws: AWSClient, primaryRegion: String? = nil, maxAttempts: Int? = nil) {
        self.aws = aws
        self.primaryRegion = primaryRegion
        self.maxAttempts = maxAttempts
    }

    var region: String { aws.region }

    /// The same API making one attempt a call: for a secret already failing,
    /// whose backoff schedule is the retry (each refresh of it made 3
    /// attempts: during an outage a fleet asked AWS three times as often).
    var singleAttempt: SecretsManagerAPI { SecretsManagerAPI(aws: aws, primaryRegion: primaryRegion, maxAttempts: 1) }

    /// `id` as this region knows it (`ReplicaID`).
    func regional(_ id: String) -> String {
        primaryRegion.map { ReplicaID.of(id, primary: $0, replica: region) } ?? id
    }

    struct Fetched: Sendable {
        var id: String
        var name: String?
        var arn: String?
        /// SecretString, or SecretBinary as AWS sends it (base64).
        var value: String
        var versionID: String?
        var binary = false
        var stages: [String] = []
        /// As AWS sent it: epoch seconds with a fraction.
        var createdDate: Double?
        /// A Parameter Store read's type and selector (`ParameterStoreAPI`).
        var parameter: ParameterFacts?

        init(id: String, name: String?, arn: String?, value: String, versionID: String?, createdDate: Double?) {
            (self.id, self.name, self.arn, self.value, self.versionID, self.createdDate) = (id, name, arn, value, versionID, createdDate)
        }

        init(id: String, reply: ValueReply) {
            self.id = id
            name = reply.Name
            arn = reply.ARN
            value = reply.SecretString ?? reply.SecretBinary ?? ""
            versionID = reply.VersionId
            binary = reply.SecretString == nil
            stages = reply.VersionStages ?? []
            createdDate = reply.CreatedDate
        }
    }

    struct BatchResult: Sendable {
        var values: [Fetched]
        var errors: [(id: String, code: String)]
    }

    /// A version by id or stage, else AWSCURRENT, asked for by name (moto,
    /// unlike AWS, answers the version it created last when no stage is
    /// given, even after `UpdateSecretVersionStage` moved AWSCURRENT). A
    /// binary secret is an error unless `binary` is allowed (the endpoint
    /// serves it; the probes' credentials are JSON text).
    func getSecretValue(_ id: String, versionID: String? = nil, stage: String? = nil,
                        binary: Bool = false) throws(AWSError) -> Fetched {
        var request = Request(SecretId: regional(id))
        request.VersionId = versionID
        request.VersionStage = stage ?? (versionID == nil ? "AWSCURRENT" : nil)
        let reply: ValueReply = try call("GetSecretValue", request)
        guard reply.SecretString != nil || (binary && reply.SecretBinary != nil) else {
            throw AWSError(code: "BinarySecret", message: "secret has no SecretString", kind: .client)
        }
        return Fetched(id: id, reply: reply)
    }

    /// Up to 20 ids per call; the results carry the ids as given.
    func batchGetSecretValue(_ ids: [String]) throws(AWSError) -> BatchResult {
        let sent = ids.map(regional)
        let reply: BatchReply = try call("BatchGetSecretValue", Request(SecretIdList: sent))
        func given(_ id: String?) -> String? { sent.firstIndex { $0 == id }.map { ids[$0] } }
        let values = (reply.SecretValues ?? []).compactMap { value -> Fetched? in
            guard value.SecretString != nil else { return nil }
            return Fetched(id: given(value.Name) ?? given(value.ARN) ?? value.Name ?? "", reply: value)
        }
        let errors = (reply.Errors ?? []).map { (id: given($0.SecretId) ?? $0.SecretId ?? "", code: $0.ErrorCode ?? "Other") }
        return BatchResult(values: values, errors: errors)
    }

    /// DescribeSecret: each version's staging labels and the secret's life (rotation, deletion, replicas).
    struct Description: Sendable {
        var stages: [String: [String]]
        var lifecycle: SecretLifecycle

        /// The version labelled `stage` (AWSCURRENT): a cheap way to see whether a rotation happened.
        func version(_ stage: String) -> String? { stages.first { $0.value.contains(stage) }?.key }

        /// The version AWSPENDING labels while it is not AWSCURRENT's: a rotation under way, or one that stopped.
        var pendingVersion: String? {
            version("AWSPENDING").flatMap { $0 == version("AWSCURRENT") ? nil : $0 }
        }
    }

    func describe(_ id: String) throws(AWSError) -> Description {
        let reply: DescribeReply = try call("DescribeSecret", Request(SecretId: regional(id)))
        let stages = reply.VersionIdsToStages ?? [:]
        var lifecycle = SecretLifecycle()
        lifecycle.rotationEnabled = reply.RotationEnabled ?? false
        lifecycle.rotationDays = reply.RotationRules?.AutomaticallyAfterDays
        (lifecycle.lastRotated, lifecycle.nextRotation) = (reply.LastRotatedDate, reply.NextRotationDate)
        (lifecycle.lastChanged, lifecycle.deletion) = (reply.LastChangedDate, reply.DeletedDate)
        lifecycle.replicas = (reply.ReplicationStatus ?? []).compactMap { replica in
            replica.Region.map { SecretLifecycle.Replica(region: $0, status: replica.Status ?? "Unknown") }
        }
        return Description(stages: stages, lifecycle: lifecycle)
    }

    /// The version currently labelled `stage` (AWSCURRENT).
    func currentVersion(_ id: String, stage: String = "AWSCURRENT") throws(AWSError) -> String? {
        try describe(id).version(stage)
    }

    /// Each version's staging labels (DescribeSecret's `VersionIdsToStages`).
    func versionStages(_ id: String) throws(AWSError) -> [String: [String]] { try describe(id).stages }

    /// A new secret without a version (the migration writes its first with `putSecretValue`).
    func createSecret(_ name: String, kmsKeyID: String?, tags: [(key: String, value: String)]) throws(AWSError) {
        var request = Request(SecretId: nil)
        request.Name = name
        request.KmsKeyId = kmsKeyID
        request.Tags = tags.isEmpty ? nil : tags.map { Request.Tag(Key: $0.key, Value: $0.value) }
        let _: WriteReply = try call("CreateSecret", request)  // decoded: an answer that is not one is an error
    }

    /// A new version with these staging labels (the migration). The same
    /// token and value again create nothing: retries are idempotent.
    func putSecretValue(_ id: String, value: String, token: String, stages: [String]) throws(AWSError) {
        var request = Request(SecretId: id)
        request.SecretString = value
        request.ClientRequestToken = token
        request.VersionStages = stages
        let _: WriteReply = try call("PutSecretValue", request)
    }

    private func call<Reply: Decodable>(_ operation: String, _ request: Request) throws(AWSError) -> Reply {
        try aws.json(.secretsManager, operation: operation, targetPrefix: "secretsmanager", request: request, maxAttempts: maxAttempts)
    }

    /// The request members the operations use; nil members are left out.
    private struct Request: Encodable {
        struct Tag: Encodable {
            var Key: String
            var Value: String
        }
        var SecretId: String?
        var SecretIdList: [String]?
        var VersionId: String?
        var VersionStage: String?
        var Name: String?
        var SecretString: String?
        var ClientRequestToken: String?
        var KmsKeyId: String?
        var Tags: [Tag]?
        var VersionStages: [String]?
    }

    private struct WriteReply: Decodable {
        var VersionId: String?
    }

    struct ValueReply: Decodable {
        var ARN: String?
        var Name: String?
        var VersionId: String?
        var SecretString: String?
        var SecretBinary: String?
        var VersionStages: [String]?
        var CreatedDate: Double?
    }

    private struct BatchReply: Decodable {
        struct Failure: Decodable {
            var SecretId: String?
            var ErrorCode: String?
        }
        var SecretValues: [ValueReply]?
        var Errors: [Failure]?
    }

    private struct DescribeReply: Decodable {
        struct Rules: Decodable {
            var AutomaticallyAfterDays: Int?
        }
        struct Replication: Decodable {
            var Region: String?
            var Status: String?
        }
        var VersionIdsToStages: [String: [String]]?
        var RotationEnabled: Bool?
        var RotationRules: Rules?
        var LastRotatedDate: Double?
        var NextRotationDate: Double?
        var LastChangedDate: Double?
        var DeletedDate: Double?
        var ReplicationStatus: [Replication]?
    }
}
