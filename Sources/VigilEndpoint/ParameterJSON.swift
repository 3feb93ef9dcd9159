import VigilHTTP
import VigilPlatform
import VigilSecrets

/// A parameter read's answer as GetParameter's JSON, as the Parameters and
/// Secrets Lambda Extension passes it on (`Parameter`, `ResultMetadata`),
/// with the same headers as a secret's (`X-Vigil-Source`, `Age`, `ETag`:
/// the version).
enum ParameterJSON {
    static func response(_ read: SecretRead) -> HTTPResponse {
        HTTPResponse(status: 200, contentType: "application/json", body: body(read), headers: SecretJSON.servedHeaders(read))
    }

    static func body(_ read: SecretRead) -> String {
        let document = read.document, facts = document.parameter
        func optional(_ text: String?) -> String { text.map(JSONWriter.quote) ?? "null" }
        var fields = [("ARN", optional(document.arn)), ("DataType", optional(facts?.dataType)),
                      ("LastModifiedDate", document.createdDate.map(SecretJSON.epochText) ?? "null"), ("Name", optional(document.name))]
        if let selector = facts?.selector { fields.append(("Selector", JSONWriter.quote(selector))) }
        fields += [("Type", optional(facts?.type)), ("Value", JSONWriter.quote(read.value.revealed())),
                   ("Version", document.versionID.flatMap { Int($0) }.map(String.init) ?? "null")]
        return JSONWriter.object([("Parameter", JSONWriter.object(fields)), ("ResultMetadata", "{}")])
    }
}
