// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "FleetRules",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "FleetRules", targets: ["FleetRules"]),
        .executable(name: "fleetrules", targets: ["fleetrules"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
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
        // The embeddable library: no networking packages, so it builds in seconds.
        .target(
            name: "FleetRules",
            dependencies: ["CYAML", "CZlib"]
        ),
        .executableTarget(
            name: "fleetrules",
            dependencies: [
                "FleetRules",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // examples/embedding: the embedding API as a user calls it; built and run by `make test`.
        .executableTarget(
            name: "embedding-example",
            dependencies: ["FleetRules"],
            path: "examples/embedding"
        ),
        .testTarget(
            name: "FleetRulesTests",
            dependencies: ["FleetRules"],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
