#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    writeAll(text, to: 2)
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
