import Glibc

/// Signal handling without async signal handlers: the signals are blocked
/// in every thread (the mask is inherited by threads started afterwards)
/// and received synchronously by `wait()`. SIGHUP reloads: its default
/// action would end Vigil with a status systemd counts as clean, so
/// `Restart=on-failure` would never bring it back. (SIGPIPE, the other
/// signal systemd counts as clean, is ignored at start.)
struct ControlSignals {
    enum Received: String {
        case hangUp = "SIGHUP", interrupt = "SIGINT", terminate = "SIGTERM"
    }

    private var set = sigset_t()

    /// Blocks SIGHUP, SIGINT and SIGTERM; create before starting any thread.
    init() {
        sigemptyset(&set)
        for signal in [SIGHUP, SIGINT, SIGTERM] { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Blocks until one of the signals arrives.
    func wait() -> Received {
        var set = self.set
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        switch received {
        case SIGHUP: return .hangUp
        case SIGTERM: return .terminate
        default: return .interrupt
        }
    }
}
