// libFuzzer target: the configuration's YAML layer over libyaml
// (Sources/VigilConfig/YAMLNode.swift): any text parses or fails with a line
// and column; nothing crashes or recurses without bound.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        _ = try YAMLNode.parse(text)
    } catch {
        precondition(error.line >= 0 && error.column >= 0)
    }
    return 0
}
