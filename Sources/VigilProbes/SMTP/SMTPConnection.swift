import FoundationEssentials
import VigilResults

/// An SMTP session that goes as far as a login and no further: greeting,
/// EHLO, STARTTLS, AUTH, QUIT; never MAIL, so nothing is ever sent. Every
/// call is bounded by the probe's deadline. Only reply codes leave this
/// type: a server's reply text can echo what it was sent.
final class SMTPConnection {
    /// A reply: its code and its lines' text (kept here, never reported).
    struct Reply: Equatable {
        var code: Int
        var lines: [String]
    }

    private let tcp: TCPConnection
    private var socket: any ByteStream
    private var buffer: [UInt8] = []
    /// The EHLO answer's keywords, upper-cased (`STARTTLS`, `AUTH PLAIN LOGIN`), first word first.
    private(set) var extensions: [[String]] = []
    private(set) var usesTLS = false
    /// The server's certificates (STARTTLS or implicit TLS); nil in plain text.
    var certificate: CertificateExpiry? { socket.certificate }
    /// A reply past this is cut off: EHLO answers are a few hundred bytes.
    static let maxReplyBytes = 64 * 1024

    init(host: String, port: Int, tls: SMTPProbe.TLSMode, certificate: (caFile: String?, serverName: String?), ehloName: String,
         deadline: Deadline, timer: PhaseTimer) throws(ProbeFailure) {
        tcp = try timer.time("connect") { () throws(ProbeFailure) in try TCPConnection(host: host, port: port, deadline: deadline) }
        socket = tcp
        if tls == .implicit { try startTLS(host, certificate, deadline, timer) }
        try expect(220, reply(deadline), "greeting")
        try ehlo(ehloName, deadline)
        guard tls == .starttls || tls == .starttlsIfOffered else { return }
        guard offers("STARTTLS") else {
            if tls == .starttls { throw ProbeFailure(reason: .tls, detail: "the server does not offer STARTTLS") }
            return
        }
        try send("STARTTLS", deadline)
        let answer = try reply(deadline)
        guard answer.code == 220 else { throw ProbeFailure(reason: .tls, detail: "STARTTLS refused (\(answer.code))") }
        // Bytes after the 220 were sent before TLS and would be read as if
        // inside it (the STARTTLS command injection of CVE-2011-0411).
        guard buffer.isEmpty else { throw ProbeFailure(reason: .protocol, detail: "data after the STARTTLS reply") }
        try startTLS(host, certificate, deadline, timer)
        try ehlo(ehloName, deadline)  // RFC 3207: what was learnt before TLS is forgotten
    }

    /// AUTH PLAIN or LOGIN (`mechanism` nil: PLAIN when offered, else LOGIN).
    func login(username: String, password: String, mechanism: String?, deadline: Deadline) throws(ProbeFailure) {
        let offered = extensions.first { $0.first == "AUTH" }.map { Set($0.dropFirst()) } ?? []
        guard !offered.isEmpty else {
            throw ProbeFailure(reason: .protocol, detail: "the server offers no AUTH" + (usesTLS ? "" : " (it may want TLS first)"))
        }
        let name = mechanism ?? (offered.contains("PLAIN") ? "PLAIN" : "LOGIN")
        guard offered.contains(name) else {
            throw ProbeFailure(reason: .protocol, detail: "the server does not offer AUTH \(name)" + (mechanism == nil ? " or PLAIN" : ""))
        }
        let base64 = { (text: String) in Data(text.utf8).base64EncodedString() }
        var answer: Reply
        if name == "PLAIN" {
            try send("AUTH PLAIN " + base64("\0\(username)\0\(password)"), deadline)
            answer = try reply(deadline)
        } else {
            try send("AUTH LOGIN", deadline)
            try expect(334, reply(deadline), "AUTH LOGIN")
            try send(base64(username), deadline)
            try expect(334, reply(deadline), "AUTH LOGIN user name")
            try send(base64(password), deadline)
            answer = try reply(deadline)
        }
        switch answer.code {
        case 235: return
        case 535, 534, 454: throw ProbeFailure(reason: .auth, detail: "AUTH \(name) refused (\(answer.code))")
        // 530: "must issue STARTTLS first"; 538: "encryption required for this mechanism".
        case 530, 538: throw ProbeFailure(reason: .tls, detail: "AUTH \(name) needs TLS (\(answer.code))")
        default: throw ProbeFailure(reason: .protocol, detail: "AUTH \(name): unexpected reply \(answer.code)")
        }
    }

    /// Ends the session politely; its answer does not change the run's outcome.
    func quit(deadline: Deadline) {
        try? send("QUIT", deadline)
        _ = try? reply(deadline)
    }

    private func offers(_ keyword: String) -> Bool { extensions.contains { $0.first == keyword } }

    private func ehlo(_ name: String, _ deadline: Deadline) throws(ProbeFailure) {
        try send("EHLO \(name)", deadline)
        let answer = try reply(deadline)
        try expect(250, answer, "EHLO")
        // The first line is the server's greeting name; each other line one extension.
        extensions = answer.lines.dropFirst().map { $0.uppercased().split(separator: " ").map(String.init) }
    }

    private func startTLS(_ host: String, _ certificate: (caFile: String?, serverName: String?), _ deadline: Deadline,
                          _ timer: PhaseTimer) throws(ProbeFailure) {
        socket = try timer.time("tls") { () throws(ProbeFailure) in
            try TLSStream(tcp, host: host, caFile: certificate.caFile, serverName: certificate.serverName, deadline: deadline)
        }
        usesTLS = true
    }

    private func expect(_ code: Int, _ answer: Reply, _ step: String) throws(ProbeFailure) {
        guard answer.code != code else { return }
        throw ProbeFailure(reason: .protocol, detail: "\(step): unexpected reply \(answer.code), wanted \(code)")
    }

    private func send(_ line: String, _ deadline: Deadline) throws(ProbeFailure) {
        try socket.write(Array((line + "\r\n").utf8), deadline: deadline)
    }

    private func reply(_ deadline: Deadline) throws(ProbeFailure) -> Reply {
        try socket.readReply(into: &buffer, limit: Self.maxReplyBytes, deadline: deadline) { (bytes) throws(ProbeFailure) in
            switch Self.parse(bytes) {
            case .reply(let reply, let consumed): (reply, consumed)
            case .needMore: nil
            case .invalid: throw ProbeFailure(reason: .protocol, detail: "not an SMTP reply")
            }
        }
    }

    enum Parsed: Equatable {
        case reply(Reply, consumed: Int)
        case needMore
        case invalid
    }

    /// One reply from the front of `bytes`: lines `NNN-text` then `NNN text`
    /// (or `NNN`), one code throughout (RFC 5321 §4.2).
    static func parse(_ bytes: [UInt8]) -> Parsed {
        var lines: [String] = [], code: Int?, start = 0
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var line = bytes[start..<newline]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            start = newline + 1
            guard line.count >= 3, let lineCode = Int(String(decoding: line.prefix(3), as: UTF8.self)), (200...599).contains(lineCode),
                  code == nil || code == lineCode else { return .invalid }
            code = lineCode
            let separator = line.dropFirst(3).first
            guard separator == nil || separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") else { return .invalid }
            lines.append(String(decoding: line.dropFirst(4), as: UTF8.self))
            if separator != UInt8(ascii: "-") { return .reply(Reply(code: lineCode, lines: lines), consumed: start) }
        }
        return .needMore
    }
}
