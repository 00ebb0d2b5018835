// swift-tools-version: 6.1
// libFuzzer targets for FleetRules' input parsers (docs/TESTING.md, "Fuzzing"). A package of its
// own so the sanitizer flags never touch the normal build; `make fuzz-build` builds them with
//   swift build --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
// (lld: gold cannot link libFuzzer's `main` next to the one SwiftPM gives each executable).
import PackageDescription

let package = Package(
    name: "FleetRulesFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "FleetRules", path: "..")
    ],
    targets: [
        // What every target shares: the repository's pack, its inventory, and the invariants.
        .target(
            name: "FuzzSupport", dependencies: ["CFuzzDriver", .product(name: "FleetRules", package: "FleetRules")]),
        .target(name: "CFuzzDriver"),
        .executableTarget(name: "fuzz-policy", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "fuzz-expression", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "fuzz-telemetry", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "fuzz-body", dependencies: ["FuzzSupport"]),
        .executableTarget(
            name: "fuzz-delivery",
            dependencies: ["FuzzSupport", .product(name: "FleetRulesDeliveryConfig", package: "FleetRules")]),
    ],
    swiftLanguageModes: [.v6]
)
