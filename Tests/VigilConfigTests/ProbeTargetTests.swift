import Testing
@testable import VigilConfig

/// `probes.<name>` for any name, checked against its kind.
extension ConfigLoadingTests {
    static let catalogYAML = """
        secrets:
          items:
            database: {keys: [username, password]}
            redis: {keys: [password]}
            replica: {keys: [username, password]}
            queue: {keys: [password]}
            api: {keys: [token]}
        database:
          sslmode: require
        probes:
          replica:
            kind: postgres
            critical: false
          queue:
            kind: redis
            info: false
        """

    @Test func namedTargetsOfEveryKind() throws {
        let config = try load(Self.catalogYAML)
        #expect(config.probes.map(\.name) == ["database", "redis", "secrets", "queue", "replica"])
        #expect(config.probes.map(\.kind.name) == ["postgres", "redis", "secrets", "redis", "postgres"])
        let replica = try #require(config.probes["replica"])
        #expect(!replica.critical && replica.secret == "replica" && replica.interval == .seconds(15))
        #expect(replica.settings["sslmode"] == "require")  // database.sslmode is every postgres target's default
        #expect(config.probes["queue"]?.settings["info"] == "false")
        #expect(config.probes["secrets"]?.critical == false)
        #expect(config.effective["probes.replica.critical"] == "false" && config.effective["probes.queue.info"] == "false")
    }

    @Test func theDefaultConfigurationHasTheThreeTargets() throws {
        let config = try load(nil)
        #expect(config.probes.map(\.name) == ["database", "redis", "secrets"])
        #expect(config.probes.map(\.critical) == [true, true, false])
        #expect(config.probes["database"]?.settings == ["sslmode": "prefer", "ca_file": ""])
    }

    @Test func environmentSetsAnyTarget() throws {
        let config = try load(Self.catalogYAML, environment: [
            "VIGIL_PROBES_REPLICA_TIMEOUT": "2s", "VIGIL_PROBES_DATABASE_ENABLED": "false",
            "VIGIL_PROBES_QUEUE_SERVER_NAME": "queue.internal"])
        #expect(config.probes["replica"]?.timeout == .seconds(2))
        #expect(config.origins["probes.replica.timeout"] == "env VIGIL_PROBES_REPLICA_TIMEOUT")
        #expect(config.probes["database"]?.enabled == false)
        #expect(config.probes["queue"]?.settings["server_name"] == "queue.internal")
    }

    @Test(arguments: [
        ("probes:\n  x:\n    kind: mysql\n", "test.yml:3: probes.x.kind: unknown kind \"mysql\": expected one of postgres, redis, secrets"),
        ("probes:\n  x:\n    timeout: 1s\n", "probes.x.kind: required for a probe not named database, redis or secrets"),
        ("probes:\n  database:\n    info: true\n", "test.yml:3: probes.database.info: not a setting of a postgres probe (its own settings: sslmode, ca_file)"),
        ("probes:\n  x:\n    kind: postgres\n", "probes.x.secret: a postgres probe needs credentials"),
        ("probes:\n  x:\n    kind: redis\n    secret: nope\n", "test.yml:4: probes.x.secret: no secrets.items entry named \"nope\""),
        ("database:\n  sslmode: maybe\n", "test.yml:2: database.sslmode: invalid value \"maybe\""),
    ])
    func badTargetsNameTheKey(yaml: String, expected: String) {
        let found = problems(yaml)
        #expect(found.contains { $0.hasPrefix(expected) || $0.contains(expected) }, "\(found)")
    }
}
