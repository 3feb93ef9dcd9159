internal import CMicroHTTPD

/// An immutable HTTP response, built once and sent any number of times.
///
/// It owns a libmicrohttpd response object. libmicrohttpd reference-counts
/// response objects under its own lock and allows one to be queued on many
/// connections at once, so routes cache a response for as long as its
/// content is current and a request costs no allocation or copy.
public final class HTTPResponse: @unchecked Sendable {
    public let status: Int
    public let body: [UInt8]
    public let headers: [(name: String, value: String)]
    /// Owned; immutable after `init`, freed in `deinit`.
    let handle: OpaquePointer

    public init(status: Int, body: [UInt8], headers: [(name: String, value: String)]) {
        self.status = status
        self.body = body
        self.headers = headers
        handle = body.withUnsafeBytes { raw in
            MHD_create_response_from_buffer(
                raw.count, UnsafeMutableRawPointer(mutating: raw.baseAddress),
                MHD_ResponseMemoryMode.RESPMEM_MUST_COPY)
        }
        for header in headers + [(name: "Cache-Control", value: "no-store")] {
            _ = MHD_add_response_header(handle, header.name, header.value)
        }
    }

    public convenience init(status: Int, contentType: String, body: String,
                            headers: [(name: String, value: String)] = []) {
        self.init(status: status, body: Array(body.utf8),
                  headers: [(name: "Content-Type", value: contentType)] + headers)
    }

    deinit { MHD_destroy_response(handle) }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}
