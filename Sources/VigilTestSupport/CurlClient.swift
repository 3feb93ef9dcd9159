import VigilAWS
import VigilCurl

/// An HTTP client for tests: Vigil's own libcurl transport with a single
/// handle, so keep-alive can be observed (`newConnections` is 0 when the
/// connection was reused).
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

    private let transport: CurlTransport

    /// `caBundle`: the CAs an https server's certificate must chain to (nil: the system's).
    public init(caBundle: String? = nil) {
        var options = CurlTransport.Options()
        options.maxIdleHandles = 1
        options.caBundle = caBundle
        transport = CurlTransport(options: options)
    }

    public func request(_ url: String, method: String = "GET", headers: [String] = [], body: [UInt8]? = nil,
                        timeoutSeconds: Int = 10) throws -> Response {
        let pairs = headers.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (name: String(line[..<colon]), value: String(line[line.index(after: colon)...].drop { $0 == " " }))
        }
        let spec = HTTPRequestSpec(method: method, url: url, headers: pairs, body: body ?? [],
                                   timeout: Double(timeoutSeconds))
        switch transport.perform(spec) {
        case .success(let reply):
            return Response(status: reply.status, headers: reply.headers, body: reply.body,
                            newConnections: reply.newConnections)
        case .failure(let error):
            throw Failure(code: -1, description: "\(error)")
        }
    }
}
