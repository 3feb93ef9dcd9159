import FoundationEssentials
import VigilAWS

/// The three Secrets Manager operations the client uses, typed.
struct SecretsManagerAPI: Sendable {
    let aws: AWSClient

    struct Fetched: Sendable {
        var id: String
        var name: String?
        var arn: String?
        var value: String
        var versionID: String?
    }

    struct BatchResult: Sendable {
        var values: [Fetched]
        var errors: [(id: String, code: String)]
    }

    func getSecretValue(_ id: String) throws(AWSError) -> Fetched {
        let reply: ValueReply = try call("GetSecretValue", Request(SecretId: id))
        guard let text = reply.SecretString else {
            throw AWSError(code: "BinarySecret", message: "secret has no SecretString", kind: .client)
        }
        return Fetched(id: id, name: reply.Name, arn: reply.ARN, value: text, versionID: reply.VersionId)
    }

    /// Up to 20 ids per call.
    func batchGetSecretValue(_ ids: [String]) throws(AWSError) -> BatchResult {
        let reply: BatchReply = try call("BatchGetSecretValue", Request(SecretIdList: ids))
        let values = (reply.SecretValues ?? []).compactMap { value -> Fetched? in
            guard let text = value.SecretString else { return nil }
            let id = ids.first { $0 == value.Name || $0 == value.ARN } ?? value.Name ?? ""
            return Fetched(id: id, name: value.Name, arn: value.ARN, value: text, versionID: value.VersionId)
        }
        let errors = (reply.Errors ?? []).map { (id: $0.SecretId ?? "", code: $0.ErrorCode ?? "Other") }
        return BatchResult(values: values, errors: errors)
    }

    /// The version currently labelled `stage` (AWSCURRENT), from the
    /// version-to-stages map: a cheap way to see whether a rotation happened.
    func currentVersion(_ id: String, stage: String = "AWSCURRENT") throws(AWSError) -> String? {
        let reply: DescribeReply = try call("DescribeSecret", Request(SecretId: id))
        return reply.VersionIdsToStages?.first { $0.value.contains(stage) }?.key
    }

    private func call<Reply: Decodable>(_ operation: String, _ request: Request) throws(AWSError) -> Reply {
        let data = (try? JSONEncoder().encode(request)) ?? Data("{}".utf8)
        let answer = try aws.json(.secretsManager, operation: operation, targetPrefix: "secretsmanager", body: Array(data))
        do {
            return try JSONDecoder().decode(Reply.self, from: Data(answer))
        } catch {
            throw AWSError(code: "InvalidResponse", message: "\(operation) answer could not be decoded", kind: .transient)
        }
    }

    /// The request members the three operations use; nil members are left out.
    private struct Request: Encodable {
        var SecretId: String?
        var SecretIdList: [String]?
    }

    private struct ValueReply: Decodable {
        var ARN: String?
        var Name: String?
        var VersionId: String?
        var SecretString: String?
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
        var VersionIdsToStages: [String: [String]]?
    }
}
