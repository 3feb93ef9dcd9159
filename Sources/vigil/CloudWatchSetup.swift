import Logging
import Prometheus
import VigilAWS
import VigilCloudWatch
import VigilConfig

/// Builds the CloudWatch publisher from configuration.
enum CloudWatchSetup {
    static func publisher(config: VigilConfig.CloudWatch, aws: AWSClient?, inputs: CloudWatchPublisher.Inputs,
                          registry: PrometheusCollectorRegistry, logger: Logger) -> CloudWatchPublisher {
        var options = CloudWatchPublisher.Options()
        options.interval = config.interval.timeInterval
        options.namespace = config.namespace
        options.storageResolution = config.storageResolution
        options.mode = config.mode == .emf ? .emf(path: config.emfOutput) : .api
        // The outage buffer's intervals, plus the one being sent (a buffer of 0 s still sends each interval whole).
        options.bufferIntervals = Int((config.buffer.timeInterval / options.interval).rounded(.up)) + 1
        options.errorCodeDimension = config.errorCodeDimension
        options.flushTimeout = config.flushTimeout.timeInterval
        options.dimensions = config.dimensions
        // Per-instance metrics multiply the bill by the fleet size: only when asked.
        if config.mode == .api, config.instanceDimension, let instance = InstanceIdentity.instanceID() {
            options.dimensions.append((name: "InstanceId", value: instance))
        }
        if config.mode == .api && aws == nil {
            logger.warning("CloudWatch enabled but no AWS region: nothing will be published")
        }
        return CloudWatchPublisher(options: options, aws: aws, inputs: inputs, registry: registry, logger: logger)
    }
}
