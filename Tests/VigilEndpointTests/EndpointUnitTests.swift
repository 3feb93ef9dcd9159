import Testing
@testable import VigilEndpoint
import VigilSecrets

/// The endpoint's checks that need no server: the allow-list, the token
/// compare and the agent's parameter rules.
struct AllowListTests {
    let list = AllowList(["vigil/prod/*", "app/db", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-AbCdEf"])

    @Test func namesPrefixesAndARNsAsGiven() {
        #expect(list.allows("vigil/prod/database/credentials"))
        #expect(list.allows("app/db"))
        #expect(list.allows("arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-AbCdEf"), "an ARN entry is matched as given")
        #expect(list.allows("arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db-XyZ123"), "a name allows its ARN")
        #expect(list.allows("arn:aws:secretsmanager:eu-west-1:123456789012:secret:vigil/prod/redis"))
        #expect(!list.allows("vigil/staging/database"))
        #expect(!list.allows("app/dbx"))
        #expect(!list.allows("arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-AbCdEf"))
    }

    /// A partial-ARN lookalike passes the first check, not the check of what AWS named.
    @Test func whatAWSNamedIsCheckedAsWritten() {
        #expect(list.allows("arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db-admins"))
        #expect(!list.allowsName("app/db-admins"))
        #expect(list.allowsName("app/db"))
        #expect(list.allowsName("vigil/prod/anything"))
    }
}

struct EndpointTokenTests {
    @Test func onlyTheWholeTokenMatches() throws {
        let token = String(repeating: "t", count: 300) + "end"
        let checker = try EndpointToken(file: nil, variables: ["T"], environment: ["T": token])
        #expect(checker.matches(token))
        #expect(!checker.matches(String(token.dropLast())))
        #expect(!checker.matches(String(token.prefix(token.utf8.count - 256))), "lengths 256 apart once compared equal")
        #expect(!checker.matches(token + "x"))
        #expect(!checker.matches(""))
    }

    @Test func noSourceNamesTheVariables() {
        #expect(throws: EndpointToken.Missing.self) { try EndpointToken(file: nil, variables: ["A", "B"], environment: ["A": ""]) }
        let missing = try? EndpointToken(file: nil, variables: ["A", "B"], environment: [:])
        #expect(missing == nil)
        #expect(EndpointToken.Missing(variables: ["A", "B"], file: nil).description.contains("A, B"))
    }

    /// A missing token file is named, with the command that makes it (not "set endpoint.token_file", which is set).
    @Test func aMissingFileIsNamedWithTheCommandThatMakesIt() {
        #expect { try EndpointToken(file: "/nonexistent/vigil/token", variables: ["A"], environment: [:]) } throws: { error in
            let text = "\(error)"
            return text.contains("token file /nonexistent/vigil/token gives no token") && text.contains("vigil token init --file /nonexistent/vigil/token")
                && !text.contains("set endpoint.token_file")
        }
    }
}

struct ReadRequestTests {
    @Test func theAgentsParameterRules() throws {
        let parsed = try ReadRequest.parse(id: "x", query: ["secretId": "x", "versionStage": "AWSPREVIOUS", "refreshNow": "TRUE"],
                                           idParameter: "secretId").get()
        #expect(parsed.query.versionStage == "AWSPREVIOUS" && parsed.refreshNow)
        #expect(try ReadRequest.parse(id: "x", query: ["versionStage": "AWSCURRENT"], idParameter: nil).get().query.versionStage == nil,
                "AWSCURRENT by name is the default read")
        #expect(throws: ReadRequest.Refusal.missingID) { try ReadRequest.parse(id: "", query: ["secretId": ""], idParameter: "secretId").get() }
        #expect(throws: ReadRequest.Refusal.missingPathID) { try ReadRequest.parse(id: "", query: [:], idParameter: nil).get() }
        #expect(throws: ReadRequest.Refusal.unknownParameter("a")) {
            try ReadRequest.parse(id: "x", query: ["b": "", "a": ""], idParameter: nil).get()
        }
        #expect(throws: ReadRequest.Refusal.badRefresh) { try ReadRequest.parse(id: "x", query: ["refreshNow": "yes"], idParameter: nil).get() }
        #expect(throws: ReadRequest.Refusal.tooLong) {
            try ReadRequest.parse(id: String(repeating: "a", count: 2049), query: [:], idParameter: nil).get()
        }
    }

    /// `/systemsmanager/parameters/get`: a name, a numeric version or a label (not both), decrypted or not (two entries).
    @Test func theParameterStoreRules() throws {
        let read = try ReadRequest.parseParameter(["name": "/app/db", "version": "3", "withDecryption": "TRUE"]).get()
        #expect(read.query == SecretQuery(secretID: "/app/db", versionID: "3", store: .parameterStore(decrypt: true)))
        #expect(try ReadRequest.parseParameter(["name": "/app/db", "label": "prod"]).get().query
                == SecretQuery(secretID: "/app/db", versionStage: "prod", store: .parameterStore(decrypt: false)))
        #expect(try ReadRequest.parseParameter(["name": "n", "version": "", "label": ""]).get().query.versionID == nil, "empty is absent")
        #expect(throws: ReadRequest.Refusal.missingName) { try ReadRequest.parseParameter(["name": ""]).get() }
        #expect(throws: ReadRequest.Refusal.badSelector) { try ReadRequest.parseParameter(["name": "n", "version": "-1"]).get() }
        #expect(throws: ReadRequest.Refusal.badSelector) { try ReadRequest.parseParameter(["name": "n", "version": "1", "label": "l"]).get() }
        #expect(throws: ReadRequest.Refusal.badDecryption) { try ReadRequest.parseParameter(["name": "n", "withDecryption": "1"]).get() }
        #expect(throws: ReadRequest.Refusal.unknownParameter("secretId")) { try ReadRequest.parseParameter(["name": "n", "secretId": "x"]).get() }
        #expect(throws: ReadRequest.Refusal.secretReference, "secrets go by endpoint.allow") {
            try ReadRequest.parseParameter(["name": "/aws/reference/secretsmanager/app/db"]).get()
        }
        #expect(throws: ReadRequest.Refusal.secretReference, "by ARN too") {
            try ReadRequest.parseParameter(["name": "arn:aws:ssm:us-east-1:123456789012:parameter/aws/reference/secretsmanager/app/db"]).get()
        }
    }

    /// The Lambda extension's clients (middy) send withDecryption; only on its path, only true or false.
    @Test func jsonKeyOnBothFormsAndWithDecryptionOnTheLambdaExtensionsPath() throws {
        let lambda = try ReadRequest.parse(id: "x", query: ["secretId": "x", "withDecryption": "true", "jsonKey": "db.password"],
                                           idParameter: "secretId").get()
        #expect(lambda.jsonKey == "db.password")
        #expect(try ReadRequest.parse(id: "x", query: ["jsonKey": "password"], idParameter: nil).get().jsonKey == "password")
        #expect(try ReadRequest.parse(id: "x", query: ["jsonKey": ""], idParameter: nil).get().jsonKey == nil)
        #expect(throws: ReadRequest.Refusal.unknownParameter("withDecryption")) {
            try ReadRequest.parse(id: "x", query: ["withDecryption": "true"], idParameter: nil).get()
        }
        #expect(throws: ReadRequest.Refusal.badDecryption) {
            try ReadRequest.parse(id: "x", query: ["secretId": "x", "withDecryption": "yes"], idParameter: "secretId").get()
        }
    }

    @Test func createdDateIsEpochSecondsAsTheAgentWritesThem() {
        #expect(SecretJSON.epochText(1_569_534_789.046) == "1569534789.046")
        #expect(SecretJSON.epochText(1_569_534_789) == "1569534789")
    }
}

