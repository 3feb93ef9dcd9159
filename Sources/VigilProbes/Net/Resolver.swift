import Glibc
import Synchronization
import VigilPlatform

/// Host name lookup bounded by a deadline. `getaddrinfo` blocks for as long
/// as the resolver takes (5 s per server and attempt by default, longer with
/// search domains); the lookup runs on a thread of its own and the probe
/// stops waiting at its deadline. Literal addresses need no lookup.
enum Resolver {
    /// One resolved address, ready for `socket` and `connect`.
    struct Address: Sendable {
        var family: Int32
        var storage: sockaddr_storage
        var length: socklen_t

        /// The numeric form (`127.0.0.1`, `::1`), for libpq's `hostaddr`.
        var numeric: String {
            var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            var copy = storage
            let ok = withUnsafePointer(to: &copy) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    getnameinfo($0, length, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0
                }
            }
            return ok ? String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        }
    }

    static func resolve(_ host: String, port: Int, deadline: Deadline) throws(ProbeFailure) -> Address {
        let lookup = Lookup()
        startDetachedThread(name: "dns") { lookup.finish(lookupNow(host, port: port)) }
        switch lookup.wait(until: deadline) {
        case .some(.some(let address)): return address
        case .some(.none): throw ProbeFailure(reason: .dns, detail: "cannot resolve \(host)")
        case .none: throw ProbeFailure(reason: .timeout, detail: "resolving \(host) did not complete in time")
        }
    }

    private static func lookupNow(_ host: String, port: Int) -> Address? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        var storage = sockaddr_storage()
        let length = min(first.pointee.ai_addrlen, socklen_t(MemoryLayout<sockaddr_storage>.size))
        withUnsafeMutableBytes(of: &storage) { target in
            target.copyMemory(from: UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(length)))
        }
        return Address(family: first.pointee.ai_family, storage: storage, length: length)
    }
}

/// One lookup's outcome, shared between the lookup thread and the waiter.
private final class Lookup: Sendable {
    private let done = Condition()
    private let outcome = Mutex<Resolver.Address??>(nil)

    func finish(_ address: Resolver.Address?) {
        done.withLock {
            outcome.withLock { $0 = .some(address) }
            done.broadcast()
        }
    }

    /// `.some(address or nil)` when the lookup ended before the deadline; nil if it did not.
    func wait(until deadline: Deadline) -> Resolver.Address?? {
        done.withLock {
            while true {
                if let result = outcome.withLock({ $0 }) { return result }
                guard deadline.instant > .now else { return nil }
                done.wait(until: deadline.instant)
            }
        }
    }
}
