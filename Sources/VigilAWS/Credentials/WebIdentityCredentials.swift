import FoundationEssentials
import VigilCurl
import VigilPlatform

/// `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (EKS IRSA and friends):
/// an unsigned STS `AssumeRoleWithWebIdentity` call for temporary credentials.
public struct WebIdentityCredentials: CredentialSource {
    public let name = "web_identity"
    let environment: [String: String]
    let region: String?
    let transport: any HTTPTransport
    let endpoints: EndpointResolver

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, region: String?,
                transport: any HTTPTransport, endpoints: EndpointResolver? = nil) {
        self.environment = environment
        self.region = region
        self.transport = transport
        self.endpoints = endpoints ?? EndpointResolver(environment: environment)
    }

    public func load() throws(AWSError) -> AWSCredentials? {
        guard let tokenFile = environment["AWS_WEB_IDENTITY_TOKEN_FILE"], !tokenFile.isEmpty,
              let roleArn = environment["AWS_ROLE_ARN"], !roleArn.isEmpty else { return nil }
        guard let token = try? readTextFile(tokenFile, limit: 64 << 10) else {
            throw .credentials(name, "cannot read the token file AWS_WEB_IDENTITY_TOKEN_FILE points to")
        }
        let session = environment["AWS_ROLE_SESSION_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? "vigil-\(ProcessInfo.processInfo.processIdentifier)"
        let endpoint = endpoints.endpoint(for: .sts, region: region ?? "us-east-1")
        let body = URIEncoding.form([
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", roleArn),
            ("RoleSessionName", session), ("WebIdentityToken", token.trimmed),
        ])
        let reply = try fetch(transport, HTTPRequestSpec(
            method: "POST", url: endpoint + "/",
            headers: [(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")],
            body: Array(body.utf8), timeout: 10), source: name)
        let xml = String(decoding: reply.body, as: UTF8.self)
        guard let id = XMLText.first("AccessKeyId", in: xml), let secret = XMLText.first("SecretAccessKey", in: xml),
              let sessionToken = XMLText.first("SessionToken", in: xml) else {
            throw .credentials(name, "STS answer lacks credentials")
        }
        return AWSCredentials(accessKeyID: id, secretAccessKey: SecretString(secret),
                              sessionToken: SecretString(sessionToken),
                              expiration: XMLText.first("Expiration", in: xml).flatMap(UnixTime.init(iso8601:)),
                              source: name)
    }
}

/// Performs a credentials request; a non-2xx answer becomes the AWS error it carries.
func fetch(_ transport: any HTTPTransport, _ request: HTTPRequestSpec, source: String) throws(AWSError) -> HTTPReply {
    switch transport.perform(request) {
    case .success(let reply) where (200..<300).contains(reply.status): return reply
    case .success(let reply):
        let error = AWSError(reply: reply)
        throw AWSError(code: error.code, message: "\(source): \(error.message)", status: reply.status,
                       requestID: error.requestID, kind: error.kind)
    case .failure(let failure):
        let error = AWSError(transport: failure)
        throw AWSError(code: error.code, message: "\(source): \(error.message)", kind: error.kind)
    }
}

/// Decodes the JSON credential documents of the container and IMDS endpoints.
struct CredentialDocument: Decodable {
    var AccessKeyId: String
    var SecretAccessKey: String
    var Token: String?
    var Expiration: String?

    func credentials(source: String) -> AWSCredentials {
        AWSCredentials(accessKeyID: AccessKeyId, secretAccessKey: SecretString(SecretAccessKey),
                       sessionToken: Token.flatMap { $0.isEmpty ? nil : SecretString($0) },
                       expiration: Expiration.flatMap(UnixTime.init(iso8601:)), source: source)
    }

    static func decode(_ body: [UInt8], source: String) throws(AWSError) -> AWSCredentials {
        guard let document = try? JSONDecoder().decode(CredentialDocument.self, from: Data(body)) else {
            throw .credentials(source, "the credentials document is not valid JSON with AccessKeyId and SecretAccessKey")
        }
        return document.credentials(source: source)
    }
}
