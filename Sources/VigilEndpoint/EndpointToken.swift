#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VigilPlatform

/// The token applications send with each request (the AWS agent's SSRF
/// token): from `endpoint.token_file`, else the first set of the token
/// variables, where `file://PATH` names a file. A file is re-read when it
/// changes (checked every second off the request path), so a rotated token
/// needs no restart; the agent reads it once at start.
public final class EndpointToken: Sendable {
    public struct Missing: Error, CustomStringConvertible {
        public var variables: [String]
        /// The file named (endpoint.token_file or file://), and why it gave no token.
        public var file: (path: String, why: String)?
        public var description: String {
            if let file {
                return "the secrets endpoint's token file \(file.path) gives no token (\(file.why)): make it with "
                    + "`vigil token init --file \(file.path) --group GROUP`, GROUP being the applications' (deploy/vigil.service does before each start)"
            }
            return "the secrets endpoint needs a token: set endpoint.token_file or one of \(variables.joined(separator: ", "))"
                + " (a value, or file://PATH); `vigil token init` makes a token file"
        }
    }

    /// The file the token is read from, if any.
    public let file: String?
    private let value: Locked<(token: [UInt8], stamp: [Int]?)>

    public init(file configured: String?, variables: [String], environment: [String: String]) throws(Missing) {
        let set = variables.lazy.compactMap { environment[$0] }.first { !$0.isEmpty }
        file = configured ?? set.flatMap { $0.hasPrefix("file://") ? String($0.dropFirst("file://".count)) : nil }
        var token = Array((set ?? "").utf8)
        if let file {
            do throws(FileReadError) {
                token = try Self.read(file)
            } catch {
                throw Missing(variables: variables, file: (file, "\(error)"))
            }
        }
        guard !token.isEmpty else { throw Missing(variables: variables, file: file.map { ($0, "it is empty") }) }
        value = Locked((token, file.flatMap(fileStamp)))
    }

    /// The token, for a client that sends it (`vigil exec` reading through the endpoint).
    public var current: SecretString { SecretString(String(decoding: value.withLock { $0.token }, as: UTF8.self)) }

    /// True when `candidate` is the token: every byte of the token is
    /// compared whatever the candidate, so the time taken tells nothing but
    /// the token's length.
    public func matches(_ candidate: String) -> Bool {
        let token = value.withLock { $0.token }
        var candidate = candidate
        return candidate.withUTF8 { offered in  // no copy: this runs on every read
            var difference: UInt8 = 0
            for index in token.indices { difference |= token[index] ^ (index < offered.count ? offered[index] : 0) }
            return difference == 0 && offered.count == token.count && !token.isEmpty
        }
    }

    /// Re-reads the file when it changed; an empty or unreadable file keeps
    /// the token in use. Returns true when the token was replaced.
    @discardableResult
    public func refresh() -> Bool {
        guard let file else { return false }
        let stamp = fileStamp(file)
        guard stamp != value.withLock({ $0.stamp }) else { return false }
        guard let token = try? Self.read(file), !token.isEmpty else { return false }
        value.withLock { $0 = (token, stamp) }
        return true
    }

    /// Checks the file every second for the life of the process.
    public func watch(onChange: @escaping @Sendable () -> Void) {
        guard file != nil else { return }
        startDetachedThread(name: "endpoint-token") { [self] in
            while true {
                usleep(1_000_000)
                if refresh() { onChange() }
            }
        }
    }

    private static func read(_ path: String) throws(FileReadError) -> [UInt8] {
        Array(try readTextFile(path, limit: 4096).trimmed.utf8)
    }
}
