import VigilSecrets

/// A read as the agent's two forms spell it: `/secretsmanager/get?secretId=ID`
/// and `<prefix><ID>`, each with `versionId`, `versionStage` and `refreshNow`.
struct ReadRequest: Sendable {
    enum Refusal: Error, Equatable {
        case missingID, missingPathID, badRefresh, tooLong
        case unknownParameter(String)
    }

    var query: SecretQuery
    var refreshNow: Bool

    private static let known: Set = ["versionId", "versionStage", "refreshNow"]

    /// AWS's limit for a secret id (an ARN) and a version id.
    static let maxLength = 2048

    /// `idParameter`: the query parameter holding the id (nil: the id is in the path).
    static func parse(id: String?, query: [String: String], idParameter: String?) -> Result<ReadRequest, Refusal> {
        if !query.isEmpty, let unknown = query.keys.filter({ !Self.known.contains($0) && $0 != idParameter }).min() {
            return .failure(.unknownParameter(unknown))
        }
        guard let id, !id.isEmpty else { return .failure(idParameter == nil ? .missingPathID : .missingID) }
        let versionID = query["versionId"], stage = query["versionStage"]
        guard ([id] + [versionID, stage].compactMap { $0 }).allSatisfy({ $0.utf8.count <= maxLength }) else {
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
        return .success(ReadRequest(query: SecretQuery(secretID: id, versionID: versionID, versionStage: stage),
                                    refreshNow: refreshNow))
    }
}
