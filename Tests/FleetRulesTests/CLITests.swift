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

    typealias Output = TestProcess.Output

    static func run(_ arguments: [String], stdin: String? = nil) throws -> Output {
        try TestProcess.run(binary, arguments, stdin: stdin.map { Data($0.utf8) }, in: repoRoot)
    }

    /// Starts `process` (a `fleetrules` server) and reads its first stdout line, `[NAME] listening
    /// on HOST:PORT`: the port, or nil when the line is not that (it failed to start), and the line.
    static func startListening(_ process: Process) throws -> (port: Int?, line: String) {
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var line: [UInt8] = []
        while !line.contains(0x0A) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(contentsOf: chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.contains("listening on "),
            let port = text.split(separator: ":").last.flatMap({
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            })
        else { return (nil, text) }
        return (port, text)
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

@Suite(.serialized) struct PlanAndRunCommandTests {
    static let telemetry = "examples/fleet/telemetry.jsonl.gz"
    static let inventory = "examples/fleet/inventory.csv"

    @Test func planSharesAggregatesAcrossRules() throws {
        let path = try CLI.temporaryFile(
            "p.yaml",
            """
            fleetrules: 1
            pack: p
            metrics:
              temperature: { unit: celsius, range: [-40, 125] }
            rules:
              - alert: warm
                when: avg(temperature, 1h) > 30
              - alert: cold
                when: avg(temperature, 1h) < 2
            """)
        let text = try CLI.run(["plan", path])
        #expect(text.status == 0)
        #expect(text.stdout.contains("#0 avg(temperature, 1h)  ← warm, cold  shared by 2 rules"))
        let json = try CLI.run(["plan", path, "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let aggregates = try #require(object?["aggregates"] as? [[String: Any]])
        #expect(aggregates.count == 1)
        #expect(aggregates.first?["readers"] as? [String] == ["warm", "cold"])
        let dot = try CLI.run(["plan", path, "--format", "dot"])
        #expect(dot.stdout.hasPrefix("digraph plan {"))
        #expect(dot.stdout.contains("a0 -> r0;") && dot.stdout.contains("a0 -> r1;"))
    }

    @Test func planOfTheExamplePacks() throws {
        let r = try CLI.run(["plan", "rules/"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("bytes of state per device"))
    }

    @Test func runWritesTheJSONReport() throws {
        let out = try CLI.temporaryFile("report.json", "")
        let r = try CLI.run([
            "run", "rules/", "--telemetry", Self.telemetry, "--inventory", Self.inventory, "--out", out,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(report["format"] as? Int == 1)
        for key in ["pack", "window", "input", "alerts", "maintenance", "rebalancing", "compliance"] {
            #expect(report[key] != nil, "missing \(key)")
        }
        let input = try #require(report["input"] as? [String: Any])
        #expect(((input["rejected"] as? [String: Int])?["malformed"] ?? 0) > 0)
    }

    @Test func runTableSortsAlertsByPriority() throws {
        let r = try CLI.run([
            "run", "rules/", "--telemetry", Self.telemetry, "--inventory", Self.inventory, "--format", "table",
        ])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("PRIO") })
        var priorities: [Double] = []
        for line in lines[(header + 1)...] {
            guard let p = Double(line.split(separator: " ").first ?? "") else { break }
            priorities.append(p)
        }
        #expect(priorities.count > 5)
        #expect(priorities == priorities.sorted(by: >))
    }

    @Test func strictFailsOnRejectedInput() throws {
        let r = try CLI.run([
            "run", "rules/", "--telemetry", Self.telemetry, "--inventory", Self.inventory, "--strict", "--format",
            "json",
        ])
        #expect(r.status == 1)
        #expect(r.stderr.contains("rejected (--strict)"))
    }

    @Test func runReadsStdin() throws {
        let rules = try CLI.temporaryFile(
            "s.yaml",
            """
            fleetrules: 1
            pack: s
            metrics:
              battery_pct: { unit: percent, range: [0, 100] }
            rules:
              - alert: empty
                when: last(battery_pct) < 5
            """)
        let line = #"{"ts":"2026-03-01T00:00:00Z","device":"d-00001","battery_pct":3}"#
        let r = try CLI.run(
            ["run", rules, "--telemetry", "-", "--inventory", Self.inventory, "--format", "json"], stdin: line + "\n")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"rule\": \"empty\""))
    }

    @Test func checkWithDataReportsNamesAndSilentRules() throws {
        let r = try CLI.run(["check", "rules/", "--data", Self.telemetry, "--inventory", Self.inventory])
        #expect(r.status == 0, "\(r.stdout)")
        #expect(r.stdout.contains("warning[W0404]: rule 'weak-uplink' never fired"))
        #expect(r.stdout.contains("warning[W0407]: malformed:"))
        let misspelt = try CLI.temporaryFile(
            "m.yaml",
            """
            fleetrules: 1
            pack: m
            metrics:
              battery_pc: { unit: percent, range: [0, 100] }
            rules:
              - alert: low
                when: last(battery_pc) < 20
            """)
        let m = try CLI.run(["check", misspelt, "--data", Self.telemetry, "--inventory", Self.inventory])
        #expect(
            m.stdout.contains("m.yaml:4:3: warning[W0401]: metric 'battery_pc' (read by low) never occurs in the data"))
        #expect(m.stdout.contains("did you mean 'battery_pct'?"))
    }

    @Test func missingTelemetryIsAUsageError() throws {
        #expect(try CLI.run(["run", "rules/", "--telemetry", "nope.jsonl", "--inventory", Self.inventory]).status == 2)
        #expect(try CLI.run(["run", "rules/", "--inventory", Self.inventory]).status == 2)
    }

    @Test func embeddingExampleRuns() throws {
        let binary = CLI.binary.deletingLastPathComponent().appendingPathComponent("embedding-example")
        let process = Process()
        process.executableURL = binary
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(text.contains("fired 2026-03-01T00:40:00Z battery-low sensor-1 battery at 16%"))
        #expect(text.contains("alerts: 1, readings: 24"))
        #expect(text.contains("false because:\n  last(battery_pct) < 20 is false (last(battery_pct) = 80)\n"))
    }
}
