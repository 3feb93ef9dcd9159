import Foundation
import Testing
@testable import VigilAWS
import VigilPlatform

/// Every case of the public SigV4 test suite in `../shared/testdata/sigv4`
/// (from awslabs/aws-c-auth): canonical request, string to sign and
/// signature must match byte for byte.
@Suite struct SigV4SuiteTests {
    static let suite = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/testdata/sigv4")

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: suite.path)) ?? [])
            .filter { FileManager.default.fileExists(atPath: suite.appendingPathComponent("\($0)/request.txt").path) }
            .sorted()
    }

    @Test func theSuiteIsThere() {
        #expect(Self.cases.count >= 30, "SigV4 suite not found at \(Self.suite.path)")
    }

    @Test(arguments: cases)
    func headerSigning(name: String) throws {
        let folder = Self.suite.appendingPathComponent(name)
        func read(_ file: String) throws -> String {
            try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
        }
        let context = try #require(try JSONSerialization.jsonObject(with: Data(read("context.json").utf8)) as? [String: Any])
        let keys = try #require(context["credentials"] as? [String: String])
        let credentials = AWSCredentials(accessKeyID: keys["access_key_id"] ?? "",
                                         secretAccessKey: SecretString(keys["secret_access_key"] ?? ""),
                                         sessionToken: keys["token"].map(SecretString.init))
        var options = SigV4Signer.Options()
        options.normalizePath = context["normalize"] as? Bool ?? true
        options.signBodyHash = context["sign_body"] as? Bool ?? false
        options.omitSessionToken = context["omit_session_token"] as? Bool ?? false
        let date = try #require(UnixTime(iso8601: context["timestamp"] as? String ?? ""))
        let parts = SigV4Signer().signatureParts(
            try RawRequest.parse(read("request.txt")), credentials: credentials,
            region: context["region"] as? String ?? "", service: context["service"] as? String ?? "",
            date: date, options: options)
        #expect(parts.canonicalRequest == (try read("header-canonical-request.txt")))
        #expect(parts.stringToSign == (try read("header-string-to-sign.txt")))
        #expect(parts.signature == (try read("header-signature.txt")).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Reads the suite's raw HTTP requests: request line, headers (with folded
/// continuation lines), blank line, body.
enum RawRequest {
    struct Malformed: Error {}

    static func parse(_ text: String) throws -> SignableRequest {
        let (head, body) = text.range(of: "\n\n").map { (String(text[..<$0.lowerBound]), String(text[$0.upperBound...])) }
            ?? (text, "")
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty else { throw Malformed() }
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 3 else { throw Malformed() }
        let target = requestLine[1..<(requestLine.count - 1)].joined(separator: " ")
        let (path, query) = target.firstIndex(of: "?").map { (String(target[..<$0]), String(target[target.index(after: $0)...])) }
            ?? (target, "")
        var headers: [(name: String, value: String)] = []
        for line in lines where !line.isEmpty {
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((name: String(line[..<colon]), value: String(line[line.index(after: colon)...])))
            }
        }
        let pairs = query.split(separator: "&").map { pair -> (name: String, value: String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (URIEncoding.decode(parts[0]), parts.count > 1 ? URIEncoding.decode(parts[1]) : "")
        }
        return SignableRequest(method: String(requestLine[0]), path: path, query: pairs, headers: headers,
                               body: Array(body.utf8))
    }
}
