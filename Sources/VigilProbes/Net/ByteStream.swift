import VigilResults

/// A connected byte stream whose every operation is bounded by a deadline:
/// plain TCP, or TLS on top of it.
protocol ByteStream: AnyObject {
    /// The socket underneath, for watching between runs (never read or written through it).
    var descriptor: Int32 { get }
    func write(_ bytes: [UInt8], deadline: Deadline) throws(ProbeFailure)
    /// Appends whatever arrives first (at least one byte) before the deadline.
    func read(into buffer: inout [UInt8], deadline: Deadline) throws(ProbeFailure)
    /// The peer's certificates as the handshake met them; nil over plain TCP.
    var certificate: CertificateExpiry? { get }
}

extension ByteStream {
    /// Reads into `buffer` until `parse` finds a whole reply at its front
    /// (the reply and the bytes it took), within `limit` bytes and the
    /// deadline: a peer that keeps sending is cut off either way.
    func readReply<Reply>(into buffer: inout [UInt8], limit: Int, deadline: Deadline,
                          _ parse: ([UInt8]) throws(ProbeFailure) -> (Reply, consumed: Int)?) throws(ProbeFailure) -> Reply {
        while true {
            if let (reply, consumed) = try parse(buffer) {
                buffer.removeFirst(consumed)
                return reply
            }
            guard buffer.count < limit else { throw ProbeFailure(reason: .protocol, detail: "reply larger than \(limit) bytes") }
            guard !deadline.hasPassed else { throw ProbeFailure(reason: .timeout, detail: "reply not complete in time") }
            try read(into: &buffer, deadline: deadline)
        }
    }
}
