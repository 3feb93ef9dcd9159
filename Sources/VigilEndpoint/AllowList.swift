/// The secret ids applications may read through the endpoint: exact ids
/// and prefixes ending in `*`. An ARN is matched as given, and by the name
/// inside it (with or without what may be AWS's random six-character
/// suffix), so allowing a name allows its ARN. Anything else is refused
/// before any AWS call; what AWS answers is checked again by the name it
/// gives (`allowsName`): `app/db` in the list lets `...:secret:app/db-admins`
/// through the first check (a partial ARN looks like that), not the second.
public struct AllowList: Sendable {
    private let exact: Set<String>
    private let prefixes: [String]

    public init(_ entries: [String]) {
        exact = Set(entries.filter { !$0.hasSuffix("*") })
        prefixes = entries.filter { $0.hasSuffix("*") }.map { String($0.dropLast()) }
    }

    /// The configured items' ids and `<prefix>/<environment>/*`.
    public static func standard(itemIDs: [String], prefix: String, environment: String) -> AllowList {
        AllowList(itemIDs + ["\(prefix)/\(environment)/*"])
    }

    public var entries: [String] { exact.sorted() + prefixes.map { $0 + "*" } }

    public func allows(_ id: String) -> Bool { allowsName(id) || Self.names(of: id).contains(where: allowsName) }

    /// A name or ARN AWS gave the secret read, matched as written.
    public func allowsName(_ name: String) -> Bool {
        exact.contains(name) || prefixes.contains { name.hasPrefix($0) }
    }

    /// For an ARN, the name it holds, with and without its suffix.
    private static func names(of id: String) -> [String] {
        // arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME (names hold no ':')
        guard id.hasPrefix("arn:") else { return [] }
        let parts = id.split(separator: ":", maxSplits: 6, omittingEmptySubsequences: false)
        guard parts.count == 7, parts[5] == "secret" else { return [] }
        let name = String(parts[6])
        let suffix = name.lastIndex(of: "-").map { name.distance(from: $0, to: name.endIndex) == 7 } ?? false
        return [name] + (suffix ? [String(name.dropLast(7))] : [])
    }
}
