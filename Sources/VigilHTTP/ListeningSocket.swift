#if canImport(Glibc)
import Glibc
#endif
import VigilPlatform

/// A bound, listening TCP socket of Vigil's own, handed to libmicrohttpd as
/// a duplicate (libmicrohttpd closes the descriptor it is given), so the
/// address is bound before any daemon starts. Closed only after the last
/// daemon on it stopped, as microhttpd.h asks.
struct ListeningSocket: Sendable {
    let fd: Int32
    let isIPv6: Bool
    /// The address actually bound (port 0 resolved).
    let bound: ListenAddress
    /// A Unix socket's file, as bound: removed at close only while it is still this.
    var file: (device: dev_t, inode: ino_t)?

    /// `:PORT` becomes one dual-stack socket on `[::]` (IPv4 too) where the
    /// kernel has IPv6, else `0.0.0.0`.
    static func open(_ address: ListenAddress, hopLimit: Int32? = nil) throws(HTTPServerError) -> ListeningSocket {
        if let path = address.unixPath { return try bindUnix(path, address) }
        if address.host.isEmpty, let dual = try? address.withSocketAddress(dualStack: true, { pointer throws(HTTPServerError) in
            try bind(pointer, address, dualStack: true, hopLimit: hopLimit)
        }) {
            return dual
        }
        return try address.withSocketAddress { pointer throws(HTTPServerError) in
            try bind(pointer, address, dualStack: false, hopLimit: hopLimit)
        }
    }

    private static func bind(_ socketAddress: UnsafePointer<sockaddr>, _ address: ListenAddress,
                             dualStack: Bool, hopLimit: Int32?) throws(HTTPServerError) -> ListeningSocket {
        let family = Int32(socketAddress.pointee.sa_family)
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .cannotListen(address.description) }
        var on: Int32 = 1, v6only: Int32 = dualStack ? 0 : 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if family == AF_INET6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &v6only, socklen_t(MemoryLayout<Int32>.size))
        }
        // Accepted connections inherit both (checked on Linux 6.x).
        if var hops = hopLimit {
            setsockopt(fd, Int32(IPPROTO_IP), IP_TTL, &hops, socklen_t(MemoryLayout<Int32>.size))
            if family == AF_INET6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_UNICAST_HOPS, &hops, socklen_t(MemoryLayout<Int32>.size)) }
        }
        let length = socklen_t(family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        // The backlog libmicrohttpd was given before: bursts of load balancer checks queue, not fail.
        guard Glibc.bind(fd, socketAddress, length) == 0, listen(fd, 1024) == 0 else {
            close(fd)
            throw .cannotListen(address.description)
        }
        return ListeningSocket(fd: fd, isIPv6: family == AF_INET6,
                               bound: ListenAddress(host: address.host, port: boundPort(fd) ?? address.port))
    }

    /// A Unix socket at `path`: the socket file of a process that died is
    /// replaced; a live one (another Vigil answers there) or anything else
    /// at the path is an error. The mode is set between `bind` and `listen`,
    /// before anyone can connect: owner and group (the application's) read
    /// and write, others nothing.
    private static func bindUnix(_ path: String, _ address: ListenAddress) throws(HTTPServerError) -> ListeningSocket {
        var status = stat()
        if lstat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFSOCK, !isAnswered(path), unlink(path) == 0 else {
                throw .cannotListen(address.description)
            }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .cannotListen(address.description) }
        let bound = withUnixAddress(path) { Glibc.bind(fd, $0, $1) == 0 }
        guard bound, chmod(path, 0o660) == 0, listen(fd, 1024) == 0, lstat(path, &status) == 0 else {
            if bound { unlink(path) }
            close(fd)
            throw .cannotListen(address.description)
        }
        return ListeningSocket(fd: fd, isIPv6: false, bound: address, file: (status.st_dev, status.st_ino))
    }

    /// True when something accepts connections at the socket `path`.
    private static func isAnswered(_ path: String) -> Bool {
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { return false }
        defer { close(probe) }
        return withUnixAddress(path) { connect(probe, $0, $1) == 0 || errno != ECONNREFUSED }
    }

    private static func withUnixAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(UnixSocketAddress.maxPathBytes).enumerated() { raw[index] = byte }
        }
        return withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Closes the socket, and removes a Unix socket's file if it is still
    /// this one's (not a successor's that replaced it).
    func closeAndRemove() {
        close(fd)
        guard let path = bound.unixPath, let file else { return }
        var status = stat()
        if lstat(path, &status) == 0, status.st_dev == file.device, status.st_ino == file.inode { unlink(path) }
    }

    private static func boundPort(_ fd: Int32) -> UInt16? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return nil }
        let family = storage.ss_family
        let port: UInt16 = withUnsafePointer(to: &storage) { raw in
            if family == sa_family_t(AF_INET6) {
                return raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port }
            }
            return raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
        }
        return UInt16(bigEndian: port)
    }
}
