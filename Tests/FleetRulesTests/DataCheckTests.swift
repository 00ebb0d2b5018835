import Foundation
import Testing

@testable import FleetRules

/// `check --data`: the rules of every kind `run` evaluates are judged on the data.
@Suite struct DataCheckTests {
    /// The repository's pack (with `edit` applied to each file's text) replayed over the example
    /// fleet, as `check rules/ --data … --inventory …` does; the diagnostics of the data checks.
    static func checkRulesOnTheExampleFleet(edit: (String) -> String = { $0 }) throws -> [Diagnostic] {
        let files = try PolicyLoader.files(for: [CLI.repoRoot.appendingPathComponent("rules").path])
        let sources = try files.map { file in
            (file: file, bytes: Array(edit(try String(contentsOfFile: file, encoding: .utf8)).utf8))
        }
        let check = PolicyLoader().check(sources: sources)
        let policy = try #require(check.policy, "\(check.diagnostics.map(\.headline))")
        let fleet = CLI.repoRoot.appendingPathComponent("examples/fleet")
        var engine = Engine(
            plan: policy.compile(),
            inventory: try Inventory.load(path: fleet.appendingPathComponent("inventory.csv").path))
        let telemetry = fleet.appendingPathComponent("telemetry.jsonl.gz").path
        try Replay.run(&engine, files: [telemetry])
        return DataChecks.run(engine, dataFiles: [telemetry])
    }

    static func rules(_ code: DiagnosticCode, in diagnostics: [Diagnostic]) -> Set<String> {
        Set(
            diagnostics.filter { $0.code == code }.compactMap {
                $0.message.split(separator: "'").dropFirst().first.map(String.init)
            })
    }

    @Test func everyRuleKindRunEvaluatesIsJudgedOnTheData() throws {
        let diagnostics = try Self.checkRulesOnTheExampleFleet()
        #expect(!diagnostics.contains { $0.code == .notEvaluated }, "\(diagnostics.map(\.headline))")
        let silent = Self.rules(.neverFired, in: diagnostics)
        // Quiet on this fleet: a forecast, two drift rules, a correlation and a compliance rule.
        for rule in [
            "battery-depletion-remote", "humidity-drift", "cold-store-reference", "humidity-battery", "modem-firmware",
        ] {
            #expect(silent.contains(rule), "\(rule) should be reported as never firing")
        }
        // They fire here: forecast, drift, balance (moves devices) and compliance.
        for rule in ["battery-depletion", "temperature-drift", "gateway-load", "firmware-baseline"] {
            #expect(!silent.contains(rule), "\(rule) fires on this fleet")
        }
        #expect(Self.rules(.firesForMost, in: diagnostics).isEmpty)
        // The balance rule counts loads by the readings' `gateway`: the field is read.
        #expect(!diagnostics.contains { $0.code == .fieldUnused && $0.message.contains("'gateway'") })
    }

    @Test func aForecastFiringForAlmostEveryDeviceIsFlagged() throws {
        // A 3000-day horizon turns every falling battery into a finding.
        let diagnostics = try Self.checkRulesOnTheExampleFleet {
            $0.replacingOccurrences(of: "horizon: 30d", with: "horizon: 3000d")
                .replacingOccurrences(of: "30d: info }", with: "3000d: info }")
        }
        let most = diagnostics.filter { $0.code == .firesForMost }
        #expect(most.map(\.message) == ["rule 'battery-depletion' fired for 52 of 53 devices it applies to"])
    }

    @Test func onlyARuleTheEngineSkipsIsReportedAsNotEvaluatedWithTheReason() throws {
        let source = CorrelationEngineTests.policy.replacingOccurrences(
            of: "y: rate(battery_pct, 1h)", with: "y: rate(battery_pct, 6h)")
        let policy = try Policy.parse(source)
        var engine = Engine(
            plan: policy.compile(),
            inventory: try Inventory(columns: ["device", "site"], rows: [["d1", "site-a"]]))
        engine.finish()
        let notEvaluated = DataChecks.run(engine, dataFiles: ["t.jsonl"]).filter { $0.code == .notEvaluated }
        #expect(notEvaluated.count == 1)
        #expect(notEvaluated.first?.message.hasPrefix("correlation rule 'humidity-battery' is not evaluated (") == true)
        #expect(notEvaluated.first?.message.contains("window equal to the step") == true)
    }
}
