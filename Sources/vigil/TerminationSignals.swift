import Glibc

/// SIGINT/SIGTERM handling without async signal handlers: the signals are
/// blocked in every thread (the mask is inherited by threads started
/// afterwards) and received synchronously by `wait()`.
struct TerminationSignals {
    private var set = sigset_t()

    /// Blocks SIGINT and SIGTERM; create before starting any thread.
    init() {
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Blocks until SIGINT or SIGTERM arrives; returns its name.
    func wait() -> String {
        var set = self.set
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received == SIGTERM ? "SIGTERM" : "SIGINT"
    }
}
