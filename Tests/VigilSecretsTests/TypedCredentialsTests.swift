import Testing
import VigilSecrets

@Suite struct TypedCredentialsTests {
    private func secret(_ text: String) -> SecretValue {
        SecretValue(name: "database", secretID: "x/y/database/credentials", value: SecretString(text), versionID: nil,
                    source: .aws, confirmedAt: nil)
    }

    @Test func rdsRotationFormat() throws {
        let credentials = try TypedCredentials.database(secret(
            #"{"engine":"postgres","host":"db.internal","port":5433,"username":"app","password":"canary-p1","dbname":"orders"}"#))
        #expect(credentials == DatabaseCredentials(host: "db.internal", port: 5433, username: "app",
                                                   password: SecretString("canary-p1"), database: "orders"))
    }

    @Test func urlFallbackFormats() throws {
        let database = try TypedCredentials.database(secret("postgres://app:canary%40p2@db:6432/orders"))
        let secretCheck10 = database.password.revealed() == "canary@p2"
        #expect(secretCheck10)
        #expect(database.port == 6432)
        let redis = try TypedCredentials.redis(secret("rediss://default:canary-r@cache:6380/2"))
        #expect(redis.tls && redis.username == "default" && redis.database == 2 && redis.port == 6380)
        let plain = try TypedCredentials.redis(secret(#"{"host":"cache","password":"canary-r","port":"6390"}"#))
        #expect(plain.port == 6390 && !plain.tls && plain.username == nil)
    }

    @Test func missingKeysAreNamedAndValuesNeverEchoed() {
        #expect { try TypedCredentials.database(secret(#"{"username":"app","note":"canary-value-9"}"#)) } throws: { error in
            let text = "\(error)"
            return text.contains("missing key password") && !text.contains("canary-value-9")
        }
        #expect { try TypedCredentials.database(secret("canary-not-json-or-url")) } throws: { error in
            !"\(error)".contains("canary")
        }
    }

    @Test func valuesPrintRedacted() {
        let value = secret(#"{"password":"canary-print"}"#)
        for text in ["\(value)", String(reflecting: value), "\(value.value)"] {
            let secretCheck11 = !text.contains("canary-print")
            #expect(secretCheck11)
        }
    }
}
