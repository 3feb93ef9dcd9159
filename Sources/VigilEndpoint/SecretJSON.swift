import VigilHTTP
import VigilPlatform
import VigilSecrets

/// A read's answer as GetSecretValue's JSON, field for field as the AWS
/// agent writes it (`CreatedDate` a string of epoch seconds), with how it
/// was served (`X-Vigil-Source`, `Age` in whole seconds).
enum SecretJSON {
    /// What an answer is rendered from besides the value: a version's value
    /// never changes, so the same stamp renders the same bytes.
    struct Stamp: Equatable {
        var document: SecretDocument
        var source: SecretRead.Source
        var age: Int

        init(_ read: SecretRead) {
            document = read.document
            source = read.source
            age = Int(read.age ?? 0)
        }
    }

    static func response(_ read: SecretRead) -> HTTPResponse {
        HTTPResponse(status: 200, contentType: "application/json", body: body(read), headers: servedHeaders(read))
    }

    /// The entity tag of a read: its version id, quoted (nil for an
    /// environment fallback, which has none; a digest of the value would
    /// let anyone holding the tag test guesses of it).
    static func etag(_ read: SecretRead) -> String? { read.document.versionID.map { "\"\($0)\"" } }

    /// A client's `If-None-Match` holds the version served: no value, the same headers.
    static func notModified(_ read: SecretRead) -> HTTPResponse {
        HTTPResponse(status: 304, body: [], headers: servedHeaders(read))
    }

    /// How a read was served (`X-Vigil-Source`, `Age`) and its `ETag`: on
    /// every answer of a read, whole, one `jsonKey` or not modified.
    static func servedHeaders(_ read: SecretRead) -> [(name: String, value: String)] {
        [(name: "X-Vigil-Source", value: read.source.rawValue), (name: "Age", value: String(Stamp(read).age))]
            + (etag(read).map { [(name: "ETag", value: $0)] } ?? [])
            // AWSCURRENT as AWS has it, which lacks keys Vigil's probes need: names only.
            + (read.missingKeys.isEmpty ? [] : [(name: "X-Vigil-Missing-Keys", value: read.missingKeys.joined(separator: ","))])
    }

    static func body(_ read: SecretRead) -> String {
        let document = read.document
        func optional(_ text: String?) -> String { text.map(JSONWriter.quote) ?? "null" }
        var fields = [("ARN", optional(document.arn)), ("Name", optional(document.name)),
                      ("VersionId", optional(document.versionID)),
                      (document.binary ? "SecretBinary" : "SecretString", JSONWriter.quote(read.value.revealed()))]
        if !document.stages.isEmpty { fields.append(("VersionStages", "[" + document.stages.map(JSONWriter.quote).joined(separator: ",") + "]")) }
        fields.append(("CreatedDate", optional(document.createdDate.map(epochText))))
        return JSONWriter.object(fields)
    }

    /// Seconds with the fraction AWS gave, trailing zeros dropped: `1569534789.046`.
    static func epochText(_ seconds: Double) -> String {
        var text = seconds.decimalString(digits: 6)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
