import Testing
@testable import VigilAWS

@Suite struct AWSMetricsTests {
    /// `vigil_aws_endpoint_info{endpoint}` never carries a proxy's or gateway's credentials.
    @Test func anEndpointLabelHasNoUserInfo() {
        #expect(AWSMetrics.withoutUserInfo("https://secretsmanager.eu-west-1.amazonaws.com") == "https://secretsmanager.eu-west-1.amazonaws.com")
        #expect(AWSMetrics.withoutUserInfo("http://user:canary-proxy-pass@gateway.internal:8443/aws") == "http://gateway.internal:8443/aws")
        #expect(AWSMetrics.withoutUserInfo("http://gateway.internal/path@x") == "http://gateway.internal/path@x")
    }
}
