import Testing
@testable import VigilSecrets

/// What a reload hands the client reaches every transition: the policy the
/// machines are driven by is rebuilt whole from the new configuration.
@Suite struct ReconfigureTests {
    @Test func aReconfigureReplacesTheWholePolicy() {
        let items = [SecretsConfiguration.Item(name: "database", secretID: "db")]
        var state = ClientState(configuration: SecretsConfiguration(items: items), primaryRegion: "us-east-1", environment: [:])
        var next = SecretsConfiguration(items: items, ttl: 60, emergencyTTL: 600, refreshAhead: 10, maxBackoff: 5)
        (next.rotationWindow, next.rotationGrace, next.readCapacity) = (120, 7200, 7)
        let before = state.policy
        state.reconfigure(next)
        let after = state.policy
        #expect(before.ttl == 3600 && before.maxBackoff == 60 && before.rotationGrace == 86_400)
        #expect(after.ttl == 60 && after.emergencyTTL == 600 && after.refreshAhead == 10 && after.maxBackoff == 5)
        #expect(after.rotationWindow == 120 && after.rotationGrace == 7200 && state.configuration.readCapacity == 7)
        #expect(after.primaryRegion == "us-east-1", "the region found at start is kept")
    }
}
