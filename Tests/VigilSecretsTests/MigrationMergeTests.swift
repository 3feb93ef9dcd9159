import Testing
@testable import VigilSecrets

/// The migration's merge works on members as written: what it does not change, it does not re-encode.
struct MigrationMergeTests {
    @Test func membersKeepTheirTextNestedValuesAndOrder() throws {
        let text = #"{ "b" : 12345678901234567890, "a":{"x":[1,"}",{"y":"\""}]}, "c":"caf\u00e9", "d":1.10, "b2":null }"#
        let members = try #require(JSONMembers(text))
        #expect(members.keys == ["b", "a", "c", "d", "b2"])
        #expect(members["b"] == "12345678901234567890" && members["d"] == "1.10" && members["b2"] == "null")
        #expect(members["a"] == #"{"x":[1,"}",{"y":"\""}]}"#)
        #expect(JSONMembers.same(try #require(members["c"]), #""café""#))
        #expect(JSONMembers("[1]") == nil && JSONMembers("{") == nil && JSONMembers(#""text""#) == nil)
    }

    @Test func aMergeKeepsAWSKeysUnlessPrunedAndNamesEveryChange() throws {
        let held = try #require(JSONMembers(#"{"engine":"postgres","password":"old","port":5432}"#))
        let file = try #require(JSONMembers(#"{"password":"new","port":5432,"dbname":"app"}"#))
        let (kept, keys) = SecretsMigration.merge(held, file, prune: false)
        #expect(kept.text == #"{"engine":"postgres","password":"new","port":5432,"dbname":"app"}"#)
        #expect(keys == SecretsMigration.KeyChanges(added: ["dbname"], changed: ["password"], removed: [], kept: ["engine"]))
        let (pruned, prunedKeys) = SecretsMigration.merge(held, file, prune: true)
        #expect(pruned.text == #"{"password":"new","port":5432,"dbname":"app"}"# && prunedKeys.removed == ["engine"])
        let (same, _) = SecretsMigration.merge(held, try #require(JSONMembers(#"{"password":"old"}"#)), prune: false)
        #expect(same == held, "nothing new: unchanged, though the file lacks keys")
    }

    @Test func aURLsQueryParametersBecomeKeysAndACollisionIsRefusedByName() throws {
        let members = try SecretsMigration.json("postgres://u:p@h:5432/db?sslmode=require", variable: "DATABASE_URL")
        #expect(members["sslmode"] == #""require""# && members["password"] == #""p""#)
        #expect(throws: CredentialsError.self) { try SecretsMigration.json("postgres://u:p@h/db?password=x", variable: "DATABASE_URL") }
    }
}
