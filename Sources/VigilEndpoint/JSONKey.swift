import VigilHTTP
import VigilSecrets

/// `jsonKey`: one key of a JSON secret as the answer, so that a shell script
/// or a health check needs no `jq` (the agent's issue #55). A string is its
/// text, anything else its JSON as the secret holds it; a dotted path
/// reaches nested keys (a key holding the dot itself is found first). Errors
/// name the key and never hold a value.
enum JSONKey {
    enum Refusal: Error, Equatable {
        case binary, notAnObject
        case missing(String)
    }

    /// `secret`: the value as AWS gave it (`binary`: SecretBinary, base64).
    static func value(of key: String, in secret: String, binary: Bool) -> Result<String, Refusal> {
        guard !binary else { return .failure(.binary) }
        guard var object = JSONMembers(secret) else { return .failure(.notAnObject) }
        var rest = Substring(key)
        while true {
            // The longest prefix of the rest that is a key of this object, then the path below it.
            let found = prefixes(of: rest).lazy.compactMap { prefix in object[String(prefix)].map { (prefix, $0) } }.first
            guard let (prefix, raw) = found else { return .failure(.missing(key)) }
            rest = rest.dropFirst(prefix.count)
            if rest.isEmpty { return .success(JSONMembers.decodedString(raw) ?? raw) }
            rest = rest.dropFirst()  // the dot
            guard let nested = JSONMembers(raw) else { return .failure(.missing(key)) }
            object = nested
        }
    }

    /// `a.b.c`, `a.b`, `a`: the whole first, each ending before a dot.
    private static func prefixes(of path: Substring) -> [Substring] {
        [path] + path.indices.reversed().filter { path[$0] == "." }.map { path[..<$0] }
    }

    static func response(_ value: String, _ read: SecretRead) -> HTTPResponse {
        HTTPResponse(status: 200, contentType: "text/plain; charset=utf-8", body: value, headers: SecretJSON.servedHeaders(read))
    }

    static func response(_ refusal: Refusal, secret: String) -> HTTPResponse {
        switch refusal {
        case .binary: EndpointRoutes.error(400, "InvalidRequestException", "jsonKey: secret \(secret) is binary, not JSON")
        case .notAnObject: EndpointRoutes.error(400, "InvalidRequestException", "jsonKey: secret \(secret) is not a JSON object")
        case .missing(let key): EndpointRoutes.error(404, "ResourceNotFoundException", "jsonKey: secret \(secret) has no key \(key)")
        }
    }
}
