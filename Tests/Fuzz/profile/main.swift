// libFuzzer target: the credential sources that parse what they read
// (Sources/VigilAWS/Credentials): the shared `credentials` and `config` files
// (INI, ProfileCredentials.swift, and the region RegionResolver takes from
// them), and the credential documents of the container endpoint and EC2
// metadata (JSON, CredentialDocument) and of STS web identity (XML). Vigil
// has no `credential_process` source; these documents are the nearest.
// Input: the credentials file, a NUL byte, the config file, a NUL byte, the
// document the fake endpoints answer with. Checks: no crash; parsed keys hold
// no `=` and nothing holds a line break; a profile's settings are its config
// section overridden key by key by its credentials section; the profile
// source returns exactly those keys or fails with CredentialsUnavailable; the
// region comes from the profile without asking instance metadata; the
// container and metadata sources read the same document alike.
// AWSMetrics (swift-prometheus, which swiftc alone cannot import) is
// replaced by a no-op below; nothing else is stubbed.
import FoundationEssentials

public final class AWSMetrics: Sendable {
    func credentialsExpire(at expiry: UnixTime?) {}
}

private let credentialsFile = "fuzz-credentials"  // in the run's directory, .build-fuzz/profile
private let configFile = "fuzz-config"
private let tokenFile: String = {
    check(FileManager.default.createFile(atPath: "fuzz-web-identity-token", contents: Data("eyJhbGciOi.token".utf8)))
    return "fuzz-web-identity-token"
}()

/// Answers every request with `body` (200), the IMDS role list with one role.
private struct FakeEndpoint: HTTPTransport {
    let body: [UInt8]
    func perform(_ request: HTTPRequestSpec) -> Result<HTTPReply, TransportError> {
        if request.url.hasSuffix("/latest/api/token") { return .success(HTTPReply(status: 200, body: Array("token".utf8))) }
        if request.url.hasSuffix("/security-credentials/") { return .success(HTTPReply(status: 200, body: Array("vigil-role\n".utf8))) }
        return .success(HTTPReply(status: 200, body: body))
    }
}

/// Fails the run if called: the region must come from the files.
private struct NoEndpoint: HTTPTransport {
    func perform(_ request: HTTPRequestSpec) -> Result<HTTPReply, TransportError> {
        fatalError("fuzz check failed: asked \(request.url) with instance metadata disabled")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let parts = UnsafeBufferPointer(start: data, count: size).split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
    let credentialsText = Array(parts[0]), configText = parts.count > 1 ? Array(parts[1]) : []
    let document = parts.count > 2 ? Array(parts[2]) : []
    check(FileManager.default.createFile(atPath: credentialsFile, contents: Data(credentialsText)))
    check(FileManager.default.createFile(atPath: configFile, contents: Data(configText)))

    let credentials = SharedConfigFiles.parse(path: credentialsFile)
    let config = SharedConfigFiles.parse(path: configFile)
    for (name, section) in Array(credentials) + Array(config) {
        check(!name.contains(where: \.isNewline), "section \(name)")
        for (key, value) in section {
            check(!key.contains("=") && !key.contains(where: \.isNewline), "key \(key)")
            check(!value.contains(where: \.isNewline), "value \(value)")
        }
    }

    // Profiles to look up: default, and the first few named in either file.
    var profiles = ["default"]
    for name in credentials.keys.sorted() + config.keys.sorted().map({ $0.hasPrefix("profile ") ? String($0.dropFirst(8)) : $0 })
    where profiles.count < 4 && !name.isEmpty && !profiles.contains(name) { profiles.append(name) }
    for profile in profiles {
        let environment = ["AWS_SHARED_CREDENTIALS_FILE": credentialsFile, "AWS_CONFIG_FILE": configFile,
                           "AWS_PROFILE": profile, "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"]
        let settings = SharedConfigFiles(environment: environment).settings(for: profile)
        let fromConfig = config[profile == "default" ? "default" : "profile \(profile)"] ?? config[profile] ?? [:]
        let fromCredentials = credentials[profile] ?? [:]
        check(Set(settings.keys) == Set(fromConfig.keys).union(fromCredentials.keys), "keys of \(profile)")
        for (key, value) in settings { check(value == (fromCredentials[key] ?? fromConfig[key]), "\(profile).\(key) = \(value)") }

        do throws(AWSError) {
            if let loaded = try ProfileCredentials(environment: environment).load() {
                check(loaded.accessKeyID == settings["aws_access_key_id"] && loaded.source == "profile")
                check(loaded.secretAccessKey.revealed() == settings["aws_secret_access_key"])
                check(loaded.sessionToken?.revealed() == settings["aws_session_token"])
            } else {
                check(settings["aws_access_key_id"] == nil, "keys of \(profile) not loaded")
            }
        } catch {
            check(error.code == "CredentialsUnavailable" && error.kind == .configuration, "\(error)")
        }
        let region = RegionResolver.resolve(configured: nil, environment: environment, transport: NoEndpoint())
        check(region == settings["region"].flatMap { $0.isEmpty ? nil : $0 }, "region \(region ?? "nil") for \(profile)")
    }

    // The fetched documents: container and IMDS (JSON), STS (XML).
    let endpoint = FakeEndpoint(body: document)
    let container = Result { () throws(AWSError) in
        try ContainerCredentials(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1/creds"],
                                 transport: endpoint).load()
    }
    let imds = Result { () throws(AWSError) in try IMDSCredentials(environment: [:], transport: endpoint).load() }
    switch (container, imds) {
    case (.success(let a?), .success(let b?)):
        check(a.accessKeyID == b.accessKeyID && a.secretAccessKey == b.secretAccessKey && a.sessionToken == b.sessionToken
              && a.expiration == b.expiration, "container and IMDS disagree")
    case (.failure(let a), .failure(let b)):
        check(a.code == "CredentialsUnavailable" && b.code == "CredentialsUnavailable", "\(a) / \(b)")
    default:
        check(false, "container \(container) but IMDS \(imds)")
    }
    let xml = String(decoding: document, as: UTF8.self)
    do throws(AWSError) {
        let sts = try WebIdentityCredentials(environment: ["AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile,
                                                           "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/vigil"],
                                             region: "us-east-1", transport: endpoint).load()
        check(sts?.accessKeyID == XMLText.first("AccessKeyId", in: xml) && sts?.sessionToken != nil)
    } catch {
        let fields = ["AccessKeyId", "SecretAccessKey", "SessionToken"].map { XMLText.first($0, in: xml) }
        check(error.code == "CredentialsUnavailable" && fields.contains(nil), "\(error)")
    }
    return 0
}
