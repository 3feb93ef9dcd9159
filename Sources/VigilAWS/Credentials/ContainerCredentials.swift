import FoundationEssentials
import VigilCurl
import VigilPlatform

/// ECS and EKS Pod Identity: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
/// (under http://169.254.170.2) or `AWS_CONTAINER_CREDENTIALS_FULL_URI`,
/// with `AWS_CONTAINER_AUTHORIZATION_TOKEN` or `..._TOKEN_FILE` as the
/// Authorization header.
public struct ContainerCredentials: CredentialSource {
    public let name = "container"
    let environment: [String: String]
    let transport: any HTTPTransport

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, transport: any HTTPTransport) {
        self.environment = environment
        self.transport = transport
    }

    public func load() throws(AWSError) -> AWSCredentials? {
        let url: String
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            url = "http://169.254.170.2" + relative
        } else if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty {
            url = full
        } else {
            return nil
        }
        var headers: [(name: String, value: String)] = []
        if let file = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], !file.isEmpty {
            guard let token = try? readTextFile(file, limit: 64 << 10) else {
                throw .credentials(name, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
            }
            headers.append((name: "Authorization", value: token.trimmed))
        } else if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"], !token.isEmpty {
            headers.append((name: "Authorization", value: token))
        }
        let reply = try fetch(transport, HTTPRequestSpec(method: "GET", url: url, headers: headers, timeout: 5), source: name)
        return try CredentialDocument.decode(reply.body, source: name)
    }
}
