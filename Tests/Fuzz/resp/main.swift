// libFuzzer target: the RESP reader (Sources/VigilProbes/Redis/RESPReader.swift)
// on any bytes: no crash, no unbounded work, and a parsed value never claims
// more bytes than it was given.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if case .value(_, let consumed) = RESPReader().parse(bytes) {
        precondition(consumed > 0 && consumed <= bytes.count, "consumed \(consumed) of \(bytes.count)")
    }
    return 0
}
