import Testing
@testable import VigilProbes

@Suite struct RESPReaderTests {
    let reader = RESPReader()

    private func parse(_ text: String) -> RESPReader.Outcome { reader.parse(Array(text.utf8)) }

    @Test func parsesEveryReplyKind() {
        #expect(parse("+PONG\r\n") == .value(.simple("PONG"), consumed: 7))
        #expect(parse("-WRONGPASS invalid\r\n") == .value(.error("WRONGPASS invalid"), consumed: 20))
        #expect(parse(":42\r\n") == .value(.integer(42), consumed: 5))
        #expect(parse("$3\r\nabc\r\n") == .value(.bulk(Array("abc".utf8)), consumed: 9))
        #expect(parse("$-1\r\n") == .value(.bulk(nil), consumed: 5))
        #expect(parse("*2\r\n:1\r\n+x\r\n") == .value(.array([.integer(1), .simple("x")]), consumed: 12))
    }

    @Test func incompleteInputAsksForMore() {
        for partial in ["", "+PON", "+PONG\r", "$3\r\nab", "*2\r\n:1\r\n"] {
            #expect(parse(partial) == .needMore, "\(partial)")
        }
    }

    @Test func boundsAreEnforced() {
        #expect(parse("$99999999999\r\n") == .invalid("bad bulk length"))
        #expect(parse("*5000\r\n") == .invalid("bad array length"))
        #expect(parse(String(repeating: "*1\r\n", count: 20) + ":1\r\n") == .invalid("nesting too deep"))
        #expect(parse("?x\r\n") == .invalid("unexpected type byte"))
        #expect(parse("$3\r\nabcXY") == .invalid("bulk not terminated"))
    }

    /// Random and mutated inputs: the reader must answer, never trap.
    @Test func survivesRandomBytes() {
        var generator = SystemRandomNumberGenerator()
        let seeds = ["+OK\r\n", "$5\r\nhello\r\n", "*2\r\n$1\r\na\r\n:7\r\n", "-ERR x\r\n"].map { Array($0.utf8) }
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
            } else {
                bytes = seeds[round % seeds.count]
                for _ in 0..<3 where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            switch reader.parse(bytes) {
            case .value(_, let consumed): #expect(consumed <= bytes.count)
            case .needMore, .invalid: break
            }
        }
    }
}
