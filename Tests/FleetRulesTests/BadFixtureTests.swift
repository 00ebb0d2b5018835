import Foundation
import Testing

@testable import FleetRules

/// The bad-input suite: every `Fixtures/bad/NAME.yaml` holds a policy with a mistake, and
/// `NAME.expected` the exact headlines `fleetrules check` prints for it, in order, with the
/// file shown by its base name.
enum BadFixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/bad")

    static func files(withExtension ext: String) -> Set<String> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return Set(names.filter { $0.hasSuffix(".\(ext)") }.map { String($0.dropLast(ext.count + 1)) })
    }

    /// Fixture names (without `.yaml`), sorted so the report reads in a stable order.
    static let names: [String] = files(withExtension: "yaml").sorted()

    /// Headlines of `check` on one fixture, with the path shortened to the file's base name.
    static func headlines(_ name: String) -> [String] {
        let path = folder.appendingPathComponent("\(name).yaml").path
        return PolicyLoader().check(files: [path]).diagnostics.map { d in
            var d = d
            d.range.file = URL(fileURLWithPath: d.range.file).lastPathComponent
            return d.headline
        }
    }

    static func expected(_ name: String) throws -> [String] {
        let text = try String(contentsOf: folder.appendingPathComponent("\(name).expected"), encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }
}

@Suite struct BadFixtureTests {
    @Test(arguments: BadFixtures.names)
    func reportsExactlyTheExpectedDiagnostics(_ name: String) throws {
        let expected = try BadFixtures.expected(name)
        let actual = BadFixtures.headlines(name)
        #expect(!expected.isEmpty, "\(name).expected is empty: every bad fixture must produce a diagnostic")
        #expect(
            actual == expected,
            """
            \(name).yaml: diagnostics differ from \(name).expected
            expected:
            \(expected.map { "  " + $0 }.joined(separator: "\n"))
            actual:
            \(actual.isEmpty ? "  (none)" : actual.map { "  " + $0 }.joined(separator: "\n"))
            """)
    }

    @Test func suiteHasAtLeastSixtyFixtures() {
        #expect(BadFixtures.names.count >= 60, "only \(BadFixtures.names.count) fixtures in \(BadFixtures.folder.path)")
    }

    @Test func everyFixtureHasAnExpectedFileAndViceVersa() {
        let yaml = BadFixtures.files(withExtension: "yaml")
        let expected = BadFixtures.files(withExtension: "expected")
        #expect(yaml.subtracting(expected).isEmpty, "no .expected for: \(yaml.subtracting(expected).sorted())")
        #expect(expected.subtracting(yaml).isEmpty, "no .yaml for: \(expected.subtracting(yaml).sorted())")
    }

    /// The alias bomb must be stopped by the expansion limit, not expanded.
    @Test func billionLaughsCompletesWithTheAliasLimit() {
        let codes = PolicyLoader().check(files: [BadFixtures.folder.appendingPathComponent("alias-bomb.yaml").path])
            .diagnostics.map(\.code)
        #expect(codes == [.aliasLimit])
    }
}
