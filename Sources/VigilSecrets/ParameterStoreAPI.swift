import VigilAWS

/// Parameter Store's GetParameter, typed, its answer in the shape the
/// secrets client caches (`Fetched`): the value, the version (a number, as
/// text) and what the endpoint answers with besides.
struct ParameterStoreAPI: Sendable {
    let aws: AWSClient

    /// `version` or `label`: the selector (`name:3`, `name:prod`); `decrypt`: a SecureString's plaintext (`WithDecryption`).
    func getParameter(_ name: String, version: String?, label: String?, decrypt: Bool) throws(AWSError) -> SecretsManagerAPI.Fetched {
        let selector = version ?? label
        let reply: Reply = try aws.json(.ssm, operation: "GetParameter", targetPrefix: "AmazonSSM",
                                        request: Request(Name: selector.map { "\(name):\($0)" } ?? name, WithDecryption: decrypt))
        guard let parameter = reply.Parameter, let value = parameter.Value else {
            throw AWSError(code: "InvalidResponse", message: "GetParameter answer could not be decoded", kind: .transient)
        }
        var fetched = SecretsManagerAPI.Fetched(id: name, name: parameter.Name, arn: parameter.ARN, value: value,
                                                versionID: parameter.Version.map(String.init), createdDate: parameter.LastModifiedDate)
        fetched.parameter = .init(type: parameter.ParameterType ?? "String", dataType: parameter.DataType, selector: parameter.Selector)
        return fetched
    }

    private struct Request: Encodable {
        var Name: String
        var WithDecryption: Bool
    }

    private struct Reply: Decodable {
        struct Parameter: Decodable {
            var Name: String?
            var ARN: String?
            var ParameterType: String?
            var DataType: String?
            var Value: String?
            var Version: Int?
            var Selector: String?
            var LastModifiedDate: Double?

            enum CodingKeys: String, CodingKey {
                case Name, ARN, DataType, Value, Version, Selector, LastModifiedDate
                case ParameterType = "Type"
            }
        }

        var Parameter: Parameter?
    }
}
