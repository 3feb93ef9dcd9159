import FoundationEssentials
import VigilCurl
import VigilPlatform

/// The region, in the SDKs' order: configuration, `AWS_REGION`,
/// `AWS_DEFAULT_REGION`, the shared config profile, then EC2 instance
/// metadata (skipped when `AWS_EC2_METADATA_DISABLED=true`).
public enum RegionResolver {
    public static func resolve(configured: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                               transport: any HTTPTransport = CurlTransport()) -> String? {
        let profile = environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let candidates = [configured, environment["AWS_REGION"], environment["AWS_DEFAULT_REGION"],
                          SharedConfigFiles(environment: environment).settings(for: profile)["region"]]
        if let region = candidates.compactMap({ $0 }).first(where: { !$0.isEmpty }) { return region }
        let imds = IMDSClient(environment: environment, transport: transport)
        guard imds.isEnabled, let token = try? imds.token(),
              let body = try? imds.get("/latest/meta-data/placement/region", token: token) else { return nil }
        let region = String(decoding: body, as: UTF8.self).trimmed
        return region.isEmpty ? nil : region
    }
}

/// The EC2 instance id from instance metadata, when Vigil runs on EC2 (nil
/// elsewhere, or with `AWS_EC2_METADATA_DISABLED=true`); for the CloudWatch
/// `InstanceId` dimension.
public enum InstanceIdentity {
    public static func instanceID(environment: [String: String] = ProcessInfo.processInfo.environment,
                                  transport: any HTTPTransport = CurlTransport()) -> String? {
        let imds = IMDSClient(environment: environment, transport: transport)
        guard imds.isEnabled, let token = try? imds.token(),
              let body = try? imds.get("/latest/meta-data/instance-id", token: token) else { return nil }
        let id = String(decoding: body, as: UTF8.self).trimmed
        return id.isEmpty ? nil : id
    }
}
