import Foundation
import Testing

/// Byte-for-byte comparison with the checked-in files in Fixtures/golden/.
/// `FLEETRULES_UPDATE_GOLDEN=1 swift test --filter Golden` rewrites them from the current output.
enum Golden {
    static let folder = CLI.repoRoot.appendingPathComponent("Tests/FleetRulesTests/Fixtures/golden")
    static let updateVariable = "FLEETRULES_UPDATE_GOLDEN"

    static func expect(_ text: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = folder.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment[updateVariable] == "1" {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOf: url, encoding: .utf8)
        guard text != golden else { return }
        let actual = FileManager.default.temporaryDirectory.appendingPathComponent("fleetrules-golden-\(name)")
        try? text.write(to: actual, atomically: true, encoding: .utf8)
        Issue.record(
            Comment(rawValue: difference(golden, text, name: name, actual: actual.path)), sourceLocation: sourceLocation
        )
    }

    /// The first differing line of each side, where the output was written, and how to accept it.
    static func difference(_ golden: String, _ text: String, name: String, actual: String) -> String {
        let a = golden.split(separator: "\n", omittingEmptySubsequences: false)
        let b = text.split(separator: "\n", omittingEmptySubsequences: false)
        let line = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
        func at(_ lines: [Substring]) -> String { line < lines.count ? "\(lines[line])" : "(end of file)" }
        return """
            \(name) differs from its golden file at line \(line + 1) (golden \(a.count) lines, output \(b.count)):
              golden: \(at(a))
              output: \(at(b))
            diff Tests/FleetRulesTests/Fixtures/golden/\(name) \(actual)
            if the change is intended: \(updateVariable)=1 swift test --filter Golden, and review the files' diff
            """
    }
}

/// The plan of the repository's rules/ and the JSON report of the example fleet, as the CLI
/// prints them: any change to what the compiler or the engine produce shows here first.
@Suite(.serialized) struct GoldenOutputTests {
    @Test func planText() throws {
        let r = try CLI.run(["plan", "rules/"])
        #expect(r.status == 0, "\(r.stderr)")
        try Golden.expect(r.stdout, "plan.txt")
    }

    @Test func planJSON() throws {
        let r = try CLI.run(["plan", "rules/", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        try Golden.expect(r.stdout, "plan.json")
    }

    @Test func planDot() throws {
        let r = try CLI.run(["plan", "rules/", "--format", "dot"])
        #expect(r.status == 0, "\(r.stderr)")
        try Golden.expect(r.stdout, "plan.dot")
    }

    @Test func exampleFleetJSONReport() throws {
        let out = try CLI.temporaryFile("example-report.json", "")
        let r = try CLI.run([
            "run", "rules/", "--telemetry", "examples/fleet/telemetry.jsonl.gz", "--inventory",
            "examples/fleet/inventory.csv", "--forecast-history", "--format", "json", "--out", out,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        try Golden.expect(try String(contentsOfFile: out, encoding: .utf8), "example-report.json")
    }

    @Test func aDifferenceNamesTheLineAndTheWayToAcceptIt() {
        let hint = Golden.difference("a\nb\nc\n", "a\nB\nc\n", name: "x.txt", actual: "/tmp/x.txt")
        #expect(hint.contains("x.txt differs from its golden file at line 2 (golden 4 lines, output 4)"))
        #expect(hint.contains("  golden: b\n  output: B\n"))
        #expect(hint.contains("FLEETRULES_UPDATE_GOLDEN=1 swift test --filter Golden"))
        let shorter = Golden.difference("a\nb\n", "a\n", name: "y", actual: "/tmp/y")
        #expect(shorter.contains("at line 2 (golden 3 lines, output 2)"))
        #expect(shorter.contains("  golden: b\n  output: \n"))
    }
}
