import Testing
@testable import VigilSecrets

/// `vigil exec`'s variables: the reverse of the migration, so a migrated
/// `.env` comes back as it was read (a URL's user and password decoded to
/// the same text), whatever characters the password holds.
struct SecretEnvironmentTests {
    private func secret(_ text: String) -> SecretValue {
        SecretValue(name: "database", secretID: "app/db", value: SecretString(text), versionID: "v1", source: .aws, confirmedAt: nil)
    }

    private func variables(_ text: String, _ form: SecretEnvironment.Form) throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try SecretEnvironment.variables(secret(text), form: form).map { ($0.name, $0.value.revealed()) })
    }

    @Test(arguments: ["plain", "p@ss:w/rd?#[]", "ünïcødé 100%", "with space+plus&amp="])
    func aDatabaseURLRoundTripsThroughTheMigration(password: String) throws {
        let json = TypedCredentials.json(DatabaseCredentials(host: "db.internal", port: 6432, username: "app user", password: SecretString(password),
                                                             database: "orders"))
        let url = try #require(try variables(json, .databaseURL("DATABASE_URL"))["DATABASE_URL"])
        let back = try ConnectionURL.database(url, source: "DATABASE_URL")
        #expect(back.password.revealed() == password && back.username == "app user" && back.host == "db.internal" && back.port == 6432
                && back.database == "orders")
        // The migration reads the URL into the same JSON keys.
        #expect(try SecretsMigration.json(url, variable: "DATABASE_URL") == JSONMembers(json)!)
    }

    /// A migrated URL's query (TLS settings) comes back; an RDS secret's other keys do not (libpq refuses them); a URL is given as it is.
    @Test func connectionParametersSurviveTheRoundTrip() throws {
        let original = "postgres://app:pw@db:5432/orders?sslmode=verify-full&sslrootcert=/etc/ssl/rds.pem"
        let json = try SecretsMigration.json(original, variable: "DATABASE_URL").text
        let url = try #require(try variables(json, .databaseURL("DATABASE_URL"))["DATABASE_URL"])
        #expect(url == "postgres://app:pw@db:5432/orders?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Frds.pem")
        #expect(try SecretsMigration.json(url, variable: "DATABASE_URL") == JSONMembers(json)!)
        let rds = #"{"engine":"postgres","host":"db","port":5432,"username":"app","password":"pw","dbname":"orders","dbInstanceIdentifier":"db-1"}"#
        #expect(try variables(rds, .databaseURL("DATABASE_URL")) == ["DATABASE_URL": "postgres://app:pw@db:5432/orders"])
        #expect(try variables(original, .databaseURL("DATABASE_URL")) == ["DATABASE_URL": original])
    }

    @Test func redisURLsKeepTLSUserAndDatabase() throws {
        #expect(try variables(#"{"host":"cache","port":6380,"password":"p/w","tls":true,"db":2}"#, .redisURL("REDIS_URL"))
                == ["REDIS_URL": "rediss://:p%2Fw@cache:6380/2"])
        #expect(try variables(#"{"host":"::1","username":"u"}"#, .redisURL("REDIS_URL")) == ["REDIS_URL": "redis://[::1]:6379/0"])
        #expect(try variables("rediss://:pw@cache:6379/1", .redisURL("REDIS_URL")) == ["REDIS_URL": "rediss://:pw@cache:6379/1"])
    }

    @Test func keysBecomeItemPrefixedVariables() throws {
        #expect(try variables(#"{"api_key":"k","webhook-secret":"w","STRIPE_ACCOUNT":"a","retries":3,"nested":{"a":1}}"#, .keys(prefix: "stripe"))
                == ["STRIPE_API_KEY": "k", "STRIPE_WEBHOOK_SECRET": "w", "STRIPE_ACCOUNT": "a", "STRIPE_RETRIES": "3",
                    "STRIPE_NESTED": #"{"a":1}"#])
        #expect(try variables("just text", .keys(prefix: "api-token")) == ["API_TOKEN": "just text"])
        #expect(try variables(#"{"a":"b"}"#, .text("CONFIG_JSON")) == ["CONFIG_JSON": #"{"a":"b"}"#])
    }

    /// Broken JSON or another scheme is refused, not passed on for a driver to print.
    @Test func onlyAURLOfTheSchemePassesAsItIs() {
        for text in [#"{"username":"app","password":"canary-env-2""#, "mysql://app:canary-env-2@db/app", "canary-env-2"] {
            do {
                _ = try variables(text, .databaseURL("DATABASE_URL"))
                Issue.record("passed on: \(text.prefix(10))")
            } catch {
                #expect(!"\(error)".contains("canary-env-2"))
            }
        }
    }

    @Test func aSecretThatIsNoCredentialsNamesTheProblemNotTheValue() {
        do {
            _ = try variables(#"{"password":"canary-env-1"}"#, .databaseURL("DATABASE_URL"))
            Issue.record("a database URL without a user")
        } catch {
            #expect("\(error)".contains("username") && !"\(error)".contains("canary-env-1"), "\(error)")
        }
    }
}
