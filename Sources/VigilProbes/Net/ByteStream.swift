/// A connected byte stream whose every operation is bounded by a deadline:
/// plain TCP, or TLS on top of it.
protocol ByteStream: AnyObject {
    /// The socket underneath, for watching between runs (never read or written through it).
    var descriptor: Int32 { get }
    func write(_ bytes: [UInt8], deadline: Deadline) throws(ProbeFailure)
    /// Appends whatever arrives first (at least one byte) before the deadline.
    func read(into buffer: inout [UInt8], deadline: Deadline) throws(ProbeFailure)
}
