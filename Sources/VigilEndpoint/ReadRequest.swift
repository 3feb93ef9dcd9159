import VigilConfig
import VigilPlatform
import VigilSecrets

/// A read as the agent's two forms spell it: `/secretsmanager/get?secretId=ID`
/// and `<prefix><ID>`, each with `versionId`, `versionStage` and `refreshNow`;
/// `jsonKey` (Vigil's: one key of a JSON secret, as text) on both, and the
/// Lambda extension's `withDecryption` on `/secretsmanager/get` (its clients
/// send it; a secret is decrypted either way).
struct ReadRequest: Sendable {
    enum Refusal: Error, Equatable {
        case missingID, missingPathID, badRefresh, badDecryption, badWait, tooLong, missingName, badSelector, secretReference
        case unknownParameter(String)
    }

    var query: SecretQuery
    var refreshNow: Bool
    /// A key of the JSON secret, a dotted path for nested ones: its value alone is the answer.
    var jsonKey: String?
    /// `If-None-Match`: the entity tags (version ids) the client holds; one
    /// that is the version served gets 304 and no value.
    var ifNoneMatch: String?
    /// `wait` (seconds, or a duration such as `30s`): with `If-None-Match`
    /// holding the version served, the read waits up to this long for
    /// another version instead of answering 304 at once (a long poll).
    var wait: Double?

    /// True when `ifNoneMatch` names `etag` (`W/` ignored, as a GET's weak
    /// comparison does) or is `*`.
    func holds(_ etag: String) -> Bool {
        guard let ifNoneMatch else { return false }
        return ifNoneMatch.split(separator: ",").contains { tag in
            let tag = tag.trimmed
            return tag == "*" || (tag.hasPrefix("W/") ? String(tag.dropFirst(2)) : tag) == etag
        }
    }

    private static let known: Set = ["versionId", "versionStage", "refreshNow", "jsonKey", "wait"]

    /// AWS's limit for a secret id (an ARN) and a version id.
    static let maxLength = 2048
    /// The longest `wait` a request may name (a day); `endpoint.max_wait` then cuts it.
    static let maxWait = 86_400.0

    /// `idParameter`: the query parameter holding the id (nil: the id is in the path).
    static func parse(id: String?, query: [String: String], idParameter: String?) -> Result<ReadRequest, Refusal> {
        let lambdaForm = idParameter != nil  // /secretsmanager/get, the Lambda extension's path too
        if !query.isEmpty, let unknown = query.keys.filter({
            !Self.known.contains($0) && $0 != idParameter && !(lambdaForm && $0 == "withDecryption")
        }).min() {
            return .failure(.unknownParameter(unknown))
        }
        guard decryption(query) != nil else { return .failure(.badDecryption) }
        guard let id, !id.isEmpty else { return .failure(idParameter == nil ? .missingPathID : .missingID) }
        let versionID = query["versionId"], stage = query["versionStage"]
        guard ([id] + [versionID, stage, query["jsonKey"]].compactMap { $0 }).allSatisfy({ $0.utf8.count <= maxLength }) else {
            return .failure(.tooLong)
        }
        var refreshNow = false
        if let text = query["refreshNow"] {
            switch text.lowercased() {
            case "true", "1": refreshNow = true
            case "false", "0": refreshNow = false
            default: return .failure(.badRefresh)
            }
        }
        var wait: Double?
        if let text = query["wait"] {
            // A number is checked as a Double first: `nan`, `inf` or 1e300 made into a Duration trap.
            let seconds = Double(text).flatMap { $0.isFinite ? $0 : nil } ?? DurationParser.parse(text)?.timeInterval
            guard let seconds, seconds >= 0, seconds <= maxWait else { return .failure(.badWait) }
            wait = seconds
        }
        return .success(ReadRequest(query: SecretQuery(secretID: id, versionID: versionID, versionStage: stage),
                                    refreshNow: refreshNow, jsonKey: query["jsonKey"].flatMap { $0.isEmpty ? nil : $0 }, wait: wait))
    }

    /// `withDecryption`, `true` or `false` in any case (absent: false); nil for anything else.
    private static func decryption(_ query: [String: String]) -> Bool? {
        switch query["withDecryption"]?.lowercased() {
        case nil, "false": false
        case "true": true
        default: nil
        }
    }

    /// The Lambda extension's `/systemsmanager/parameters/get?name=N[&version=V][&label=L][&withDecryption=true]`.
    static func parseParameter(_ query: [String: String]) -> Result<ReadRequest, Refusal> {
        if let unknown = query.keys.filter({ !["name", "version", "label", "withDecryption"].contains($0) }).min() {
            return .failure(.unknownParameter(unknown))
        }
        guard let name = query["name"], !name.isEmpty else { return .failure(.missingName) }
        // Parameter Store's door to Secrets Manager would pass secrets by endpoint.allow_parameters, not endpoint.allow.
        guard !name.hasPrefix("/aws/reference/secretsmanager/"), !name.contains(":parameter/aws/reference/secretsmanager/") else {
            return .failure(.secretReference)
        }
        guard let decrypt = decryption(query) else { return .failure(.badDecryption) }
        let version = query["version"].flatMap { $0.isEmpty ? nil : $0 }, label = query["label"].flatMap { $0.isEmpty ? nil : $0 }
        guard version.map({ UInt64($0) != nil }) ?? true, version == nil || label == nil else { return .failure(.badSelector) }
        guard ([name] + [label].compactMap { $0 }).allSatisfy({ $0.utf8.count <= maxLength }) else { return .failure(.tooLong) }
        let read = SecretQuery(secretID: name, versionID: version, versionStage: label, store: .parameterStore(decrypt: decrypt))
        return .success(ReadRequest(query: read, refreshNow: false))
    }
}
