import Testing
import VigilConfig
@testable import VigilProbes

@Suite struct CatalogTests {
    /// The configuration's kinds and the factories are two tables: they must name the same kinds.
    @Test func everyKindHasAFactoryAndEveryFactoryAKind() {
        #expect(Set(ProbeCatalog.factories.keys) == Set(ProbeKind.all.map(\.name)))
    }

    @Test func secretReferences() {
        #expect(SecretReference.parts("Bearer ${secret:api.token}") == [.text("Bearer "), .reference(item: "api", key: "token")])
        #expect(SecretReference.parts("${secret:a.b}:${secret:c.d}") == [.reference(item: "a", key: "b"), .text(":"),
                                                                         .reference(item: "c", key: "d")])
        #expect(SecretReference.parts("${secret:nokey} ${x}") == [.text("${secret:nokey}"), .text(" ${x}")])
        #expect(SecretReference.parts("plain") == [.text("plain")])
    }
}
