import Synchronization
import VigilPlatform
#if canImport(Glibc)
import Glibc
#endif

/// Watches the connections probes keep between runs, all on one thread in
/// one `poll`. A server that shuts down, restarts, fails over or kills the
/// connection closes it (PostgreSQL sends `57P01 admin_shutdown` first, Redis
/// just closes), and the kernel knows at once: an event runs that probe now
/// instead of at its next turn, up to an interval later. A socket is
/// watched only between runs and, once it fired, only again after the next
/// run: one event, one run. No byte is read or written here.
final class ConnectionWatcher: Sendable {
    /// The sockets to watch, by probe name, with the token of the loop that
    /// armed it: a loop a reload replaced can neither arm nor disarm for
    /// its successor.
    private let armed = Locked<[String: (token: Int, socket: Int32)]>([:])
    /// Wakes `poll` when the watched set changes (one byte at most in flight).
    private let wakeRead: Int32, wakeWrite: Int32
    private let poked = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let onEvent: @Sendable (String) -> Void

    /// Nil when the system gives no pipe or thread: probes then keep their schedule alone.
    init?(onEvent: @escaping @Sendable (String) -> Void) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return nil }
        (wakeRead, wakeWrite) = (ends[0], ends[1])
        self.onEvent = onEvent
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        guard startDetachedThread(name: "conn-watch", { [self] in watch() }) else { return nil }
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// Watches `socket` for `probe` (nil: nothing to watch) until it fires
    /// or is disarmed, if `isCurrent` (checked under the watcher's lock:
    /// the loop of `token` still runs the probe).
    func arm(_ probe: String, token: Int, socket: Int32?, isCurrent: () -> Bool) {
        armed.withLock { armed in
            guard isCurrent() else { return }
            armed[probe] = socket.map { (token, $0) }
        }
        poke()
    }

    /// Stops watching `probe`'s socket (a run is about to use it, or the
    /// loop ends), unless another loop armed it.
    func disarm(_ probe: String, token: Int? = nil) {
        armed.withLock { armed in
            guard token == nil || armed[probe]?.token == token else { return }
            armed.removeValue(forKey: probe)
        }
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
        poke()
    }

    private func poke() {
        guard !poked.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func watch() {
        var drain = [UInt8](repeating: 0, count: 8)
        while !stopped.load(ordering: .acquiring) {
            let watched = armed.withLock { $0 }.map { (probe: $0.key, token: $0.value.token, socket: $0.value.socket) }
            var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
                + watched.map { pollfd(fd: $0.socket, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), -1) > 0 else {
                if errno != EINTR { usleep(100_000) }  // never a busy loop on a lasting error
                continue
            }
            if fds[0].revents != 0 {
                _ = read(wakeRead, &drain, drain.count)
                // After the read: a poke from now on writes again; the set is re-read below.
                poked.store(false, ordering: .releasing)
            }
            for (index, entry) in watched.enumerated() where fds[index + 1].revents != 0 {
                // Still the same arming: a run may have started (and taken the socket) meanwhile.
                let fired = armed.withLock { armed in
                    guard let now = armed[entry.probe], now.token == entry.token, now.socket == entry.socket else { return false }
                    armed[entry.probe] = nil
                    return true
                }
                if fired { onEvent(entry.probe) }
            }
        }
    }
}
