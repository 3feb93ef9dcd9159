/// Hand-written JSON for the documents whose key order is part of the
/// contract (`/health`, log lines): quoting and numbers, nothing else.
package enum JSONWriter {
    /// `text` as a JSON string literal, control characters escaped.
    package static func quote(_ text: String) -> String {
        "\"" + text.replacingScalars { scalar in
            switch scalar {
            case "\"": "\\\""
            case "\\": "\\\\"
            case "\n": "\\n"
            case "\r": "\\r"
            case "\t": "\\t"
            case _ where scalar.value < 0x20:
                "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)  // below 0x20: one or two digits
            default: nil
            }
        } + "\""
    }

    /// `{"key":value,...}` from already-encoded values.
    package static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(quote($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    /// Three decimals (millisecond latencies, ratios); `null` when not finite.
    package static func number(_ value: Double) -> String {
        value.isFinite ? value.decimalString(digits: 3) : "null"
    }
}
