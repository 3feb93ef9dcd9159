import Glibc
import Synchronization
import Testing
@testable import VigilPlatform

@Suite struct TextTests {
    @Test func trimmedDropsWhitespaceAndNewlinesAtBothEnds() {
        #expect("  a b \n\t".trimmed == "a b")
        #expect(" \n ".trimmed == "")
        #expect("x"[...].trimmed == "x")
    }

    @Test func decimalStringRoundsToTheGivenDigits() {
        #expect(1.23456.decimalString(digits: 3) == "1.235")
        #expect(0.5.decimalString(digits: 1) == "0.5")
        #expect(42.0.decimalString(digits: 2) == "42.00")
        #expect(JSONWriter.number(.nan) == "null")
        #expect(JSONWriter.number(1e12) == "1000000000000.000")
    }

    @Test func jsonQuoteEscapesWhatJSONRequires() {
        #expect(JSONWriter.quote("a\"b\\c\n\u{1}é") == "\"a\\\"b\\\\c\\n\\u0001é\"")
        #expect(JSONWriter.quote("\u{1f}") == "\"\\u001f\"")
        #expect(JSONWriter.object([("k", "1")]) == "{\"k\":1}")
    }
}

@Suite struct FileTests {
    @Test func readFileReturnsEveryByteUpToTheLimit() throws {
        let path = "/tmp/vigil-platform-test-\(getpid())"
        defer { unlink(path) }
        let content = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(append(String(decoding: content.map { $0 & 0x7f }, as: UTF8.self), toFile: path))
        let expected = content.map { $0 & 0x7f }
        #expect(try readFile(path, limit: 1 << 20) == expected)    // grows past the first buffer
        #expect(try readFile(path, limit: 200_000) == expected)    // exactly at the limit
        #expect(throws: FileReadError.self) { try readFile(path, limit: 199_999) }
        #expect(try readTextFile("/proc/self/stat", limit: 4096).contains(") "))  // size 0 in stat(2): read to EOF
        #expect((try? readFile("/nonexistent/x", limit: 10)) == nil)
    }
}

@Suite struct ThreadTests {
    @Test func detachedThreadRunsNamedAndSignalsACondition() {
        let condition = Condition()
        let name = Mutex<String?>(nil)
        condition.lock()
        startDetachedThread(name: "vigil-test-thread-long-name") {
            var buffer = [CChar](repeating: 0, count: 32)
            let fd = open("/proc/thread-self/comm", O_RDONLY)
            let count = read(fd, &buffer, 31)
            close(fd)
            let comm = String(decoding: buffer.prefix(max(0, count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            condition.withLock {
                name.withLock { $0 = comm.trimmed }
                condition.broadcast()
            }
        }
        var signalled = true
        while name.withLock({ $0 }) == nil && signalled {
            signalled = condition.wait(until: .now + .seconds(10))
        }
        condition.unlock()
        #expect(signalled)
        #expect(name.withLock { $0 } == "vigil-test-thre")  // the kernel keeps 15 bytes
    }

    @Test func conditionWaitTimesOutOnTheMonotonicClock() {
        let condition = Condition()
        let started = ContinuousClock.now
        let signalled = condition.withLock { condition.wait(until: .now + .milliseconds(50)) }
        #expect(!signalled)
        #expect(ContinuousClock.now - started >= .milliseconds(50))
        #expect(condition.withLock { condition.wait(until: .now - .seconds(1)) } == false)
    }
}

/// A release runs on hosts whose CA bundle is not where Debian keeps it.
struct SystemCABundleTests {
    @Test func theFirstBundleThatExistsOrSSLCertFile() {
        let amazonLinux = ["/nonexistent/ca-certificates.crt", "/proc/self/status"]  // a readable file stands in for ca-bundle.crt
        #expect(SystemCABundle.find(environment: nil, candidates: amazonLinux) == "/proc/self/status")
        #expect(SystemCABundle.find(environment: "/etc/custom.pem", candidates: amazonLinux) == "/etc/custom.pem")
        #expect(SystemCABundle.find(environment: "", candidates: ["/nonexistent/a"]) == nil)
        #expect(SystemCABundle.candidates.contains("/etc/pki/tls/certs/ca-bundle.crt"), "Amazon Linux 2023's")
    }
}
