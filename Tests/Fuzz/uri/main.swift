// libFuzzer target: SigV4's percent-encoding (Sources/VigilAWS/Signing/URIEncoding.swift):
// the output holds only unreserved bytes and %XY escapes, decoding gives the
// input back, and encoding is stable (the same input, the same canonical text).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let encoded = URIEncoding.encode(text)
    precondition(encoded.utf8.allSatisfy { isUnreserved($0) || $0 == UInt8(ascii: "%") }, "unescaped byte in \(encoded)")
    precondition(URIEncoding.decode(Substring(encoded)) == text, "round trip failed")
    precondition(URIEncoding.encode(text) == encoded, "unstable")
    let slashes = URIEncoding.encode(text, keepSlash: true)
    precondition(URIEncoding.decode(Substring(slashes)) == text, "round trip (keepSlash) failed")
    return 0
}
