#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Signal numbers by name (`HUP`, `SIGHUP`, `hup`): what a hook or `vigil exec --signal` may send.
package enum SignalName {
    package static let known: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "TERM": SIGTERM, "USR1": SIGUSR1, "USR2": SIGUSR2,
        "WINCH": SIGWINCH, "CONT": SIGCONT, "KILL": SIGKILL,
    ]

    package static func parse(_ text: String) -> Int32? {
        let name = text.uppercased()
        return known[name.hasPrefix("SIG") ? String(name.dropFirst(3)) : name]
    }
}
