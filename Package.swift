// swift-tools-version:6.2
// Vigil: health monitor and Prometheus exporter for services whose
// credentials live in AWS Secrets Manager.
//
// Data flow, one module per step (docs/architecture.md draws the graph):
//   VigilConfig -> VigilSecrets -> VigilProbes -> VigilResults -> VigilState
//     -> VigilWeb (/health, /metrics) / VigilCloudWatch / VigilEndpoint / VigilHooks
// on VigilAWS (SigV4, credentials), VigilCurl (libcurl), VigilHTTP (the
// generic libmicrohttpd server) and VigilPlatform (threads, clocks, SecretString).
// C libraries sit behind one `.systemLibrary` target each (C*), each
// imported by the module that wraps it: CCurl by VigilCurl, CMicroHTTPD and
// CCrypt by VigilHTTP, CLibPQ by VigilProbes, CYAML by VigilConfig, CZlib by
// VigilGzip, CLinux by VigilPlatform, and COpenSSL by VigilAWS (SigV4's
// hashes, `Signing/Crypto.swift`) and VigilProbes (TLS, `Net/TLSStream.swift`).
// Every import is declared here and every declaration imported:
// scripts/check-imports fails the build otherwise.
import PackageDescription

let package = Package(
    name: "vigil",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vigil", targets: ["vigil"]),
        .library(name: "VigilSecrets", targets: ["VigilSecrets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // C libraries: one shim header each, nothing else.
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd",
                       providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1",
                       providers: [.apt(["libyaml-dev"])]),
        // glibc's variadic prctl, for disabling core dumps (no library to link).
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
        .systemLibrary(name: "CCrypt", pkgConfig: "libxcrypt",
                       providers: [.apt(["libcrypt-dev"])]),

        // What Foundation would give, without its resident memory: threads,
        // conditions on the monotonic clock, text helpers; and SecretString.
        .target(name: "VigilPlatform", dependencies: ["CLinux", .product(name: "Prometheus", package: "swift-prometheus")]),
        .target(name: "VigilGzip", dependencies: ["CZlib"]),
        .target(name: "VigilCurl", dependencies: ["CCurl", "VigilPlatform"]),
        .target(name: "VigilHTTP", dependencies: ["CMicroHTTPD", "CCrypt", "VigilPlatform"]),

        .target(name: "VigilConfig", dependencies: ["CYAML", "VigilPlatform"]),
        .target(name: "VigilAWS", dependencies: ["VigilCurl", "COpenSSL", "VigilGzip", "VigilPlatform",
                                                 .product(name: "Prometheus", package: "swift-prometheus")]),
        .target(name: "VigilSecrets", dependencies: ["VigilAWS", "VigilPlatform",
                                                     .product(name: "Logging", package: "swift-log"),
                                                     .product(name: "Prometheus", package: "swift-prometheus")]),
        .target(name: "VigilResults", dependencies: ["VigilPlatform"]),
        .target(name: "VigilProbes", dependencies: ["VigilConfig", "VigilSecrets", "VigilResults", "VigilCurl", "VigilPlatform",
                                                    "CLibPQ", "COpenSSL"]),
        .target(name: "VigilState", dependencies: ["VigilResults", "VigilPlatform",
                                                   .product(name: "Prometheus", package: "swift-prometheus")]),
        .target(name: "VigilWeb", dependencies: ["VigilHTTP", "VigilState", "VigilGzip", "VigilPlatform"]),
        .target(name: "VigilEndpoint", dependencies: ["VigilHTTP", "VigilConfig", "VigilSecrets", "VigilProbes", "VigilResults", "VigilPlatform",
                                                      .product(name: "Prometheus", package: "swift-prometheus")]),
        .target(name: "VigilHooks", dependencies: ["VigilConfig", "VigilSecrets", "VigilPlatform",
                                                   .product(name: "Logging", package: "swift-log"),
                                                   .product(name: "Prometheus", package: "swift-prometheus")]),
        .target(name: "VigilCloudWatch", dependencies: ["VigilAWS", "VigilSecrets", "VigilResults", "VigilState", "VigilPlatform",
                                                        .product(name: "Logging", package: "swift-log"),
                                                        .product(name: "Prometheus", package: "swift-prometheus")]),
        .executableTarget(name: "vigil",
                          dependencies: ["VigilConfig", "VigilAWS", "VigilCurl", "VigilSecrets", "VigilProbes", "VigilResults",
                                         "VigilState", "VigilHTTP", "VigilWeb", "VigilEndpoint", "VigilHooks", "VigilCloudWatch", "VigilPlatform",
                                         .product(name: "Prometheus", package: "swift-prometheus"),
                                         .product(name: "Logging", package: "swift-log"),
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        .executableTarget(name: "vigil-bench", dependencies: ["VigilAWS", "VigilSecrets",
                                                              .product(name: "Prometheus", package: "swift-prometheus")]),

        // Test helpers: a libcurl client and the runner for the real binary.
        .target(name: "VigilTestSupport", dependencies: ["VigilAWS", "VigilCurl", "VigilPlatform",
                                                         .product(name: "Logging", package: "swift-log")]),

        .testTarget(name: "VigilAWSTests", dependencies: ["VigilAWS", "VigilCurl", "VigilPlatform", "VigilTestSupport",
                                                         .product(name: "Prometheus", package: "swift-prometheus")]),
        .testTarget(name: "VigilSecretsTests", dependencies: ["VigilSecrets", "VigilAWS", "VigilTestSupport",
                                                             .product(name: "Prometheus", package: "swift-prometheus")]),
        .testTarget(name: "VigilCloudWatchTests",
                    dependencies: ["VigilCloudWatch", "VigilAWS", "VigilState", "VigilResults", "VigilSecrets", "VigilTestSupport",
                                   .product(name: "Logging", package: "swift-log"),
                                   .product(name: "Prometheus", package: "swift-prometheus")]),
        .testTarget(name: "VigilPlatformTests", dependencies: ["VigilPlatform"]),
        .testTarget(name: "VigilConfigTests", dependencies: ["VigilConfig", "VigilProbes", "VigilPlatform"]),
        .testTarget(name: "VigilStateTests", dependencies: ["VigilState", "VigilResults"]),
        .testTarget(name: "VigilProbesTests", dependencies: ["VigilProbes", "VigilResults", "VigilConfig", "VigilPlatform",
                                                            "VigilSecrets", "VigilTestSupport"]),
        .testTarget(name: "VigilHooksTests", dependencies: ["VigilHooks", "VigilConfig"]),
        .testTarget(name: "VigilEndpointTests", dependencies: ["VigilEndpoint", "VigilSecrets"]),
        .testTarget(name: "VigilHTTPTests", dependencies: ["VigilHTTP", "VigilWeb", "VigilState", "VigilResults", "VigilConfig",
                                                          "VigilAWS", "VigilCurl", "VigilPlatform", "VigilTestSupport"]),
        .testTarget(name: "VigilIntegrationTests", dependencies: ["VigilTestSupport"]),
    ]
)

// One set of Swift settings for every Swift target: Swift 6 language mode
// (strict concurrency). C modules are imported `internal import` by their
// wrappers, so no C type can leak through a module's public API.
for target in package.targets where target.type != .system {
    target.swiftSettings = [.swiftLanguageMode(.v6)]
}
