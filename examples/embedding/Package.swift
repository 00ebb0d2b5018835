// swift-tools-version: 6.1
// The embedding API from a separate package, as a service would use it: FleetRules by path, its
// core library only. `make embedding-example` builds it with
//   swift build --package-path examples/embedding --scratch-path .build-embedding
// The same sources are targets of the main package too, so `swift build` there compiles them.
import PackageDescription

let package = Package(
    name: "EmbeddingExample",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "FleetRules", path: "../..")
    ],
    targets: [
        // Load a pack, feed readings with `Date` timestamps, drain alerts, read a saved report back.
        .executableTarget(
            name: "EmbeddingExample",
            dependencies: [.product(name: "FleetRules", package: "FleetRules")],
            path: "Sources/embedding-example"
        ),
        // The README's "Embedding" snippet, verbatim (a test checks the README quotes this file).
        .executableTarget(
            name: "ReadmeExample",
            dependencies: [.product(name: "FleetRules", package: "FleetRules")],
            path: "Sources/readme-example"
        ),
    ],
    swiftLanguageModes: [.v6]
)
