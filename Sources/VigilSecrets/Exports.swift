import VigilAWS

/// The redacted secret type lives with the AWS core (credentials are the
/// first secrets Vigil holds); library users of VigilSecrets see it here.
public typealias SecretString = VigilAWS.SecretString
