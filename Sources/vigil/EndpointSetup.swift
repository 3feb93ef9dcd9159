import FoundationEssentials
import Logging
import Prometheus
import VigilConfig
import VigilEndpoint
import VigilHTTP
import VigilPlatform
import VigilSecrets

/// The secrets endpoint from configuration: its token, allow-list and own
/// listener (an epoll pool like the main one; a read that may wait on AWS
/// runs on a thread of its own while its connection is suspended).
enum EndpointSetup {
    /// The token, or exit 78 naming where it may come from.
    static func tokenOrExit(_ config: VigilConfig.Endpoint,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> EndpointToken {
        do {
            return try EndpointToken(file: config.tokenFile, variables: config.tokenVariables, environment: environment)
        } catch {
            throw reportFailure(error, exitCode: exitConfigError)
        }
    }

    /// Each application's token (`endpoint.tokens`) with what it may read,
    /// or exit 78 naming the file that gives no token.
    static func applicationsOrExit(_ config: VigilConfig.Endpoint) throws -> [EndpointRoutes.Grant] {
        try config.tokens.map { application in
            do {
                return EndpointRoutes.Grant(name: application.name, token: try EndpointToken(file: application.file, variables: [],
                                                                                             environment: [:]),
                                            allow: AllowList(application.allow))
            } catch {
                throw reportFailure("endpoint.tokens.\(application.name): \(error)", exitCode: exitConfigError)
            }
        }
    }

    static func allowList(_ config: VigilConfig, items: [SecretsConfiguration.Item]) -> AllowList {
        config.endpoint.allow.isEmpty
            ? AllowList.standard(itemIDs: items.map(\.secretID), prefix: config.secrets.prefix, environment: config.secrets.environment)
            : AllowList(config.endpoint.allow)
    }

    static func start(_ config: VigilConfig, token: EndpointToken, applications: [EndpointRoutes.Grant], secrets: SecretsClient,
                      registry: PrometheusCollectorRegistry, logger: Logger) throws(HTTPServerError) -> (HTTPServer, EndpointRoutes) {
        var options = EndpointRoutes.Options()
        options.pathPrefix = config.endpoint.pathPrefix
        options.tokenHeaders = config.endpoint.tokenHeaders
        options.maxConnections = config.endpoint.maxConnections
        options.timeout = config.endpoint.timeout.timeInterval
        (options.maxWaiters, options.maxWait) = (config.endpoint.maxWaiters, config.endpoint.maxWait.timeInterval)
        let grants = [EndpointRoutes.Grant(name: "default", token: token, allow: allowList(config, items: secrets.configuration.items))]
            + applications
        let routes = EndpointRoutes(secrets: secrets, grants: grants, parameters: AllowList(config.endpoint.allowParameters), options: options,
                                    registry: registry)
        var server = HTTPServer.Options()
        server.threads = config.endpoint.threads
        // Room above the limit, so the limit is answered with 429, not a reset; and the long polls.
        server.connectionLimit = min(config.endpoint.maxConnections + config.endpoint.maxWaiters + 16, OpenFileLimit.connectionBudget)
        server.perAddressLimit = 0
        server.hopLimit = 1  // as the agent: answers never travel past the local segment
        server.idleTimeoutSeconds = Int(config.web.idleTimeout.timeInterval)
        server.requestHeaders = routes.requestHeaders
        server.negotiatesContent = false  // the agent's API answers JSON or plain text whatever is asked
        let listener = try HTTPServer(addresses: [try ListenAddress(parsing: config.endpoint.listenAddress)], options: server,
                                      replier: routes.respond(to:))
        for grant in grants {
            grant.token.watch { logger.info("endpoint token reloaded", metadata: ["token": "\(grant.name)", "file": "\(grant.token.file ?? "")"]) }
        }
        logger.info("secrets endpoint listening", metadata: [
            "address": "\(listener.boundAddress)", "allow": "\(grants[0].allow.entries.joined(separator: ","))"])
        return (listener, routes)
    }
}
