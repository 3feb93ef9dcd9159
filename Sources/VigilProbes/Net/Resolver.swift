import Glibc
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

    /// Every address of `host`, in the resolver's order; literal addresses
    /// at once, names on a lookup thread bounded by the deadline. `lookup`
    /// is getaddrinfo; tests pass a slow one.
    static func resolve(_ host: String, port: Int, deadline: Deadline,
                        lookup slowPath: @escaping @Sendable (String, Int) -> [Address]? = { lookupNow($0, port: $1, flags: AI_ADDRCONFIG) }
    ) throws(ProbeFailure) -> [Address] {
        if let literal = lookupNow(host, port: port, flags: AI_NUMERICHOST), !literal.isEmpty { return literal }
        let key = "\(host) \(port)"
        let (lookup, isNew) = inFlight.withLock { lookups in
            if let current = lookups[key] { return (current, false) }
            let created = Outcome<[Address]>()
            lookups[key] = created
            return (created, true)
        }
        if isNew && !startDetachedThread(name: "dns", { lookup.finish(finishLookup(key, slowPath(host, port) ?? [])) }) {
            lookup.finish(finishLookup(key, []))
        }
        switch lookup.wait(until: deadline.instant) {
        case .some(let addresses) where !addresses.isEmpty: return addresses
        case .some: throw ProbeFailure(reason: .dns, detail: "cannot resolve \(host)")
        case .none: throw ProbeFailure(reason: .timeout, detail: "resolving \(host) did not complete in time")
        }
    }

    /// Lookups in flight, by host and port. A run that gave up on a lookup
    /// (deadline) and comes round again waits for the same one: with DNS
    /// black-holed (getaddrinfo takes 5 s per server and attempt) and an
    /// interval of a few ms, a thread per run piled up until thread
    /// creation failed. At most one lookup thread per name and port.
    private static let inFlight = Locked<[String: Outcome<[Address]>]>([:])

    private static func finishLookup(_ key: String, _ addresses: [Address]) -> [Address] {
        inFlight.withLock { _ = $0.removeValue(forKey: key) }
        return addresses
    }

    private static func lookupNow(_ host: String, port: Int, flags: Int32) -> [Address]? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = flags
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0 else { return nil }
        defer { freeaddrinfo(list) }
        var addresses: [Address] = []
        var next = list
        while let info = next, addresses.count < 8 {
            var storage = sockaddr_storage()
            let length = min(info.pointee.ai_addrlen, socklen_t(MemoryLayout<sockaddr_storage>.size))
            withUnsafeMutableBytes(of: &storage) { target in
                target.copyMemory(from: UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(length)))
            }
            addresses.append(Address(family: info.pointee.ai_family, storage: storage, length: length))
            next = info.pointee.ai_next
        }
        return addresses
    }
}
