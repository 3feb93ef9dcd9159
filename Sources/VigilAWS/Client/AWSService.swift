import FoundationEssentials

/// The AWS services Vigil calls, with what SigV4 and endpoint resolution
/// need to know about each.
public struct AWSService: Sendable, Hashable {
    /// SigV4 signing name and endpoint prefix.
    public var signingName: String
    /// The `X` of `AWS_ENDPOINT_URL_X`.
    public var environmentKey: String
    /// The `service` label of Vigil's AWS metrics.
    public var label: String

    public static let secretsManager = AWSService(signingName: "secretsmanager", environmentKey: "SECRETS_MANAGER",
                                                  label: "secretsmanager")
    public static let cloudWatch = AWSService(signingName: "monitoring", environmentKey: "CLOUDWATCH", label: "cloudwatch")
    public static let sts = AWSService(signingName: "sts", environmentKey: "STS", label: "sts")
    /// Parameter Store (GetParameter), for the endpoint's `/systemsmanager/parameters/get`.
    public static let ssm = AWSService(signingName: "ssm", environmentKey: "SSM", label: "ssm")
}

/// Where to send a service's requests, in the SDKs' order:
/// `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, the configured URL,
/// then the regional default.
public struct EndpointResolver: Sendable {
    public var configured: [AWSService: String]
    public var environment: [String: String]

    public init(configured: [AWSService: String] = [:],
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.configured = configured
        self.environment = environment
    }

    public func endpoint(for service: AWSService, region: String) -> String {
        let candidates = [environment["AWS_ENDPOINT_URL_\(service.environmentKey)"], environment["AWS_ENDPOINT_URL"],
                          configured[service]]
        if let url = candidates.compactMap({ $0 }).first(where: { !$0.isEmpty }) {
            return url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return "https://\(service.signingName).\(region).\(suffix)"
    }
}
