import CCurl
import Foundation

/// A small libcurl HTTP client for tests: one easy handle, reused, so
/// keep-alive can be observed (`newConnections` is 0 on a reused connection).
public final class CurlClient {
    public struct Response: Sendable {
        public var status: Int
        /// Lower-cased header names.
        public var headers: [String: String]
        public var body: [UInt8]
        public var newConnections: Int

        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var code: Int
        public var description: String
    }

    private final class Sink {
        var body: [UInt8] = []
        var headers: [String: String] = [:]
    }

    private let handle: UnsafeMutableRawPointer

    public init() {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        handle = curl_easy_init()!
    }

    deinit { curl_easy_cleanup(handle) }

    public func request(_ url: String, method: String = "GET", headers: [String] = [],
                        timeoutSeconds: Int = 10) throws -> Response {
        let sink = Sink()
        var list: UnsafeMutablePointer<curl_slist>?
        for header in headers { list = curl_slist_append(list, header) }
        defer { curl_slist_free_all(list) }
        curl_easy_reset(handle)
        _ = vigil_curl_set_string(handle, CURLOPT_URL, url)
        _ = vigil_curl_set_long(handle, CURLOPT_TIMEOUT, timeoutSeconds)
        _ = vigil_curl_set_pointer(handle, CURLOPT_HTTPHEADER, list)
        if method == "HEAD" {
            _ = vigil_curl_set_long(handle, CURLOPT_NOBODY, 1)
        } else if method != "GET" {
            _ = vigil_curl_set_string(handle, CURLOPT_CUSTOMREQUEST, method)
        }
        let context = Unmanaged.passUnretained(sink).toOpaque()
        _ = vigil_curl_set_write_cb(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
        _ = vigil_curl_set_pointer(handle, CURLOPT_WRITEDATA, context)
        _ = vigil_curl_set_write_cb(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self)
            if let colon = line.firstIndex(of: ":") {
                sink.headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return size * count
        }
        _ = vigil_curl_set_pointer(handle, CURLOPT_HEADERDATA, context)
        let code = curl_easy_perform(handle)
        guard code == CURLE_OK else {
            throw Failure(code: Int(code.rawValue), description: String(cString: curl_easy_strerror(code)))
        }
        var status = 0, connects = 0
        _ = vigil_curl_get_long(handle, CURLINFO_RESPONSE_CODE, &status)
        _ = vigil_curl_get_long(handle, CURLINFO_NUM_CONNECTS, &connects)
        return Response(status: status, headers: sink.headers, body: sink.body, newConnections: connects)
    }
}
