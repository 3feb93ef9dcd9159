import VigilGzip
import VigilHTTP
import VigilPlatform

/// Keeps the last rendered response (and its gzip twin, made on first
/// demand) while its key is current and it is younger than `maxAge`, so a
/// burst of requests renders once. Rendering happens under the lock: only
/// one thread renders, the others wait for its result.
final class ResponseCache: Sendable {
    private struct Entry {
        var key: Int
        var renderedAt: Double
        var plain: HTTPResponse
        var gzipped: HTTPResponse?
    }

    private let maxAge: Double
    private let entry = Locked<Entry?>(nil)

    init(maxAge: Double) { self.maxAge = maxAge }

    func response(key: Int, gzip wantsGzip: Bool, render: () -> HTTPResponse) -> HTTPResponse {
        guard maxAge > 0 else {  // caching off: render in parallel, no lock
            let response = render()
            return wantsGzip ? response.gzipped() : response
        }
        return entry.withLock { entry in
            let now = SteadyClock.monotonicSeconds()
            if entry == nil || entry!.key != key || now - entry!.renderedAt >= maxAge {
                entry = Entry(key: key, renderedAt: now, plain: render())
            }
            guard wantsGzip else { return entry!.plain }
            if entry!.gzipped == nil { entry!.gzipped = entry!.plain.gzipped() }
            return entry!.gzipped!
        }
    }
}

extension HTTPResponse {
    /// The same response with a gzip body, or itself if compression fails.
    func gzipped() -> HTTPResponse {
        guard let compressed = Gzip.compress(body) else { return self }
        return HTTPResponse(status: status, body: compressed,
                            headers: headers + [(name: "Content-Encoding", value: "gzip"), (name: "Vary", value: "Accept-Encoding")])
    }
}
