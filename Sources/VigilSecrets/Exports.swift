import VigilPlatform

/// The redacted secret type lives in VigilPlatform, where every module that
/// holds a secret (AWS credentials, the configuration, the probes, the
/// endpoint) can have it; library users of VigilSecrets see it here.
public typealias SecretString = VigilPlatform.SecretString
