import Foundation
import Testing

/// Runs the real `fleetrules` executable built next to the test bundle.
enum CLI {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var binary: URL {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("fleetrules")
        if FileManager.default.isExecutableFile(atPath: besideTests.path) { return besideTests }
        return repoRoot.appendingPathComponent(".build/debug/fleetrules")
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], stdin: String? = nil) throws -> Output {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = repoRoot
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self))
    }

    static func temporaryFile(_ name: String, _ contents: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetrules-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}

@Suite(.serialized) struct CheckCommandTests {
    static let bad = """
        fleetrules: 1
        pack: t
        metrics:
          battery_pct: { unit: percent, range: [0, 100] }
        rules:
          - alert: low
            when: last(batery_pct) < 20
            severty: warning
        """

    @Test func examplePacksCheckClean() throws {
        let r = try CLI.run(["check", "rules/"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("check ok"))
        #expect(r.stdout.contains("0 errors, 0 warnings"))
    }

    @Test func errorsExitWithOneAndPrintEveryProblem() throws {
        let path = try CLI.temporaryFile("bad.yaml", Self.bad)
        let r = try CLI.run(["check", path])
        #expect(r.status == 1)
        #expect(r.stdout.contains("bad.yaml:7:16: error[E0203]: unknown metric 'batery_pct'"))
        #expect(r.stdout.contains("bad.yaml:8:5: error[E0103]: unknown key 'severty' in alert rule 'low'"))
        #expect(r.stdout.contains("= hint: did you mean 'severity'?"))
        #expect(r.stdout.contains("^~~~~~~~~~"))
    }

    @Test func jsonFormatIsValidJSON() throws {
        let path = try CLI.temporaryFile("bad.yaml", Self.bad)
        let r = try CLI.run(["check", path, "--format", "json"])
        #expect(r.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let diagnostics = try #require(object?["diagnostics"] as? [[String: Any]])
        #expect(diagnostics.count == 2)
        let first = try #require(diagnostics.first)
        for key in ["code", "severity", "message", "file", "line", "column", "end_line", "end_column", "hint"] {
            #expect(first[key] != nil, "missing \(key)")
        }
        #expect(first["code"] as? String == "E0203")
        #expect(first["line"] as? Int == 7)
    }

    @Test func warningsFailOnlyWhenAsked() throws {
        let path = try CLI.temporaryFile(
            "warn.yaml",
            """
            fleetrules: 1
            pack: t
            lists:
              unused: [a]
            rules: []
            """)
        #expect(try CLI.run(["check", path]).status == 0)
        #expect(try CLI.run(["check", path, "--warnings-as-errors"]).status == 1)
    }

    @Test func usageProblemsExitWithTwo() throws {
        #expect(try CLI.run(["check", "/no/such/path.yaml"]).status == 2)
        #expect(try CLI.run(["check"]).status == 2)
        #expect(try CLI.run(["check", "rules/", "--format", "xml"]).status == 2)
        #expect(try CLI.run(["no-such-command"]).status == 2)
    }

    @Test func schemaCommandPrintsJSONSchema() throws {
        let r = try CLI.run(["schema"])
        #expect(r.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(object?["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
    }
}