struct JSONKeyTests {
    let secret = #"{"password":"canary-p\u00e9","port":5432,"db":{"password":"canary-nested","tags":["a"]},"a.b":"dotted","ok":true}"#

    @Test func aKeyIsItsTextNestedPathsAndDottedKeysAreFound() {
        #expect(JSONKey.value(of: "password", in: secret, binary: false) == .success("canary-p\u{e9}"))
        #expect(JSONKey.value(of: "port", in: secret, binary: false) == .success("5432"))
        #expect(JSONKey.value(of: "db.password", in: secret, binary: false) == .success("canary-nested"))
        #expect(JSONKey.value(of: "db.tags", in: secret, binary: false) == .success(#"["a"]"#))
        #expect(JSONKey.value(of: "a.b", in: secret, binary: false) == .success("dotted"))
        #expect(JSONKey.value(of: "ok", in: secret, binary: false) == .success("true"))
    }

    @Test func refusalsNameTheKeyAndNeverAValue() {
        #expect(JSONKey.value(of: "db.user", in: secret, binary: false) == .failure(.missing("db.user")))
        #expect(JSONKey.value(of: "password.x", in: secret, binary: false) == .failure(.missing("password.x")))
        #expect(JSONKey.value(of: "password", in: "canary-plain", binary: false) == .failure(.notAnObject))
        #expect(JSONKey.value(of: "password", in: "e30=", binary: true) == .failure(.binary))
        let body = JSONKey.response(.missing("db.user"), secret: "app/db").body
        #expect(String(decoding: body, as: UTF8.self).contains("secret app/db has no key db.user") && !String(decoding: body, as: UTF8.self).contains("canary"))
    }
}
