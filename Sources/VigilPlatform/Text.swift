#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension String {
    /// The text with the scalars `replacement` names replaced (escaping for
    /// JSON, HTML, dotenv), scalar by scalar: Character by Character, a
    /// combining mark after a quote made one Character and hid the quote.
    package func replacingScalars(_ replacement: (Unicode.Scalar) -> String?) -> String {
        var out = ""
        for scalar in unicodeScalars {
            if let replaced = replacement(scalar) { out += replaced } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace (newlines included).
    package var trimmed: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
              let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}

extension Double {
    /// The value with exactly `digits` decimals (`%.3f`), for JSON and
    /// tables; "nan"/"inf" for non-finite values.
    package func decimalString(digits: Int) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            let count = withVaList([self]) { vsnprintf(buffer.baseAddress, 64, "%.\(digits)f", $0) }
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: Int(max(0, min(count, 63))))
                .bindMemory(to: UInt8.self), as: UTF8.self)
        }
    }
}

extension Sequence where Element: Hashable {
    /// Each element once, in first-seen order.
    package var uniqued: [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
