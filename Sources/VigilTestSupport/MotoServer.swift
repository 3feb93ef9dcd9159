import Foundation

/// A private moto_server for one test, set up like the shared one by
/// `scripts/moto-setup.py` (IAM users, role, seeded secrets, signature
/// checking on). Its keys are read back from the file the script writes.
public final class MotoServer {
    private let process: ChildProcess
    private let folder: URL
    public let url: String
    public let exports: [String: String]

    public init(noAuthAllowance: Int = 0) throws {
        let port = try Blackhole.freePort()
        url = "http://127.0.0.1:\(port)"
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-moto-\(port)-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        process = try ChildProcess(["moto_server", "-H", "127.0.0.1", "-p", String(port)], capture: false)
        let probe = url + "/moto-api/data.json"
        let ready = VigilProcess.waitUntil(timeout: 60) {  // a cold moto_server on a loaded machine
            (try? CurlClient().request(probe, timeoutSeconds: 1).status) == 200
        }
        guard ready else { throw CurlClient.Failure(code: -1, description: "moto_server did not start") }
        let keys = folder.appendingPathComponent("keys.env")
        let setupStatus = runCommand(["python3", VigilProcess.packageRoot + "/scripts/moto-setup.py", url, keys.path, "vigil", "dev",
                                      #"{"username":"u","password":"canary-private-moto","host":"127.0.0.1","port":5432,"dbname":"d"}"#,
                                      #"{"host":"127.0.0.1","port":6379,"password":"canary-private-moto"}"#, String(noAuthAllowance)])
        let text = (try? String(contentsOf: keys, encoding: .utf8)) ?? ""
        exports = Dictionary(text.split(whereSeparator: \.isWhitespace).compactMap { word -> (String, String)? in
            let parts = word.split(separator: "=", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }) { $1 }
        guard setupStatus == 0, exports["VIGIL_TEST_ROLE_ARN"] != nil else {
            throw CurlClient.Failure(code: -1, description: "moto-setup.py failed")
        }
    }

    deinit { try? FileManager.default.removeItem(at: folder) }  // the server itself: ChildProcess kills it
}
