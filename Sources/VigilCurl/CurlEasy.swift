internal import CCurl
import VigilPlatform

/// One libcurl easy handle, owned. Reused across requests so its connection
/// cache keeps HTTP/1.1 connections alive. Not thread-safe: the pool hands
/// each handle to one thread at a time.
final class CurlEasy {
    private let handle: UnsafeMutableRawPointer

    private final class Sink {
        var body: [UInt8] = []
        var headers: [String: String] = [:]
        var limitExceeded = false
        let limit: Int
        init(limit: Int) { self.limit = limit }
    }

    init?() {
        guard let handle = curl_easy_init() else { return nil }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    /// Performs one request; blocking, bounded by the timeouts.
    func perform(_ request: HTTPRequestSpec, options: CurlTransport.Options) -> Result<HTTPReply, TransportError> {
        curl_easy_reset(handle)
        var list: UnsafeMutablePointer<curl_slist>?
        // "Expect: 100-continue" costs a round trip on POSTs; AWS does not need it.
        for header in request.headers + [(name: "Expect", value: "")] {
            list = curl_slist_append(list, "\(header.name): \(header.value)")
        }
        defer { curl_slist_free_all(list) }
        let sink = Sink(limit: options.maxResponseBytes)
        let context = Unmanaged.passUnretained(sink).toOpaque()
        set(CURLOPT_URL, request.url)
        _ = vigil_curl_set_pointer(handle, CURLOPT_HTTPHEADER, list)
        set(CURLOPT_NOSIGNAL, 1)  // required with threads
        set(CURLOPT_CONNECTTIMEOUT_MS, Int(options.connectTimeout * 1000))
        set(CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000))
        set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        set(CURLOPT_SSL_VERIFYPEER, 1)
        set(CURLOPT_SSL_VERIFYHOST, 2)
        set(CURLOPT_TCP_KEEPALIVE, 1)
        if let bundle = options.caBundle ?? SystemCABundle.path { set(CURLOPT_CAINFO, bundle) }
        if let socket = options.unixSocket { set(CURLOPT_UNIX_SOCKET_PATH, socket) }
        if options.reportsCertificates { set(CURLOPT_CERTINFO, 1) }
        switch request.method {
        case "GET": break
        case "HEAD": set(CURLOPT_NOBODY, 1)
        default: set(CURLOPT_CUSTOMREQUEST, request.method)
        }
        _ = vigil_curl_set_write_cb(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            guard sink.body.count + size * count <= sink.limit else { sink.limitExceeded = true; return 0 }
            sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
        _ = vigil_curl_set_pointer(handle, CURLOPT_WRITEDATA, context)
        _ = vigil_curl_set_write_cb(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self)
            if line.hasPrefix("HTTP/") { sink.headers = [:] }  // a new response (after 100 Continue or a redirect)
            if let colon = line.firstIndex(of: ":") {
                let value = line[line.index(after: colon)...].drop { $0 == " " }
                sink.headers[line[..<colon].lowercased()] = String(value.prefix { !$0.isNewline })
            }
            return size * count
        }
        _ = vigil_curl_set_pointer(handle, CURLOPT_HEADERDATA, context)
        // An empty body still needs a valid pointer: a one-byte buffer sent as zero bytes.
        let storage = request.body.isEmpty ? [0] : request.body
        let code: CURLcode = storage.withUnsafeBytes { body in
            if request.method != "GET" && request.method != "HEAD" {
                set(CURLOPT_POSTFIELDSIZE, request.body.count)
                _ = vigil_curl_set_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: body.baseAddress))
            }
            return curl_easy_perform(handle)
        }
        guard code == CURLE_OK || (sink.limitExceeded && options.truncatesBody) else {
            if sink.limitExceeded { return .failure(.responseTooLarge) }
            return .failure(TransportError(curlCode: code))
        }
        var status = 0, connects = 0
        _ = vigil_curl_get_long(handle, CURLINFO_RESPONSE_CODE, &status)
        _ = vigil_curl_get_long(handle, CURLINFO_NUM_CONNECTS, &connects)
        var reply = HTTPReply(status: status, headers: sink.headers, body: sink.body, newConnections: connects)
        if options.reportsCertificates && connects > 0 { reply.peerCertificates = peerCertificates() }
        return .success(reply)
    }

    /// The PEM of each certificate the server sent at this exchange's
    /// handshake, leaf first (libcurl's "Cert:" field of `CURLINFO_CERTINFO`).
    private func peerCertificates() -> [String] {
        var info: UnsafeMutablePointer<curl_certinfo>?
        guard vigil_curl_get_certinfo(handle, &info) == CURLE_OK, let info, let lists = info.pointee.certinfo else { return [] }
        return (0..<Int(info.pointee.num_of_certs)).compactMap { index in
            var entry = lists[index]
            while let current = entry {
                let field = String(cString: current.pointee.data)
                if field.hasPrefix("Cert:") { return String(field.dropFirst(5)) }
                entry = current.pointee.next
            }
            return nil
        }
    }

    private func set(_ option: CURLoption, _ value: Int) { _ = vigil_curl_set_long(handle, option, value) }
    private func set(_ option: CURLoption, _ value: String) { _ = vigil_curl_set_string(handle, option, value) }
}

extension TransportError {
    init(curlCode code: CURLcode) {
        switch code {
        case CURLE_OPERATION_TIMEDOUT: self = .timeout
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: self = .dns
        case CURLE_COULDNT_CONNECT: self = .refused
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE:
            self = .tls(String(cString: curl_easy_strerror(code)))
        default: self = .network(String(cString: curl_easy_strerror(code)))
        }
    }
}

/// libcurl's process-wide initialisation, done once before any handle.
let curlGlobalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()
