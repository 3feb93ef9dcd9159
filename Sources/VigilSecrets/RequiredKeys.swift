/// The keys an item requires (its `keys`, and those of the probe kinds that
/// log in with it) against a value: a JSON object lacking some is
/// malformed, by their names; a connection URL (an environment fallback's
/// form, `postgres://...`) holds them all; other text holds none.
enum RequiredKeys {
    static func missing(in text: String, _ required: [String]) -> [String] {
        guard !required.isEmpty else { return [] }
        guard let members = JSONMembers(text) else { return text.contains("://") ? [] : required }
        let present = Set(members.members.map(\.key))
        // `user` is the RDS format's name for `username` as credentials read it.
        return required.filter { !present.contains($0) && !($0 == "username" && present.contains("user")) }
    }
}
