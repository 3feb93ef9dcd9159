#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts `body` on a new, detached POSIX thread named `name`.
///
/// Probes, credential refreshes and the CloudWatch loops block in C calls
/// (libpq, sockets, libcurl) for up to their timeouts, so they get threads of
/// their own rather than Swift's cooperative pool or Dispatch's. This is
/// `Foundation.Thread.detachNewThread` without Foundation, which would cost
/// the binary several megabytes of resident memory (docs/performance.md).
/// Returns false, and `body` never runs, when the system refuses a thread
/// (its thread or memory limit): the caller reports that instead of the
/// process trapping, since a dead dependency must never crash Vigil.
@discardableResult
package func startDetachedThread(name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
    let box = Unmanaged.passRetained(ThreadBody(name: name, body: body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    #if canImport(Glibc)
    var thread = pthread_t()
    #else
    var thread: pthread_t?
    #endif
    let status = pthread_create(&thread, &attributes, { raw in
        let work = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
        nameCurrentThread(work.name)
        work.body()
        return nil
    }, box)
    guard status == 0 else {
        Unmanaged<ThreadBody>.fromOpaque(box).release()
        return false
    }
    return true
}

/// Names the thread for `top -H`, `ps -L` and gdb. Glibc's
/// `pthread_setname_np` is hidden from Swift behind `_GNU_SOURCE`; the kernel
/// takes the same name (at most 15 bytes) through procfs.
private func nameCurrentThread(_ name: String) {
    #if os(Linux)
    let fd = open("/proc/thread-self/comm", O_WRONLY)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    #endif
}

private final class ThreadBody: Sendable {
    let name: String
    let body: @Sendable () -> Void
    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}

/// Blocks SIGPIPE on the calling thread. A peer that resets a connection
/// makes the next write raise SIGPIPE, whose default action ends the
/// process; OpenSSL and libpq write with plain `write`/`send`, which no flag
/// of ours reaches. Blocked, the signal stays pending on this thread and the
/// write fails with EPIPE, which the caller reports.
package func blockBrokenPipeSignal() {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &set, nil)
}
