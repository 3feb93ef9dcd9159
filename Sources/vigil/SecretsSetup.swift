import FoundationEssentials
import Logging
import Prometheus
import VigilAWS
import VigilConfig
import VigilCurl
import VigilSecrets

/// Builds the AWS client and the secrets client from configuration and the
/// standard AWS environment.
enum SecretsSetup {
    static func client(config: VigilConfig, registry: PrometheusCollectorRegistry?, logger: Logger) -> SecretsClient {
        client(config: config, aws: aws(config: config.aws, registry: registry), registry: registry, logger: logger)
    }

    /// `parameters`: the endpoint serves Parameter Store too, so SSM is among the services described.
    static func aws(config: VigilConfig.AWS, registry: PrometheusCollectorRegistry?, parameters: Bool = false,
                    environment: [String: String] = ProcessInfo.processInfo.environment) -> AWSClient? {
        var options = CurlTransport.Options()
        options.caBundle = config.caBundle
        let transport = CurlTransport(options: options)
        guard let region = RegionResolver.resolve(configured: config.region, environment: environment, transport: transport) else {
            return nil
        }
        let metrics = registry.map(AWSMetrics.init)
        var configured: [AWSService: String] = [:]
        configured[.secretsManager] = config.secretsManagerEndpoint ?? config.secretsManagerEndpoints[region]
        configured[.cloudWatch] = config.cloudWatchEndpoint
        configured[.sts] = config.stsEndpoint
        let endpoints = EndpointResolver(configured: configured, environment: environment)
        metrics?.describe(region: region, endpoints: endpoints, services: [.secretsManager, .cloudWatch, .sts] + (parameters ? [.ssm] : []))
        return AWSClient(region: region,
                         credentials: CredentialChain.standard(environment: environment, transport: transport, region: region,
                                                               endpoints: endpoints, metrics: metrics),
                         endpoints: endpoints, transport: transport,
                         retry: RetryPolicy(maxAttempts: config.maxAttempts ?? RetryPolicy.maxAttempts(from: environment)),
                         metrics: metrics, attemptTimeout: config.timeout.timeInterval)
    }

    /// `retryEvery`: the secrets probe's interval, when it runs. Retries of a
    /// failing secret never wait longer, so the component is healthy again
    /// within one interval of AWS answering (the probe is also run at once
    /// when a secret recovers).
    static func configuration(_ config: VigilConfig.Secrets, retryEvery: Duration? = nil) -> SecretsConfiguration {
        let items = config.items.isEmpty
            ? SecretsConfiguration.standardItems(prefix: config.prefix, environment: config.environment)
            : config.items.map { SecretsConfiguration.Item(name: $0.name, secretID: $0.id, requiredKeys: $0.keys,
                                                           fallbackVariable: $0.environmentVariable, required: $0.required) }
        var configuration = SecretsConfiguration(items: items, ttl: config.ttl.timeInterval, emergencyTTL: config.emergencyTTL.timeInterval,
                                                 refreshAhead: config.refreshAhead.timeInterval,
                                                 maxBackoff: min(config.maxBackoff, retryEvery ?? config.maxBackoff).timeInterval)
        (configuration.rotationWindow, configuration.rotationGrace) = (config.rotationWindow.timeInterval, config.rotationGrace.timeInterval)
        return configuration
    }

    static func client(config: VigilConfig, aws: AWSClient?, registry: PrometheusCollectorRegistry?,
                       logger: Logger) -> SecretsClient {
        if aws == nil {
            logger.warning("no AWS region configured or found: secrets come from environment fallbacks only")
        }
        return client(configuration(for: config), aws: aws, config.aws, registry: registry, logger: logger)
    }

    /// A client of `configuration`'s secrets through `aws` and the failover
    /// regions `config` names (in order; one that turns out to be the
    /// primary, resolved from the environment, is left out).
    static func client(_ configuration: SecretsConfiguration, aws: AWSClient?, _ config: VigilConfig.AWS,
                       registry: PrometheusCollectorRegistry?, environment: [String: String] = ProcessInfo.processInfo.environment,
                       logger: Logger) -> SecretsClient {
        let replicas = aws.map { aws in
            config.failoverRegions.filter { $0 != aws.region }
                .map { aws.inRegion($0, secretsManagerEndpoint: config.secretsManagerEndpoints[$0]) }
        } ?? []
        return SecretsClient(configuration: configuration, aws: aws, replicas: replicas, failoverDelay: config.failoverDelay.timeInterval,
                             metrics: SecretsMetrics(registry: registry), environment: environment, logger: logger)
    }

    /// The secrets client's configuration, retrying no slower than the secrets
    /// probe runs; each item with the keys the enabled probes that log in with it need.
    static func configuration(for config: VigilConfig) -> SecretsConfiguration {
        let secretsProbe = config.probes.filter { $0.kind.followsSecrets && $0.enabled }.map(\.interval).min()
        var configuration = configuration(config.secrets, retryEvery: secretsProbe)
        configuration.readCapacity = config.endpoint.cacheSize
        var loginKeys: [String: [String]] = [:]
        for probe in config.probes where probe.enabled {
            if let item = probe.secret, case .required(let keys) = probe.kind.credentials { loginKeys[item, default: []] += keys }
            for reference in probe.secretReferences { loginKeys[reference.item, default: []].append(reference.key) }
        }
        for index in configuration.items.indices {
            configuration.items[index].loginKeys = (loginKeys[configuration.items[index].name] ?? []).uniqued
        }
        return configuration
    }
}
