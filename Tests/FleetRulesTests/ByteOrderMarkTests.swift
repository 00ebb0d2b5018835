import Foundation
import Testing

@testable import FleetRules
@testable import FleetRulesDelivery

/// Editors on Windows often start UTF-8 files with a byte order mark: every YAML file the
/// product reads (policies, rule tests, the delivery configuration) accepts one.
@Suite struct ByteOrderMarkTests {
    static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

    static func repoFile(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: CLI.repoRoot.appendingPathComponent(path)))
    }

    @Test func aPolicyFileWithAByteOrderMarkChecksLikeTheSameFileWithout() throws {
        let fleet = try Self.repoFile("rules/00-fleet.yaml")
        let battery = try Self.repoFile("rules/battery.yaml")
        let plain = PolicyLoader().check(sources: [("00-fleet.yaml", fleet), ("battery.yaml", battery)])
        let marked = PolicyLoader().check(sources: [
            ("00-fleet.yaml", Self.bom + fleet), ("battery.yaml", Self.bom + battery),
        ])
        #expect(marked.diagnostics.map(\.headline) == plain.diagnostics.map(\.headline))
        #expect(marked.policy?.rules.map(\.id) == plain.policy?.rules.map(\.id))
        #expect(marked.policy != nil)
        #expect(marked.sources["battery.yaml"]?.hasPrefix("fleetrules: 1") == true)
    }

    @Test func anErrorOnTheFirstLineAfterAByteOrderMarkKeepsItsColumn() {
        let check = PolicyLoader().check(sources: [("v.yaml", Self.bom + Array("fleetrules: 2\npack: p\n".utf8))])
        #expect(check.diagnostics.map(\.headline) == ["v.yaml:1:13: error[E0101]: unsupported language version '2'"])
    }

    @Test func aRuleTestFileWithAByteOrderMarkLoads() {
        let loaded = RuleTestLoader().load(bytes: Self.bom + Array(DemoPack.passing.utf8), file: "demo.test.yaml") {
            _ in
            .success([(file: "demo.yaml", bytes: Self.bom + Array(DemoPack.rules.utf8))])
        }
        #expect(loaded.diagnostics.isEmpty, "\(loaded.diagnostics.map(\.headline))")
        #expect(loaded.file?.tests.count == 1)
    }

    @Test func aDeliveryFileWithAByteOrderMarkLoads() throws {
        let bytes = try Self.repoFile("examples/delivery.yaml")
        let plain = DeliveryLoader.check(bytes: bytes, file: "delivery.yaml", environment: [:])
        let marked = DeliveryLoader.check(bytes: Self.bom + bytes, file: "delivery.yaml", environment: [:])
        #expect(marked.diagnostics.map(\.headline) == plain.diagnostics.map(\.headline))
        #expect(!marked.diagnostics.contains { $0.code == .yamlSyntax })
        #expect(marked.config != nil)
    }
}
