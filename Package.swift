// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "FleetRules",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "FleetRules", targets: ["FleetRules"]),
        // The delivery configuration reader alone (what the fuzz targets in Fuzz/ link).
        .library(name: "FleetRulesDeliveryConfig", targets: ["FleetRulesDeliveryConfig"]),
        // The synthetic fleets and workloads `fleetrules bench` and the Benchmarks/ package measure.
        .library(name: "FleetRulesWorkloads", targets: ["FleetRulesWorkloads"]),
        .executable(name: "fleetrules", targets: ["fleetrules"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Networking packages, for FleetRulesDelivery and FleetRulesServer only; the core library
        // stays free of them.
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.36.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // `make docs`: the DocC plugin (a command plugin, built only when `swift package
        // generate-documentation` runs).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Cache prefetch hints for the engine's hot loop (one static inline C function).
        .target(name: "CPrefetch"),
        // The embeddable library: no networking packages, so it builds in seconds.
        .target(
            name: "FleetRules",
            dependencies: ["CYAML", "CZlib", "CPrefetch"]
        ),
        // The delivery configuration file: `DeliveryConfig` and its loader, with located
        // diagnostics. No networking packages, so it builds (and fuzzes) as quickly as FleetRules.
        .target(name: "FleetRulesDeliveryConfig", dependencies: ["FleetRules"]),
        // Alert delivery: routing, durable outbox (GRDB), webhook and SMS sinks.
        // Re-exports FleetRulesDeliveryConfig.
        .target(
            name: "FleetRulesDelivery",
            dependencies: [
                "FleetRules",
                "FleetRulesDeliveryConfig",
                "FleetRulesMQTT",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Synthetic fleets and workloads for `fleetrules bench`, the Benchmarks/ package and the
        // tests; not part of the FleetRules library. No networking packages.
        .target(name: "FleetRulesWorkloads", dependencies: ["FleetRules"]),
        // The mock webhook receiver and SMS gateway (Hummingbird) behind `fleetrules
        // webhook-receiver` and `fleetrules sms-gateway`, which demos and tests deliver to.
        .target(
            name: "FleetRulesMocks",
            dependencies: [
                "FleetRules",
                "FleetRulesDelivery",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // MQTT 3.1.1 packets and broker URLs, with no networking package (unit-tested and fuzzed alone).
        .target(name: "FleetRulesMQTTCodec"),
        // The MQTT client over SwiftNIO: a subscriber that stays connected, and a publisher.
        .target(
            name: "FleetRulesMQTT",
            dependencies: [
                "FleetRulesMQTTCodec",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The HTTP service behind `fleetrules serve`, its lifecycle (signals, graceful shutdown)
        // and the delivery loop it runs.
        .target(
            name: "FleetRulesServer",
            dependencies: [
                "FleetRules",
                "FleetRulesDelivery",
                "FleetRulesMQTT",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "fleetrules",
            dependencies: [
                "FleetRules",
                "FleetRulesDelivery",
                "FleetRulesServer",
                "FleetRulesWorkloads",
                "FleetRulesMocks",
                "FleetRulesMQTT",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // examples/embedding: the embedding API as a user calls it, and the README's snippet. Also a
        // package of its own that depends on this one by path (`make embedding-example` builds it).
        .executableTarget(
            name: "embedding-example",
            dependencies: ["FleetRules"],
            path: "examples/embedding/Sources/embedding-example"
        ),
        .executableTarget(
            name: "readme-example",
            dependencies: ["FleetRules"],
            path: "examples/embedding/Sources/readme-example"
        ),
        .testTarget(
            name: "FleetRulesTests",
            dependencies: [
                "FleetRules", "FleetRulesDelivery", "FleetRulesMocks", "FleetRulesWorkloads", "FleetRulesMQTTCodec",
            ],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
