import ArgumentParser
import VigilConfig
import VigilCurl
import VigilPlatform

/// A container's HEALTHCHECK without a shell or curl in the image: GET
/// `/health/live` of the Vigil on this machine. Liveness only: a database
/// outage must not mark every Vigil container unhealthy.
struct HealthcheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthcheck",
        abstract: "GET /health/live of the Vigil on this machine (the first web.listen_address, plain HTTP); exit 0 on 200, 1 otherwise.")

    @Option(help: "The URL to ask instead (e.g. http://127.0.0.1:9731/health/live).")
    var url: String?

    @Option(help: "Seconds to wait for the answer.")
    var timeout = 3.0

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let target = try url ?? Self.liveURL(try options.load().web.listenAddresses.first ?? ":9731")
        var request = HTTPRequestSpec(method: "GET", url: target, timeout: timeout)
        request.headers = [(name: "User-Agent", value: "vigil-healthcheck")]
        var transport = CurlTransport.Options()
        transport.connectTimeout = min(timeout, 3)
        switch CurlTransport(options: transport).perform(request) {
        case .success(let reply) where reply.status == 200:
            return
        case .success(let reply):
            throw reportFailure("\(target): \(reply.status)")
        case .failure(let error):
            throw reportFailure("\(target): \(error)")
        }
    }

    /// The listen address as a client reaches it here: the unspecified host is the loopback.
    static func liveURL(_ address: String) throws -> String {
        guard let parsed = HostPort(address) else { throw ValidationError("cannot read web.listen_address \(address)") }
        let host = ["", "0.0.0.0"].contains(parsed.host) ? "127.0.0.1" : parsed.host == "::" ? "::1" : parsed.host
        return "http://\(HostPort(host: host, port: parsed.port).text)/health/live"
    }
}
