import Testing
@testable import VigilConfig
import VigilPlatform
import VigilProbes

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
          api:
            kind: http
            url: https://api.example.com/v1/health
            headers:
              Authorization: "Bearer ${secret:api.token}"
          port:
            kind: tcp
            address: "mail.example.com:587"
        """

    @Test func namedTargetsOfEveryKind() throws {
        let config = try load(Self.catalogYAML)
        #expect(config.probes.map(\.name) == ["database", "redis", "secrets", "api", "port", "queue", "replica"])
        #expect(config.probes.map { $0.kind.name } == ["postgres", "redis", "secrets", "http", "tcp", "redis", "postgres"])
        let replica = try #require(config.probes["replica"])
        #expect(!replica.critical && replica.secret == "replica" && replica.interval == .seconds(15))
        #expect((replica.settings as? PostgresTLS)?.mode == "require")  // database.sslmode is every postgres target's default
        #expect((config.probes["queue"]?.settings as? RedisProbe.Settings)?.info == false)
        let api = try #require(config.probes["api"])
        let http = try #require(api.settings as? HTTPProbe.Settings)
        #expect(api.critical && api.secret == "api" && http.method == "GET" && http.expect == StatusRanges("200-299"))
        #expect((config.probes["port"]?.settings as? HostPort) == HostPort(host: "mail.example.com", port: 587))
        #expect(api.headers.map(\.name) == ["Authorization"])
        #expect(SecretReference.parts(api.headers[0].value) == [.text("Bearer "), .reference(item: "api", key: "token")])
        // `${secret:<key>}` is a key of the target's own secret: `secret`, else the item named like it.
        let own = try load(Self.catalogYAML.replacing("${secret:api.token}", with: "${secret:token}"))
        #expect(own.probes["api"].map { SecretReference.items(in: $0.headers[0].value, ownItem: $0.secret) } == ["api"])
        let named = try load(Self.catalogYAML.replacing("${secret:api.token}", with: "${secret:password}")
            .replacing("    kind: http\n", with: "    kind: http\n    secret: queue\n"))
        #expect(named.probes["api"].map { SecretReference.items(in: $0.headers[0].value, ownItem: $0.secret) } == ["queue"])
        #expect(config.probes["port"]?.secret == nil && config.probes["secrets"]?.critical == false)
        #expect(config.effective["probes.replica.critical"] == "false" && config.effective["probes.api.url"] == http.url)
    }

    @Test func itemsAndTargetsWrittenEmptyTakeEveryDefault() throws {
        let config = try load("secrets:\n  prefix: app\n  items:\n    stripe: {}\n    mail:\n    database: {keys: [password]}\n"
                              + "probes:\n  timeout:\n  database: {}\n")
        #expect(config.secrets.items.map(\.name) == ["database", "mail", "stripe"])
        #expect(config.secrets.items.map(\.id) == ["app/production/database", "app/production/mail", "app/production/stripe"])
        #expect(config.probes.map(\.name) == ["database", "redis", "secrets"])
    }

    @Test func theDefaultConfigurationHasTheThreeTargets() throws {
        let config = try load(nil)
        #expect(config.probes.map(\.name) == ["database", "redis", "secrets"])
        #expect(config.probes.map(\.critical) == [true, true, false])
        let tls = try #require(config.probes["database"]?.settings as? PostgresTLS)
        #expect(tls.mode == "prefer" && tls.rootCertificate == nil)
    }

    @Test func environmentSetsAnyTarget() throws {
        let config = try load(Self.catalogYAML, environment: [
            "VIGIL_PROBES_REPLICA_TIMEOUT": "2s", "VIGIL_PROBES_API_EXPECT_STATUS": "200,204", "VIGIL_PROBES_DATABASE_ENABLED": "false",
            "VIGIL_PROBES_QUEUE_SERVER_NAME": "queue.internal"])
        #expect(config.probes["replica"]?.timeout == .seconds(2))
        #expect(config.origins["probes.replica.timeout"] == "env VIGIL_PROBES_REPLICA_TIMEOUT")
        #expect((config.probes["api"]?.settings as? HTTPProbe.Settings)?.expect == StatusRanges("200,204"))
        #expect(config.probes["database"]?.enabled == false)
        #expect((config.probes["queue"]?.settings as? RedisProbe.Settings)?.tls.serverName == "queue.internal")
    }

    @Test(arguments: [
        ("probes:\n  x:\n    kind: mysql\n", "test.yml:3: probes.x.kind: unknown kind \"mysql\": expected one of "
            + ProbeCatalog.kinds.map { $0.name }.joined(separator: ", ")),
        ("probes:\n  x:\n    timeout: 1s\n", "probes.x.kind: required for a probe not named database, redis or secrets"),
        ("probes:\n  x: {}\n", "probes.x.kind: required for a probe not named database, redis or secrets"),
        ("probes:\n  database:\n    url: http://a\n", "test.yml:3: probes.database.url: not a setting of a postgres probe (its own settings: sslmode, ca_file)"),
        ("probes:\n  x:\n    kind: http\n", "probes.x.url: required for a probe of kind http"),
        ("probes:\n  x:\n    kind: http\n    url: ftp://a\n", "test.yml:4: probes.x.url: invalid value \"ftp://a\": expected an http:// or https:// URL"),
        ("probes:\n  x:\n    kind: http\n    url: http://a\n    expect_status: 2xx\n", "test.yml:5: probes.x.expect_status: invalid value"),
        ("probes:\n  x:\n    kind: http\n    url: http://a\n    headers:\n      X-Key: ${secret:nope.key}\n",
         "test.yml:6: probes.x.headers.X-Key: refers to secret item \"nope\""),
        ("probes:\n  x:\n    kind: http\n    url: http://a\n    headers:\n      X-Key: ${secret:key}\n",
         "test.yml:6: probes.x.headers.X-Key: ${secret:<key>} refers to the target's own secret, and it has none"),
        ("probes:\n  x:\n    kind: tcp\n    address: example.com\n", "test.yml:4: probes.x.address: invalid value \"example.com\": expected HOST:PORT"),
        ("probes:\n  x:\n    kind: tcp\n    address: a:1\n    secret: database\n", "test.yml:5: probes.x.secret: a tcp probe uses no secret"),
        ("probes:\n  x:\n    kind: postgres\n", "probes.x.secret: a postgres probe needs credentials"),
        ("probes:\n  x:\n    kind: redis\n    secret: nope\n", "test.yml:4: probes.x.secret: no secrets.items entry named \"nope\""),
        ("database:\n  sslmode: maybe\n", "test.yml:2: database.sslmode: invalid value \"maybe\""),
        ("probes:\n  overall:\n    kind: tcp\n    address: a:1\n", "test.yml:3: probes.overall.kind: \"overall\" is reserved"),
    ])
    func badTargetsNameTheKey(yaml: String, expected: String) {
        let found = problems(yaml)
        #expect(found.contains { $0.hasPrefix(expected) || $0.contains(expected) }, "\(found)")
    }
}
