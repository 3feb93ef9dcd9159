import Foundation
import VigilTestSupport

struct PKIError: Error { var output: String }

/// A throwaway PKI made with the openssl CLI (P-256 keys: fast to make).
struct TestPKI {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-pki-\(UUID().uuidString.prefix(8))")

    init() throws { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    private func openssl(_ script: String) throws {
        let run = try ChildProcess.run(["bash", "-c", "cd '\(folder.path)' && \(script)"])
        guard run.status == 0 else { throw PKIError(output: run.output) }
    }

    private let newKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

    func authority(_ name: String, days: Int = 2) throws {
        try openssl("openssl req -x509 \(newKey) -days \(days) -subj /CN=\(name) -keyout \(name).key -out \(name).pem 2>&1")
    }

    /// A certificate for 127.0.0.1 signed by `authority`, for `usage`.
    func leaf(_ name: String, signedBy authority: String, serial: Int, usage: String = "serverAuth,clientAuth", days: Int = 2) throws {
        try openssl("""
            openssl req -new \(newKey) -subj /CN=\(name) -keyout \(name).key -out \(name).csr 2>&1 && \
            printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=\(usage)\\n' > \(name).ext && \
            openssl x509 -req -in \(name).csr -CA \(authority).pem -CAkey \(authority).key -set_serial \(serial) \
              -days \(days) -extfile \(name).ext -out \(name).pem 2>&1
            """)
    }

    /// Moves `source`'s files (`key`, `pem`) over `target`'s, by atomic renames.
    func replace(_ target: String, with source: String, files: [String]) throws {
        try openssl(files.map { "cp \(source).\($0) \(target).\($0).new && mv \(target).\($0).new \(target).\($0)" }
            .joined(separator: " && "))
    }

    /// `openssl x509 -enddate` of a PEM file (its first certificate), as Unix time.
    func endDate(_ file: String) -> Double? {
        let run = try? ChildProcess.run(["bash", "-c", "date -d \"$(openssl x509 -enddate -noout -in '\(file)' | cut -d= -f2)\" +%s"])
        return run.flatMap { Double($0.output.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// The serial number of the certificate `host` presents, in hex.
    func servedSerial(_ host: String) -> String? {
        let run = try? ChildProcess.run(["bash", "-c",
            "openssl s_client -connect \(host) </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null"])
        return run?.output.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// The HTTP status curl got ("000" when the handshake failed).
    func status(_ url: String, _ options: [String]) -> String {
        let run = try? ChildProcess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5"] + options + [url])
        return run?.output ?? "?"
    }
}
