import Foundation
import Testing

@testable import FleetRules

/// docs/TESTING.md's complete example: every ```… file=NAME block is written to a folder, every
/// ```console block's command runs there and must print exactly what the block shows.
@Suite(.serialized) struct TestingDocumentationTests {
    struct Block {
        var info: [String]
        var body: String
    }

    static func blocks(_ markdown: String) -> [Block] {
        var out: [Block] = []
        var current: Block?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                if let block = current {
                    out.append(block)
                    current = nil
                } else {
                    current = Block(info: line.dropFirst(3).split(separator: " ").map(String.init), body: "")
                }
            } else if current != nil {
                current?.body += line + "\n"
            }
        }
        return out
    }

    static func run(_ arguments: [String], in directory: URL) throws -> (status: Int32, stdout: String) {
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func completeExampleRunsAsShown() throws {
        let text = try #require(Docs.read("docs/TESTING.md"))
        let blocks = Self.blocks(text)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "fleetrules-testing-doc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var files = 0
        var commands = 0
        for block in blocks {
            if let name = block.info.first(where: { $0.hasPrefix("file=") })?.dropFirst(5) {
                try block.body.write(to: dir.appendingPathComponent(String(name)), atomically: true, encoding: .utf8)
                files += 1
            } else if block.info.first == "console" {
                var lines = block.body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                let command = try #require(
                    lines.first.flatMap { $0.hasPrefix("$ fleetrules ") ? $0.dropFirst(13) : nil })
                lines.removeFirst()
                let expected = lines.joined(separator: "\n")
                let (status, stdout) = try Self.run(command.split(separator: " ").map(String.init), in: dir)
                #expect(stdout == expected, "\(command)")
                #expect(status == (expected.hasSuffix("FAIL\n") ? 1 : 0), "\(command)")
                commands += 1
            }
        }
        #expect(files == 5)
        #expect(commands == 4)
    }
}

@Suite(.serialized) struct TestCommandTests {
    @Test func packTestsPassWithCoverage() throws {
        let r = try CLI.run(["test", "rules/tests/", "--coverage"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("ok  \trules/tests/plant-health.test.yaml\t"))
        #expect(r.stdout.contains("ok  \trules/tests/alerting.test.yaml\t3 passed, 0 failed"))
        #expect(
            r.stdout.contains(
                "coverage:\n  cold-store-warming (alert): 7/7 branches (100%)\n  cold-store-door (alert): 3/3 branches (100%)\n  battery-low (alert): 7/7 branches (100%)"
            ))
    }

    @Test func failuresExitOneAndJUnitIsXML() throws {
        let broken = try #require(Docs.read("rules/tests/plant-health.test.yaml"))
            .replacingOccurrences(of: "rules: [..]", with: "rules: [\(Docs.path("rules"))]")
            .replacingOccurrences(of: "severity: warning, labels: { team: field-service }", with: "severity: critical")
        let path = try CLI.temporaryFile("broken.test.yaml", broken)
        let text = try CLI.run(["test", path])
        #expect(text.status == 1)
        #expect(
            text.stdout.contains("      - battery-low s1 severity=critical\n      + battery-low s1 severity=warning"))
        let junit = try CLI.run(["test", path, "--format", "junit", "--coverage-json", path + ".json"])
        #expect(junit.status == 1)
        #expect(junit.stdout.hasPrefix("<?xml"))
        #expect(junit.stdout.contains("failures=\"1\""))
        let json = try #require(FileManager.default.contents(atPath: path + ".json"))
        #expect(String(decoding: json, as: UTF8.self).contains("\"rules_fired\""))
    }

    @Test func badTestFileIsLocatedAndMissingPathIsUsage() throws {
        let path = try CLI.temporaryFile("bad.test.yaml", "fleetrules-test: 1\nrules: [nowhere]\ntests: []\n")
        let r = try CLI.run(["test", path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("bad.test.yaml:2:9: error[E0502]: rules path 'nowhere': no such file or folder"))
        #expect(try CLI.run(["test", "no/such/dir"]).status == 2)
    }

    @Test func explainNamesUnknownRulesAndDevices() throws {
        let r = try CLI.run([
            "explain", "battery-lo", "rules/", "--device", "x", "--telemetry", "examples/fleet/telemetry.jsonl.gz",
            "--inventory", "examples/fleet/inventory.csv",
        ])
        #expect(r.status == 2)
        #expect(r.stderr.contains("no rule 'battery-lo'"))
        #expect(r.stderr.contains("did you mean 'battery-low'?"))
        let ok = try CLI.run([
            "explain", "weak-uplink", "rules/", "--device", "d-00001", "--at", "2026-03-02T12:00:00Z", "--telemetry",
            "examples/fleet/telemetry.jsonl.gz", "--inventory", "examples/fleet/inventory.csv", "--format", "json",
        ])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("\"state\": \"idle\""))
        #expect(ok.stdout.contains("\"blocking\": [\n    \"avg(rssi, 6h) < -110\"\n  ]"))
    }
}
