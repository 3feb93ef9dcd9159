import FoundationEssentials
import VigilCurl

/// EC2 instance metadata, IMDSv2 only: a session token by PUT, then the
/// role name, then its credentials. `AWS_EC2_METADATA_SERVICE_ENDPOINT`
/// moves the endpoint; `AWS_EC2_METADATA_DISABLED=true` turns it off.
public struct IMDSCredentials: CredentialSource {
    public let name = "imds"
    let environment: [String: String]
    let transport: any HTTPTransport

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, transport: any HTTPTransport) {
        self.environment = environment
        self.transport = transport
    }

    public func load() throws(AWSError) -> AWSCredentials? {
        let client = IMDSClient(environment: environment, transport: transport)
        guard client.isEnabled else { return nil }
        let token = try client.token()
        let roles = try client.get("/latest/meta-data/iam/security-credentials/", token: token)
        guard let role = String(decoding: roles, as: UTF8.self).split(whereSeparator: \.isNewline).first else {
            throw .credentials(name, "the instance has no IAM role")
        }
        let body = try client.get("/latest/meta-data/iam/security-credentials/\(role)", token: token)
        return try CredentialDocument.decode(body, source: name)
    }
}

/// The instance metadata service, IMDSv2 (token first), short timeouts:
/// off EC2 the address does not answer and the chain must not hang.
struct IMDSClient {
    let environment: [String: String]
    let transport: any HTTPTransport

    var isEnabled: Bool { environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() != "true" }

    var endpoint: String {
        let configured = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "http://169.254.169.254"
        return configured.hasSuffix("/") ? String(configured.dropLast()) : configured
    }

    func token() throws(AWSError) -> String {
        let reply = try fetch(transport, HTTPRequestSpec(
            method: "PUT", url: endpoint + "/latest/api/token",
            headers: [(name: "X-aws-ec2-metadata-token-ttl-seconds", value: "21600")], timeout: 1), source: "imds")
        return String(decoding: reply.body, as: UTF8.self)
    }

    func get(_ path: String, token: String) throws(AWSError) -> [UInt8] {
        try fetch(transport, HTTPRequestSpec(method: "GET", url: endpoint + path,
                                             headers: [(name: "X-aws-ec2-metadata-token", value: token)], timeout: 1),
                  source: "imds").body
    }
}
