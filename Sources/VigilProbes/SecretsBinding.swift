import VigilSecrets

extension CredentialsSource {
    /// Credentials parsed from the secret item `item`, refreshed by force
    /// when the server rejects them (a rotation happened), AWSPENDING tried
    /// when AWSCURRENT has not moved.
    public static func secret(
        _ item: String, in secrets: SecretsClient,
        _ parse: @escaping @Sendable (SecretValue, [String]) throws(CredentialsError) -> Credentials
    ) -> CredentialsSource<Credentials> {
        let keys = secrets.configuration.items.first { $0.name == item }?.requiredKeys ?? []
        return CredentialsSource(fetch: { maxWait throws(CredentialsError) -> Credentials in
            let value: SecretValue
            do throws(SecretsError) { value = try secrets.get(item, maxWait: maxWait) } catch { throw .unavailable(error.description) }
            return try parse(value, keys)
        }, refresh: { maxWait in _ = try? secrets.forceRefresh(item, maxWait: maxWait) },
           accepted: { secrets.credentialsAccepted(item) })
    }
}
