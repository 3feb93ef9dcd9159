import ArgumentParser
import Glibc
import VigilAWS

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "The secrets endpoint's token.", subcommands: [TokenInit.self])
}

/// Makes the token applications send to the endpoint, as the AWS agent's
/// installer does: 32 random bytes, readable by the service and one reader
/// group. The unit runs it before each start (`ExecStartPre=+`), so it keeps
/// a token that exists: applications holding it go on working.
struct TokenInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the endpoint's token file if it is missing (64 hex digits of 32 random bytes), mode 0640, owned by the "
            + "owner of its directory (Vigil's user under systemd's RuntimeDirectory) and --group; an existing token is kept, "
            + "its owner, group and mode set again.")

    @Option(help: "The token file (endpoint.token_file).")
    var file = "/run/vigil/token"

    @Option(help: "The group whose members may read the token: the applications' (a name or a number).")
    var group: String

    @Flag(help: "Replace an existing token (applications must read the new one).")
    var rotate = false

    func run() throws {
        guard let gid = Self.groupID(group) else {
            throw reportFailure("group \(group) does not exist: create it (groupadd --system \(group)) and add the applications' users to it",
                                exitCode: exitConfigError)
        }
        let directory = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        var folder = stat()
        guard stat(directory.isEmpty ? "." : directory, &folder) == 0 else {
            throw reportFailure("cannot use \(file): its directory \(directory) is missing (systemd's RuntimeDirectory=vigil makes /run/vigil)")
        }
        if rotate || access(file, F_OK) != 0 {
            try write(owner: folder.st_uid, group: gid)
            print("created \(file) (mode 0640, group \(group))")
        } else {
            guard chown(file, folder.st_uid, gid) == 0, chmod(file, 0o640) == 0 else {
                throw reportFailure("cannot set the owner, group or mode of \(file): \(String(cString: strerror(errno)))")
            }
            print("kept \(file) (mode 0640, group \(group))")
        }
    }

    /// Written whole under a temporary name, then renamed: a reader never sees half a token.
    private func write(owner: uid_t, group: gid_t) throws {
        let token = Crypto.hex((0..<32).map { _ in UInt8.random(in: .min ... .max) })  // the system's CSPRNG (getrandom)
        let temporary = file + ".new"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw reportFailure("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(token.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let settled = written == bytes.count && fchown(descriptor, owner, group) == 0 && fchmod(descriptor, 0o640) == 0
            && fsync(descriptor) == 0
        let error = errno
        close(descriptor)
        guard settled, rename(temporary, file) == 0 else {
            unlink(temporary)
            throw reportFailure("cannot write \(file): \(String(cString: strerror(settled ? errno : error)))")
        }
    }

    private static func groupID(_ name: String) -> gid_t? {
        if let number = gid_t(name) { return number }
        return getgrnam(name).map { $0.pointee.gr_gid }
    }
}
