import Testing
import VigilAWS
@testable import VigilSecrets

/// A version that lacks keys its item needs: named, and logins keep the
/// last version that had them until a well-formed one comes.
@Suite struct MalformedVersionTests {
    let policy = SecretPolicy(SecretsConfiguration(items: []), primaryRegion: "us-east-1")
    let keys = ["host", "username", "password"]

    private func entry(_ version: String, _ json: String) -> CacheEntry {
        CacheEntry(value: SecretString(json), versionID: version, source: .aws, confirmedAt: UnixTime(seconds: 100), document: nil,
                   region: "us-east-1", missingKeys: RequiredKeys.missing(in: json, keys))
    }

    @Test func missingKeysAreNamedAndAURLHoldsThemAll() {
        #expect(RequiredKeys.missing(in: #"{"password":"canary-1"}"#, keys) == ["host", "username"])
        #expect(RequiredKeys.missing(in: #"{"host":"h","user":"u","password":"p"}"#, keys) == [])  // RDS's `user`
        #expect(RequiredKeys.missing(in: "postgres://u:canary-2@h/db", keys) == [])
        #expect(RequiredKeys.missing(in: "canary-3", keys) == keys && RequiredKeys.missing(in: "canary-3", []) == [])
    }

    @Test func loginsKeepTheLastWellFormedVersionUntilAWellFormedOneComes() throws {
        var machine = SecretMachine()
        let fetch = { (machine: inout SecretMachine, entry: CacheEntry) in
            _ = machine.fetched(entry, forced: false, at: UnixTime(seconds: 100), policy, jitter: 0)
        }
        fetch(&machine, entry("v1", #"{"host":"h","username":"u","password":"p1"}"#))
        fetch(&machine, entry("v2", #"{"password":"p2"}"#))
        let malformed = try #require(machine.entry)
        #expect(malformed.versionID == "v2" && malformed.missingKeys == ["host", "username"])
        #expect(machine.forLogins(malformed).versionID == "v1" && machine.forLogins(malformed).missingKeys.isEmpty)
        fetch(&machine, entry("v3", #"{"password":"p3"}"#))  // malformed again: v1 still the one that logs in
        #expect(machine.forLogins(try #require(machine.entry)).versionID == "v1")
        fetch(&machine, entry("v4", #"{"host":"h","username":"u","password":"p4"}"#))
        #expect(machine.forLogins(try #require(machine.entry)).versionID == "v4" && machine.wellFormed == nil)
    }
}

/// DescribeSecret's answers as the machine keeps them: AWSPENDING on
/// another version is dated from when it was first seen, not from each answer.
@Suite struct LifecycleTransitionTests {
    @Test func aPendingVersionKeepsWhenItWasFirstSeen() throws {
        var machine = SecretMachine()
        var answer = SecretLifecycle()
        answer.rotationEnabled = true
        machine.described(answer, pending: "v2", at: UnixTime(seconds: 100))
        machine.described(answer, pending: "v2", at: UnixTime(seconds: 4000))
        #expect(machine.lifecycle?.pending == .init(version: "v2", since: 100) && machine.lifecycle?.rotationEnabled == true)
        let stuck = try #require(machine.lifecycle).findings(now: 4000, rotationWindow: 3600, rotationGrace: 86_400)
        #expect(stuck == [.rotationStuck])
        machine.described(answer, pending: "v3", at: UnixTime(seconds: 5000))  // another rotation: dated anew
        #expect(machine.lifecycle?.pending == .init(version: "v3", since: 5000))
        machine.described(answer, pending: nil, at: UnixTime(seconds: 6000))
        #expect(machine.lifecycle?.pending == nil)
    }
}
