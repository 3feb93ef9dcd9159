import Synchronization
import Testing
@testable import VigilAWS
import VigilPlatform
import VigilTestSupport

/// The chain's cache: reused until 5 minutes before expiry, refreshed in the
/// background inside that window, reloaded in line once expired.
@Suite struct CredentialChainTests {
    final class CountingSource: CredentialSource {
        let name = "counting"
        let loads = Atomic<Int>(0)
        let clock: @Sendable () -> UnixTime
        init(clock: @escaping @Sendable () -> UnixTime) { self.clock = clock }

        func load() throws(AWSError) -> AWSCredentials? {
            let count = loads.add(1, ordering: .relaxed).newValue
            return AWSCredentials(accessKeyID: "AKID\(count)", secretAccessKey: SecretString("s"),
                                  sessionToken: SecretString("t"), expiration: clock().adding(3600), source: name)
        }
    }

    struct Unconfigured: CredentialSource {
        let name = "unconfigured"
        func load() throws(AWSError) -> AWSCredentials? { nil }
    }

    @Test func cachedUntilTheRefreshWindowThenRefreshedInTheBackground() throws {
        let clock = ManualClock()
        let source = CountingSource(clock: clock.read)
        let chain = CredentialChain(sources: [Unconfigured(), source], clock: clock.read)
        #expect(try chain.credentials().accessKeyID == "AKID1")
        clock.advance(3000)  // 10 minutes left: still cached, no refresh yet
        #expect(try chain.credentials().accessKeyID == "AKID1")
        #expect(source.loads.load(ordering: .relaxed) == 1)
        clock.advance(400)  // under 5 minutes left: the current ones are served, a refresh starts
        #expect(try chain.credentials().accessKeyID == "AKID1")
        #expect(VigilProcess.waitUntil(timeout: 5) { source.loads.load(ordering: .relaxed) == 2 })
        #expect(VigilProcess.waitUntil(timeout: 5) { (try? chain.credentials().accessKeyID) == "AKID2" })
    }

    @Test func expiredCredentialsAreReloadedBeforeUse() throws {
        let clock = ManualClock()
        let source = CountingSource(clock: clock.read)
        let chain = CredentialChain(sources: [source], clock: clock.read)
        _ = try chain.credentials()
        clock.advance(4000)
        #expect(try chain.credentials().accessKeyID == "AKID2")
    }
}
