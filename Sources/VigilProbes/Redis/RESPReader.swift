/// A RESP2/RESP3 reply, as far as the Redis probe needs one.
enum RESPValue: Equatable {
    case simple(String)
    case error(String)
    case integer(Int)
    case bulk([UInt8]?)
    case array([RESPValue]?)
}

/// Parses one RESP value from a byte buffer. Bounded: bulk strings over
/// `maxBulk` bytes, arrays over `maxElements` or nesting deeper than
/// `maxDepth` are protocol errors, so no input can exhaust memory or stack.
struct RESPReader {
    var maxBulk = 1 << 20
    var maxElements = 1024
    var maxDepth = 8

    enum Outcome: Equatable {
        case value(RESPValue, consumed: Int)
        case needMore
        case invalid(String)
    }

    func parse(_ bytes: [UInt8]) -> Outcome {
        var index = 0
        do {
            guard let value = try value(bytes, &index, depth: 0) else { return .needMore }
            return .value(value, consumed: index)
        } catch {
            return .invalid(error.message)
        }
    }

    struct Invalid: Error { var message: String }

    private func value(_ bytes: [UInt8], _ index: inout Int, depth: Int) throws(Invalid) -> RESPValue? {
        guard depth <= maxDepth else { throw Invalid(message: "nesting too deep") }
        guard let line = try line(bytes, &index), let kind = line.first else { return nil }
        let text = String(decoding: line.dropFirst(), as: UTF8.self)
        switch kind {
        case UInt8(ascii: "+"): return .simple(text)
        case UInt8(ascii: "-"): return .error(text)
        case UInt8(ascii: ":"):
            guard let number = Int(text) else { throw Invalid(message: "bad integer") }
            return .integer(number)
        case UInt8(ascii: "$"):
            guard let length = Int(text), length >= -1, length <= maxBulk else { throw Invalid(message: "bad bulk length") }
            if length == -1 { return .bulk(nil) }
            guard bytes.count - index >= length + 2 else { return nil }
            let body = Array(bytes[index..<index + length])
            guard bytes[index + length] == 13, bytes[index + length + 1] == 10 else { throw Invalid(message: "bulk not terminated") }
            index += length + 2
            return .bulk(body)
        case UInt8(ascii: "*"):
            guard let count = Int(text), count >= -1, count <= maxElements else { throw Invalid(message: "bad array length") }
            if count == -1 { return .array(nil) }
            var elements: [RESPValue] = []
            for _ in 0..<count {
                guard let element = try value(bytes, &index, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw Invalid(message: "unexpected type byte")
        }
    }

    /// The bytes up to CRLF, or nil if the line is incomplete.
    private func line(_ bytes: [UInt8], _ index: inout Int) throws(Invalid) -> ArraySlice<UInt8>? {
        var cursor = index
        while cursor + 1 < bytes.count {
            if bytes[cursor] == 13 && bytes[cursor + 1] == 10 {
                let line = bytes[index..<cursor]
                index = cursor + 2
                return line
            }
            cursor += 1
            if cursor - index > 64 * 1024 { throw Invalid(message: "line too long") }
        }
        return nil
    }
}
