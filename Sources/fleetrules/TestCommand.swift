import ArgumentParser
import FleetRules
import Foundation

struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run rule unit tests (*.test.yaml): input series in, expected alerts out.",
        discussion: """
            Each test builds an inventory and telemetry from compact series notation, runs the
            rules the file names, and compares the firing alerts, forecasts, compliance states
            and maintenance tasks at the given times. Output is like `go test`: a diff of
            expected (-) and actual (+) per failing check; exit 1 when a test fails or a test
            file has errors. See docs/TESTING.md.

            Example:
              fleetrules test rules/tests/ --coverage
            """
    )

    @Argument(help: "Test files or folders (folders: every *.test.yaml below them).")
    var paths: [String]

    @Option(help: "Output: text (go test style) or junit (XML for CI).")
    var format: Format = .text

    @Flag(help: "Print which rules and condition branches the tests exercised.")
    var coverage = false

    @Option(help: "Write the coverage as JSON to this file (implies --coverage).")
    var coverageJson: String?

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, junit }

    func run() throws {
        let files: [String]
        do {
            files = try RuleTestLoader.files(for: paths)
        } catch {
            Self.failUsage(error.description)
        }
        let withCoverage = coverage || coverageJson != nil
        let outcome = RuleTestRunner(coverage: withCoverage).run(files: files)
        for (file, loaded) in outcome.broken {
            let renderer = DiagnosticRenderer(sources: loaded.sources, color: isatty(STDERR_FILENO) == 1)
            FileHandle.standardError.write(Data(renderer.text(loaded.diagnostics).utf8))
            FileHandle.standardError.write(Data("FAIL\t\(file)\t[test file has errors]\n".utf8))
        }
        let results = outcome.results
        let recorder = outcome.coverage
        switch format {
        case .text: print(RuleTestOutput.text(results, brokenFiles: outcome.broken.count), terminator: "")
        case .junit: print(RuleTestOutput.junit(results), terminator: "")
        }
        if withCoverage {
            // Text goes after the results; beside JUnit XML it goes to stderr so stdout stays XML.
            if format == .text {
                print(recorder.text(), terminator: "")
            } else if coverage {
                FileHandle.standardError.write(Data(recorder.text().utf8))
            }
            if let coverageJson {
                do {
                    try (recorder.json().serialized(pretty: true) + "\n").write(
                        toFile: coverageJson, atomically: true, encoding: .utf8)
                } catch {
                    FileHandle.standardError.write(
                        Data("error: cannot write \(coverageJson): \(error.localizedDescription)\n".utf8))
                    throw ExitCode(1)
                }
            }
        }
        if outcome.failed { throw ExitCode(1) }
    }
}
