// libFuzzer target: the dotenv reader of `vigil secrets migrate`
// (Sources/VigilSecrets/DotEnv.swift). Checks: no crash; an error names a
// line inside the file; every name is a valid variable name and appears
// once; and the variables written back as double-quoted assignments (with
// escapes) read back to the same names and values, in order.

/// `NAME="value"` with the escapes the reader undoes.
private func assignment(_ name: String, _ value: String) -> String {
    let escaped = value.replacingScalars { scalar in
        switch scalar {
        case "\\": "\\\\"
        case "\"": "\\\""
        case "\n": "\\n"
        case "\r": "\\r"
        case "\t": "\\t"
        default: nil
        }
    }
    return "\(name)=\"\(escaped)\""
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let lines = text.unicodeScalars.count(where: { $0 == "\n" }) + 1  // scalars: "\r\n" is one Character
    let file: DotEnv
    do {
        file = try DotEnv(parsing: text)
    } catch {
        check(error.line >= 1 && error.line <= lines, "error outside the file: \(error)")
        return 0
    }
    let names = file.variables.map(\.name)
    check(Set(names).count == names.count, "a name twice")
    for variable in file.variables {
        check(!variable.name.isEmpty && variable.line >= 1 && variable.line <= lines, "bad variable")
    }
    let written = file.variables.map { assignment($0.name, $0.value.revealed()) }.joined(separator: "\n")
    guard let again = try? DotEnv(parsing: written) else { fatalError("written form does not parse") }
    check(again.variables.map(\.name) == names, "names changed")
    check(zip(again.variables, file.variables).allSatisfy { $0.value == $1.value }, "values changed")
    return 0
}
