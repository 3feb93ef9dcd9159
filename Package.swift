// swift-tools-version:6.2
// Vigil: health monitor and Prometheus exporter for services whose
// credentials live in AWS Secrets Manager.
//
// Data flow, one module per step:
//   VigilConfig -> VigilSecrets -> VigilProbes -> VigilState -> VigilHTTP / VigilCloudWatch
// with VigilAWS (SigV4, libcurl, credentials) under the secrets client.
// C libraries sit behind one `.systemLibrary` target each (C*), imported only
// by the module that wraps them.
import PackageDescription

let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

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
        // conditions on the monotonic clock, text helpers.
        .target(name: "VigilPlatform", dependencies: ["CLinux", .product(name: "Prometheus", package: "swift-prometheus")],
                swiftSettings: swift6),
        .target(name: "VigilGzip", dependencies: ["CZlib"], swiftSettings: swift6),
        .target(name: "VigilConfig",
                dependencies: ["CYAML", "VigilPlatform"],
                swiftSettings: swift6),
        .target(name: "VigilAWS",
                dependencies: ["CCurl", "COpenSSL", "VigilGzip", "VigilPlatform",
                               .product(name: "Prometheus", package: "swift-prometheus")],
                swiftSettings: swift6),
        .target(name: "VigilSecrets",
                dependencies: ["VigilAWS", "VigilPlatform", .product(name: "Logging", package: "swift-log")],
                swiftSettings: swift6),
        .target(name: "VigilProbes",
                dependencies: ["VigilConfig", "VigilAWS", "VigilSecrets", "VigilPlatform", "CLibPQ", "COpenSSL",
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: swift6),
        .target(name: "VigilState",
                dependencies: ["VigilProbes", "VigilPlatform",
                               .product(name: "Prometheus", package: "swift-prometheus")],
                swiftSettings: swift6),
        .target(name: "VigilHTTP",
                dependencies: ["CMicroHTTPD", "CCrypt", "VigilGzip", "VigilState",
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: swift6),
        .target(name: "VigilEndpoint",
                dependencies: ["VigilHTTP", "VigilSecrets", "VigilProbes", "VigilAWS", "VigilPlatform",
                               .product(name: "Prometheus", package: "swift-prometheus")],
                swiftSettings: swift6),
        .target(name: "VigilCloudWatch",
                dependencies: ["VigilAWS", "VigilSecrets", "VigilProbes", "VigilState", "VigilPlatform",
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "Prometheus", package: "swift-prometheus")],
                swiftSettings: swift6),
        .executableTarget(name: "vigil",
                          dependencies: ["VigilConfig", "VigilAWS", "VigilSecrets", "VigilProbes",
                                         "VigilState", "VigilHTTP", "VigilEndpoint", "VigilCloudWatch", "VigilPlatform",
                                         .product(name: "Prometheus", package: "swift-prometheus"),
                                         .product(name: "Logging", package: "swift-log"),
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: swift6),

        .executableTarget(name: "vigil-bench", dependencies: ["VigilAWS", "VigilSecrets",
                                                              .product(name: "Prometheus", package: "swift-prometheus")],
                          swiftSettings: swift6),

        // Test helpers: a libcurl client and the runner for the real binary.
        .target(name: "VigilTestSupport", dependencies: ["VigilAWS", .product(name: "Logging", package: "swift-log")], swiftSettings: swift6),

        .testTarget(name: "VigilAWSTests", dependencies: ["VigilAWS", "VigilTestSupport"], swiftSettings: swift6),
        .testTarget(name: "VigilSecretsTests", dependencies: ["VigilSecrets", "VigilAWS", "VigilTestSupport"],
                    swiftSettings: swift6),
        .testTarget(name: "VigilCloudWatchTests",
                    dependencies: ["VigilCloudWatch", "VigilAWS", "VigilState", "VigilProbes", "VigilSecrets", "VigilTestSupport"],
                    swiftSettings: swift6),
        .testTarget(name: "VigilPlatformTests", dependencies: ["VigilPlatform"], swiftSettings: swift6),
        .testTarget(name: "VigilConfigTests", dependencies: ["VigilConfig", "VigilProbes", "VigilPlatform"], swiftSettings: swift6),
        .testTarget(name: "VigilStateTests", dependencies: ["VigilState", "VigilProbes"], swiftSettings: swift6),
        .testTarget(name: "VigilProbesTests", dependencies: ["VigilProbes", "VigilConfig", "VigilPlatform", "VigilSecrets", "VigilAWS", "VigilTestSupport"],
                    swiftSettings: swift6),
        .testTarget(name: "VigilEndpointTests", dependencies: ["VigilEndpoint"], swiftSettings: swift6),
        .testTarget(name: "VigilHTTPTests", dependencies: ["VigilHTTP", "VigilState", "VigilConfig", "VigilAWS", "VigilPlatform", "VigilTestSupport"],
                    swiftSettings: swift6),
        .testTarget(name: "VigilIntegrationTests", dependencies: ["VigilTestSupport"], swiftSettings: swift6),
    ]
)
