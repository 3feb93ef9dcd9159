import FoundationEssentials
import VigilPlatform

/// A JSON object's members as written: each key decoded, each value its
/// exact text. The migration merges a secret's keys with the file's without
/// re-encoding what it does not change (a decoded tree would turn a large
/// integer into a double, or `1.10` into `1.1`); the endpoint's `jsonKey`
/// answers one value as the secret holds it.
package struct JSONMembers: Equatable {
    package var members: [(key: String, raw: String)]

    /// nil when the text is not one JSON object.
    package init?(_ text: String) {
        guard TypedCredentials.members(text) != nil else { return nil }  // valid JSON, an object
        var scanner = Scanner(bytes: Array(text.utf8))
        var members: [(key: String, raw: String)] = []
        scanner.skipSpace()
        guard scanner.take(UInt8(ascii: "{")) else { return nil }
        scanner.skipSpace()
        if scanner.take(UInt8(ascii: "}")) { self.members = []; return }
        repeat {
            scanner.skipSpace()
            guard let keyText = scanner.value(), let key = Self.decodedString(keyText) else { return nil }
            scanner.skipSpace()
            guard scanner.take(UInt8(ascii: ":")) else { return nil }
            scanner.skipSpace()
            guard let raw = scanner.value() else { return nil }
            members.removeAll { $0.key == key }  // a repeated key: the last wins, as JSONDecoder reads it
            members.append((key, raw))
            scanner.skipSpace()
        } while scanner.take(UInt8(ascii: ","))
        self.members = members
    }

    init(members: [(key: String, raw: String)]) {
        self.members = members
    }

    var keys: [String] { members.map(\.key) }
    var text: String { JSONWriter.object(members.map { ($0.key, $0.raw) }) }

    package subscript(key: String) -> String? { members.first { $0.key == key }?.raw }

    /// Two member values mean the same: strings compared decoded (`"\u00e9"` is `"é"`), the rest as written.
    static func same(_ left: String, _ right: String) -> Bool {
        left == right || (decodedString(left).map { $0 == decodedString(right) } ?? false)
    }

    package static func == (left: JSONMembers, right: JSONMembers) -> Bool {
        left.members.count == right.members.count
            && left.members.allSatisfy { member in right[member.key].map { same(member.raw, $0) } ?? false }
    }

    /// A string member's text, unescaped; nil for other values.
    package static func decodedString(_ raw: String) -> String? {
        guard raw.hasPrefix("\"") else { return nil }
        return (try? JSONDecoder().decode([String].self, from: Data("[\(raw)]".utf8)))?.first
    }

    /// Cuts values out of text already known to be valid JSON.
    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// One value (a string, a number, a literal, or a nested object or array) as written.
        mutating func value() -> String? {
            let start = index
            var depth = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    skipString()
                } else if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                    depth += 1
                    index += 1
                } else if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                    if depth == 0 { break }
                    depth -= 1
                    index += 1
                } else if depth == 0, byte == UInt8(ascii: ",") || byte == UInt8(ascii: ":") || [0x20, 0x09, 0x0A, 0x0D].contains(byte) {
                    break
                } else {
                    index += 1
                }
                if depth == 0, bytes[start] == UInt8(ascii: "\"") || bytes[start] == UInt8(ascii: "{") || bytes[start] == UInt8(ascii: "[") {
                    break  // a string or a whole nested value has been read
                }
            }
            guard index > start else { return nil }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        private mutating func skipString() {
            index += 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
            }
            index += 1
        }
    }
}
