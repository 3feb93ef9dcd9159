import FoundationEssentials
import VigilPlatform

/// Static keys from the shared `credentials` and `config` files
/// (`~/.aws/...`, or `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`),
/// profile `AWS_PROFILE` (default `default`).
public struct ProfileCredentials: CredentialSource {
    public let name = "profile"
    let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) { self.environment = environment }

    var profile: String { environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default" }

    public func load() throws(AWSError) -> AWSCredentials? {
        let settings = SharedConfigFiles(environment: environment).settings(for: profile)
        guard let id = settings["aws_access_key_id"] else {
            if environment["AWS_PROFILE"] != nil && settings.isEmpty {
                throw .credentials(name, "profile \"\(profile)\" not found in the shared credentials or config file")
            }
            return nil
        }
        guard let secret = settings["aws_secret_access_key"] else {
            throw .credentials(name, "profile \"\(profile)\" has aws_access_key_id but no aws_secret_access_key")
        }
        return AWSCredentials(accessKeyID: id, secretAccessKey: SecretString(secret),
                              sessionToken: settings["aws_session_token"].map(SecretString.init), source: name)
    }
}

/// The shared AWS files, parsed as the SDKs do: `[name]` sections in
/// `credentials`, `[profile name]` (or `[default]`) in `config`; the
/// credentials file wins for keys present in both.
struct SharedConfigFiles {
    let environment: [String: String]

    private var home: String { environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path }
    var credentialsPath: String { environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials" }
    var configPath: String { environment["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config" }

    func settings(for profile: String) -> [String: String] {
        let config = Self.parse(path: configPath)
        let fromConfig = config[profile == "default" ? "default" : "profile \(profile)"] ?? config[profile] ?? [:]
        let fromCredentials = Self.parse(path: credentialsPath)[profile] ?? [:]
        return fromConfig.merging(fromCredentials) { $1 }
    }

    static func parse(path: String) -> [String: [String: String]] {
        guard let text = try? readTextFile(path, limit: 1 << 20) else { return [:] }
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmed
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = line.dropFirst().dropLast().trimmed
                    .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                continue
            }
            guard let section = current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmed.lowercased()
            let value = line[line.index(after: equals)...].trimmed
            sections[section, default: [:]][key] = value
        }
        return sections
    }
}
