import VigilPlatform
import VigilSecrets

extension CredentialsSource {
    /// Credentials parsed from the secret item `item`, refreshed by force
    /// when the server rejects them (a rotation happened), AWSPENDING tried
    /// when AWSCURRENT has not moved. The version last served is passed
    /// with the refresh: only a login that failed with an AWSPENDING
    /// stand-in drops it (another probe sharing the secret may have failed
    /// with AWSCURRENT just before). While AWSCURRENT lacks keys, the
    /// version served is what `standIn` reports (a kept connection logged
    /// in with it, however long ago).
    public static func secret(
        _ item: String, in secrets: SecretsClient,
        _ parse: @escaping @Sendable (SecretValue, [String]) throws(CredentialsError) -> Credentials
    ) -> CredentialsSource<Credentials> {
        let keys = secrets.configuration.items.first { $0.name == item }?.requiredKeys ?? []
        let served = Locked<String?>(nil)
        return CredentialsSource(fetch: { maxWait throws(CredentialsError) -> Credentials in
            let value: SecretValue
            do throws(SecretsError) { value = try secrets.get(item, maxWait: maxWait) } catch { throw .unavailable(error.description) }
            served.withLock { $0 = value.versionID }
            return try parse(value, keys)
        }, refresh: { maxWait in _ = try? secrets.forceRefresh(item, maxWait: maxWait, failedVersion: served.withLock { $0 }) },
           accepted: { secrets.credentialsAccepted(item) },
           standIn: { secrets.loginStandIn(item) == nil ? nil : served.withLock { $0 } })
    }
}
