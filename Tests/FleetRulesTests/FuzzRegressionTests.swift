import FleetRulesDelivery
import Foundation
import Testing

@testable import FleetRules

/// The inputs the fuzz targets once failed on (Fuzz/Regressions/TARGET/), replayed through the
/// same calls as each target (Fuzz/Sources/fuzz-TARGET/main.swift) and checked for the same
/// promises, without the sanitizer build: a bad policy or delivery file is answered with located
/// errors, and every telemetry line becomes a reading or a counted rejection.
enum FuzzRegressions {
    static let folder = CLI.repoRoot.appendingPathComponent("Fuzz/Regressions")
    static let targets = ["policy", "expression", "telemetry", "body", "delivery"]

    /// `TARGET/FILE` for every fixture, in a stable order.
    static let fixtures: [String] = targets.flatMap { target in
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent(target).path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(target)/\($0)" }
    }

    static func bytes(_ fixture: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: folder.appendingPathComponent(fixture)))
    }

    /// The fuzz targets' engine: the repository's pack and the example fleet's inventory.
    static let plan: EvaluationPlan? = {
        guard let files = try? PolicyLoader.files(for: [CLI.repoRoot.appendingPathComponent("rules").path]) else {
            return nil
        }
        return PolicyLoader().check(files: files).policy?.compile()
    }()
    static let inventory = try? Inventory.load(
        path: CLI.repoRoot.appendingPathComponent("examples/fleet/inventory.csv").path)

    /// An unusable result names an error, and every diagnostic points at a line and column of
    /// `file` that exist (YAML also breaks lines at CR, NEL, LS and PS: an upper bound).
    static func expectLocated(
        _ diagnostics: [Diagnostic], in file: String, source: [UInt8], usable: Bool, _ fixture: String
    ) {
        #expect(usable || diagnostics.contains { $0.severity == .error }, "\(fixture): refused without an error")
        let lines = source.count { $0 == 0x0A || $0 == 0x0D || $0 == 0x85 || $0 == 0xA8 || $0 == 0xA9 } + 1
        for d in diagnostics {
            let p = d.range.start
            #expect(
                d.range.file == file && p.line >= 1 && p.line <= lines + 1 && p.column >= 1,
                "\(fixture): not located in the input: \(d.headline)")
        }
    }
}

@Suite struct FuzzRegressionTests {
    @Test(arguments: FuzzRegressions.fixtures)
    func fuzzRegressionEndsInLocatedErrorsOrCountedRejections(_ fixture: String) throws {
        let bytes = try FuzzRegressions.bytes(fixture)
        switch fixture.split(separator: "/").first.map(String.init) {
        case "policy":
            let check = PolicyLoader().check(sources: [(file: "fuzz.yaml", bytes: bytes)])
            FuzzRegressions.expectLocated(
                check.diagnostics, in: "fuzz.yaml", source: bytes, usable: check.policy != nil, fixture)
            _ = DiagnosticRenderer(sources: check.sources).text(check.diagnostics)
            if let policy = check.policy { _ = policy.compile() }
        case "expression":
            let text = String(decoding: bytes, as: UTF8.self)
            var bag = DiagnosticBag()
            let node = YAMLNode(.scalar(text, .plain), range: SourceRange(file: "expr", line: 1, column: 1))
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let parsed = ExpressionParser.parse(
                text, locator: ScalarLocator(node: node, sourceLines: lines), diagnostics: &bag)
            #expect(parsed != nil || bag.hasErrors, "\(fixture): expression refused without an error")
        case "telemetry":
            let plan = try #require(FuzzRegressions.plan)
            let format: Replay.Format =
                bytes.first { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A) } == 0x7B ? .jsonLines : .csv
            var engine = Engine(plan: plan, inventory: try #require(FuzzRegressions.inventory))
            Replay.feed(&engine, bytes: bytes, format: format, origin: "fuzz")
            engine.finish()
            #expect(engine.stats.readings + engine.stats.rejected.values.reduce(0, +) == Self.records(bytes, format))
            _ = engine.report().json().serialized()
        case "body":
            guard case .success(let lines) = TelemetryBody.lines(bytes) else { return }
            _ = TelemetryBody.scan(lines.bytes, lineNumbers: lines.lineNumbers)
            var engine = Engine(
                plan: try #require(FuzzRegressions.plan), inventory: try #require(FuzzRegressions.inventory))
            let summary = TelemetryBody.ingest(
                &engine, bytes: lines.bytes, lineNumbers: lines.lineNumbers, keepAccepted: true)
            #expect(summary.accepted + summary.rejected.values.reduce(0, +) == summary.lines)
            #expect(summary.rejections.allSatisfy { $0.line >= 1 })
        case "delivery":
            let check = DeliveryLoader.check(
                bytes: bytes, file: "delivery.yaml",
                environment: ["HOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
            FuzzRegressions.expectLocated(
                check.diagnostics, in: "delivery.yaml", source: bytes, usable: check.config != nil, fixture)
        default:
            Issue.record("\(fixture): not a fuzz target")
        }
    }

    /// Lines the decoder turns into a record or a rejection (not blank lines, not a CSV header).
    static func records(_ bytes: [UInt8], _ format: Replay.Format) -> Int {
        var decoder = TelemetryDecoder()
        var splitter = LineSplitter()
        var count = 0
        let each: (UnsafeBufferPointer<UInt8>, Int) -> Void = { line, _ in
            var accepted = false
            if decoder.decode(line, format: format, accept: { _, _ in accepted = true }) != nil || accepted {
                count += 1
            }
        }
        splitter.feed(bytes, each)
        splitter.feed([], each)
        return count
    }

    @Test func regressionFoldersAreNamedForFuzzTargets() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: FuzzRegressions.folder.path)
            .filter { !$0.hasPrefix(".") && !$0.hasSuffix(".md") }
        #expect(Set(folders).isSubset(of: FuzzRegressions.targets), "unknown folders in Fuzz/Regressions: \(folders)")
    }
}
