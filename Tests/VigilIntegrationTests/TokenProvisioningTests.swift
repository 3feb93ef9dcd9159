import Foundation
import Testing
import VigilTestSupport

/// deploy/vigil.service's token provisioning, run as its commands (no
/// systemd runs here): `RuntimeDirectory` as systemd makes it for a dynamic
/// user, then `ExecStartPre=-+` as root. The token is the service's and
/// group vigil-token's (mode 0640): an application in the group reads it,
/// another user does not, and a restart keeps it.
@Suite(.enabled(if: getuid() == 0, "runs commands as other users: needs root, as CI has"))
struct TokenProvisioningTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let serviceUser: UInt32 = 61_870, applicationUser: UInt32 = 61_871, otherUser: UInt32 = 61_872

    /// `cat` as `uid`, with `groups` as its supplementary groups.
    private func read(_ path: String, as uid: UInt32, groups: [UInt32]) throws -> (status: Int32, output: String) {
        let supplementary = groups.isEmpty ? ["--clear-groups"] : ["--groups=" + groups.map(String.init).joined(separator: ",")]
        return try ChildProcess.run(["setpriv", "--reuid=\(uid)", "--regid=\(uid)"] + supplementary + ["cat", path])
    }

    @Test func theUnitMakesAToken0640ForItsGroupAndKeepsIt() throws {
        let unit = try String(contentsOf: Self.root.appendingPathComponent("deploy/vigil.service"), encoding: .utf8)
        let lines = unit.split(separator: "\n").map(String.init)
        let pre = try #require(lines.first { $0.hasPrefix("ExecStartPre=") && $0.contains(" token init ") })
        #expect(lines.contains("RuntimeDirectory=vigil") && lines.contains("RuntimeDirectoryMode=0755"))
        let group = try #require(pre.split(separator: " ").drop { $0 != "--group" }.dropFirst().first.map(String.init))
        if try ChildProcess.run(["getent", "group", group]).status != 0 {
            #expect(try ChildProcess.run(["groupadd", "--system", group]).status == 0)  // the install step docs/deployment.md gives
        }
        let gid = try #require(UInt32(try ChildProcess.run(["getent", "group", group]).output.split(separator: ":")[2]))

        // /run/vigil as systemd makes it for the dynamic user, under a scratch root.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-token-\(UUID().uuidString.prefix(8))")
        let runtime = scratch.appendingPathComponent("run/vigil")
        try FileManager.default.createDirectory(at: runtime, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(at: scratch) }
        try FileManager.default.setAttributes([.ownerAccountID: serviceUser, .posixPermissions: 0o755], ofItemAtPath: runtime.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scratch.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scratch.appendingPathComponent("run").path)

        // "-+": as root; the installed path and /run are the only substitutions.
        let command = pre.dropFirst("ExecStartPre=".count).drop { "-+@!:".contains($0) }
            .replacingOccurrences(of: "/usr/local/bin/vigil", with: VigilProcess.binary)
            .replacingOccurrences(of: "/run/vigil", with: runtime.path)
        let first = try ChildProcess.run(command.split(separator: " ").map(String.init))
        #expect(first.status == 0 && first.output.contains("created"), "\(first.output)")
        let token = runtime.appendingPathComponent("token").path
        let attributes = try FileManager.default.attributesOfItem(atPath: token)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o640)
        #expect((attributes[.ownerAccountID] as? NSNumber)?.uint32Value == serviceUser, "the service's own file")
        #expect((attributes[.groupOwnerAccountID] as? NSNumber)?.uint32Value == gid)
        let value = try String(contentsOfFile: token, encoding: .utf8)
        #expect(value.count == 64 && value.allSatisfy(\.isHexDigit), "32 random bytes as hex")

        #expect(try read(token, as: serviceUser, groups: []).output == value, "Vigil reads its token")
        #expect(try read(token, as: applicationUser, groups: [gid]).output == value, "an application in the group reads it")
        let other = try read(token, as: otherUser, groups: [])
        #expect(other.status != 0 && other.output.contains("Permission denied"), "another user read the token")

        // A restart runs it again: the token applications hold stays valid.
        let again = try ChildProcess.run(command.split(separator: " ").map(String.init))
        #expect(again.status == 0 && again.output.contains("kept"))
        #expect(try String(contentsOfFile: token, encoding: .utf8) == value)
        #expect(!first.output.contains(value) && !again.output.contains(value), "the token was printed")
    }
}
