#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

// Whole-file reads and unbuffered writes over POSIX descriptors.

/// Writes all of `text` to the file descriptor, unbuffered, retrying short
/// writes and EINTR; false on any other error.
@discardableResult
package func writeAll(_ text: String, to fd: Int32) -> Bool {
    var text = text
    return text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }
}

/// Standard error, unbuffered: messages appear even if the process exits
/// right after.
package func writeStandardError(_ text: String) {
    writeStream(text, to: 2)
}

/// Set once a line could not be written: later ones do not wait.
private let streamBlocked = Atomic<Bool>(false)

/// Writes a log line or EMF document to standard output or error without
/// ever blocking for long: a stream nobody reads (Docker's blocking log
/// driver while its sink is down, a full pipe) once held SIGTERM for good.
/// Each chunk of at most PIPE_BUF (4096) bytes, which a pipe with a free
/// slot takes whole, waits up to a second for the stream; once a line was
/// dropped, lines wait no more until the stream takes one again. Returns
/// false when the line (or its rest) was dropped.
@discardableResult
package func writeStream(_ text: String, to fd: Int32) -> Bool {
    var text = text
    let written = text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let waited = poll(&ready, 1, streamBlocked.load(ordering: .relaxed) ? 0 : 1000)
            if waited < 0 && errno == EINTR { continue }
            guard waited > 0, ready.revents & Int16(POLLOUT) != 0 else { return false }
            let count = write(fd, bytes.baseAddress! + offset, min(bytes.count - offset, 4096))
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return false }
            offset += count
        }
        return true
    }
    streamBlocked.store(!written, ordering: .relaxed)
    return written
}

/// Appends `text` to the file at `path`, creating it (0644) if needed. One
/// `write` on an `O_APPEND` descriptor, so lines from several writers do not
/// interleave.
@discardableResult
package func append(_ text: String, toFile path: String) -> Bool {
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return writeAll(text, to: fd)
}

/// Why a file could not be read: the system's words for `errno`, or a size
/// limit.
package struct FileReadError: Error, CustomStringConvertible {
    package let description: String
}

/// The whole file at `path`, at most `limit` bytes: a configuration named
/// by mistake as `/dev/zero` or a log file gets an error, not all memory.
package func readFile(_ path: String, limit: Int) throws(FileReadError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileReadError(description: String(cString: strerror(errno))) }
    defer { close(fd) }
    // Room for one byte past the limit, so a file of exactly `limit` bytes
    // reads in one go and a larger one is caught; grown by doubling.
    var bytes = [UInt8](repeating: 0, count: min(limit, 64 * 1024) + 1)
    var length = 0
    while true {
        if length == bytes.count { bytes += repeatElement(0, count: min(bytes.count, limit + 1 - bytes.count)) }
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + length, $0.count - length) }
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else { throw FileReadError(description: String(cString: strerror(errno))) }
        if count == 0 {
            bytes.removeLast(bytes.count - length)
            return bytes
        }
        length += count
        if length > limit { throw FileReadError(description: "larger than \(limit / 1024) KB") }
    }
}

/// The file at `path` as UTF-8 text, at most `limit` bytes.
package func readTextFile(_ path: String, limit: Int) throws(FileReadError) -> String {
    guard let text = String(validating: try readFile(path, limit: limit), as: UTF8.self) else {
        throw FileReadError(description: "not UTF-8 text")
    }
    return text
}

/// What tells a file changed without reading it: inode (a rename or an
/// atomic symlink swap, as cert-manager and kubelet do), size and mtime.
/// nil when the file cannot be stat'ed.
package func fileStamp(_ path: String) -> [Int]? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return [Int(info.st_ino), Int(info.st_size), info.st_mtim.tv_sec, info.st_mtim.tv_nsec]
}
