import Foundation
import Testing

@testable import FleetRules

// MARK: series notation

@Suite struct SeriesNotationTests {
    func values(_ text: String) -> [Double?]? {
        if case .success(let v) = SeriesNotation.parse(text) { return v }
        return nil
    }

    func failure(_ text: String) -> SeriesNotation.Failure? {
        if case .failure(let f) = SeriesNotation.parse(text) { return f }
        return nil
    }

    @Test func rampCountsTheStartAndTheSteps() throws {
        let v = try #require(values("80-1x48"))
        #expect(v.count == 49)
        #expect(v.first == 80)
        #expect(v[1] == 79)
        #expect(v.last == 32)
    }

    @Test func termsGapsRepeatsAndSigns() {
        #expect(values("1 _ 3") == [1, nil, 3])
        #expect(values("_x3") == [nil, nil, nil])
        #expect(values("7x3") == [7, 7, 7, 7])
        #expect(values("-5+2.5x2") == [-5, -2.5, 0])
        #expect(values("-2-1x2") == [-2, -3, -4])
        #expect(values("1e2") == [100])
        #expect(values("  4   5 ") == [4, 5])
        #expect(values("0.5") == [0.5])
    }

    @Test func badInputIsLocatedInTheText() throws {
        let increment = try #require(failure("80-1"))
        #expect(increment.message.contains("needs a step count"))
        #expect(increment.offset == 2)
        let third = try #require(failure("1 2 8o"))
        #expect(third.offset == 5)
        #expect(third.message.contains("unexpected 'o'"))
        let count = try #require(failure("10 80-1x"))
        #expect(count.offset == 7)
        #expect(count.message.contains("whole number of steps"))
        #expect(failure("abc")?.message.contains("invalid value 'abc'") == true)
        #expect(failure("_x0")?.message.contains("at least one step") == true)
        #expect(failure("_y")?.message.contains("invalid gap") == true)
        #expect(failure("1x0")?.message.contains("at least one step") == true)
        #expect(failure("1+x2")?.message.contains("expected an increment") == true)
        #expect(failure("1x-2") != nil)
        #expect(failure("")?.message == "the series is empty")
        #expect(failure("   ")?.message == "the series is empty")
        #expect(failure("1x99999999999999")?.message.contains("more than") == true)
        #expect(failure("1x60000 1x60000")?.message.contains("more than 100000 steps") == true)
        #expect(failure("1e308+1e308x3")?.message.contains("finite") == true)
    }
}

// MARK: test files and the runner

/// A small pack whose coverage is counted by hand in `coverageNumbersOfAHandCheckedPack`.
enum DemoPack {
    static let rules = """
        fleetrules: 1
        pack: demo
        metrics:
          x: { unit: percent, range: [0, 100], interval: 5m }
          y: { unit: percent, range: [0, 100], interval: 5m }
        rules:
          - alert: both
            when: last(x) > 10 and last(y) < 5
            for: 10m
            clear: last(x) < 8
            severity: warning
            labels: { team: ops }
            maintenance: check-y
          - limit: x-high
            metric: x
            range: [null, 90]
            severity: info
        """

    static func load(_ test: String, file: String = "demo.test.yaml") -> RuleTestLoader.Loaded {
        RuleTestLoader().load(bytes: Array(test.utf8), file: file) { path in
            guard path == "demo.yaml" else {
                return .failure(PolicyPathError(path: path, reason: "no such file or folder"))
            }
            return .success([(file: "demo.yaml", bytes: Array(rules.utf8))])
        }
    }

    static let passing = """
        fleetrules-test: 1
        rules: [demo.yaml]
        start: 2026-02-01T00:00:00Z
        tests:
          - name: both fires after 10 minutes
            inventory:
              - { device: d1, site: s }
              - { device: d2, site: s }
            series:
              - { device: d1, x: 20x4, y: 10 3x3 }
              - { device: d2, x: 20x4, y: 10x4 }
            expect:
              - at: 10m
                alerts: []
              - at: 20m
                alerts:
                  - { rule: both, device: d1, severity: warning, labels: { team: ops } }
                maintenance:
                  - { device: d1, task: check-y, rule: both }
        """
}

@Suite struct RuleTestRunnerTests {
    func run(_ text: String) throws -> (results: [RuleTestResult], coverage: CoverageRecorder) {
        let loaded = DemoPack.load(text)
        let file = try #require(loaded.file, "\(loaded.diagnostics.map(\.headline))")
        var recorder = CoverageRecorder()
        let results = RuleTestRunner(coverage: true).run(file, into: &recorder)
        return (results, recorder)
    }

    @Test func passingTestPasses() throws {
        let (results, _) = try run(DemoPack.passing)
        #expect(results.map(\.status) == [.pass])
        let text = RuleTestOutput.text(results)
        #expect(text.contains("--- PASS: both fires after 10 minutes (demo.test.yaml:5)"))
        #expect(text.hasSuffix("ok  \tdemo.test.yaml\t1 passed, 0 failed\nPASS\n"))
    }

    @Test func failingTestShowsADiff() throws {
        let wrong = DemoPack.passing
            .replacingOccurrences(
                of: "at: 10m\n        alerts: []",
                with: "at: 10m\n        alerts:\n          - { rule: x-high, device: d2 }"
            )
            .replacingOccurrences(of: "severity: warning, labels", with: "severity: critical, labels")
        let (results, _) = try run(wrong)
        let r = try #require(results.first)
        #expect(r.status == .fail)
        #expect(r.failures.count == 2)
        let text = RuleTestOutput.text(results)
        let expected = """
            --- FAIL: both fires after 10 minutes (demo.test.yaml:5)
                at 2026-02-01T00:10:00Z (+10m), line 13: firing alerts differ (- expected, + actual)
                  - x-high d2
                at 2026-02-01T00:20:00Z (+20m), line 16: firing alerts differ (- expected, + actual)
                  - both d1 severity=critical labels={team=ops}
                  + both d1 severity=warning labels={team=ops} since 2026-02-01T00:15:00Z
            FAIL\tdemo.test.yaml\t0 passed, 1 failed
            FAIL

            """
        #expect(text == expected)
        let junit = RuleTestOutput.junit(results)
        #expect(junit.contains("<testsuite name=\"demo.test.yaml\" tests=\"1\" failures=\"1\" skipped=\"0\">"))
        #expect(
            junit.contains(
                "<failure message=\"at 2026-02-01T00:10:00Z (+10m), line 13: firing alerts differ (- expected, + actual)\">"
            ))
    }

    @Test func unexpectedMaintenanceAndComplianceMismatchFail() throws {
        let wrong = DemoPack.passing.replacingOccurrences(
            of: "maintenance:\n          - { device: d1, task: check-y, rule: both }", with: "maintenance: []")
        let (results, _) = try run(wrong)
        let r = try #require(results.first)
        #expect(r.status == .fail)
        // A firing alert's task is due now (the check time), not when the alert started.
        #expect(r.failures.first?.contains("+ d1 check-y (both) due 2026-02-01T00:20:00Z") == true, "\(r.failures)")
    }

    @Test func rebalancingExpectationsCompareWithTheProposedMoves() throws {
        // The demo pack has no balance rule: an expected move is missing from the report.
        let text = DemoPack.passing + "\n        rebalancing:\n          - { device: d1, from: gw-1, to: gw-2 }\n"
        let (results, _) = try run(text)
        let r = try #require(results.first)
        #expect(r.status == .fail)
        #expect(r.failures.contains { $0.contains("rebalancing moves differ") && $0.contains("- d1: gw-1 → gw-2") })
    }

    /// Hand count. `both` has 11 branches: when true/false, `last(x) > 10` true/false,
    /// `last(y) < 5` true/false, for pending/elapsed, clear false while firing, clear true, fired.
    /// d1: x 20 throughout, y 10 then 3 → when false (t0), then true, pending 5m-15m, fires at 15m,
    /// clear `last(x) < 8` false while firing. d2: y stays 10 → `last(y) < 5` false again.
    /// Never seen: `last(x) > 10` false, clear true. → 9/11. `x-high` (`last(x) > 90`, no `for`):
    /// when true, when false, fired; only when false → 1/3. Total 10/14, 1 of 2 rules fired.
    @Test func coverageNumbersOfAHandCheckedPack() throws {
        let (_, coverage) = try run(DemoPack.passing)
        let both = try #require(coverage.rules.first { $0.id == "both" })
        #expect(both.branches.count == 11)
        #expect(both.covered == 9)
        #expect(
            Set(both.branches.filter { !both.hit.contains($0) }) == [
                "operand `last(x) > 10` false", "clear true (resolved)",
            ])
        let high = try #require(coverage.rules.first { $0.id == "x-high" })
        #expect(high.branches == ["when true", "when false", "fired"])
        #expect(high.covered == 1)
        #expect(coverage.totals.covered == 10)
        #expect(coverage.totals.branches == 14)
        #expect(coverage.totals.rulesFired == 1)
        #expect(coverage.text().contains("total: 1/2 rules fired, 10/14 branches (71%)"))
        let json = coverage.json().serialized()
        #expect(json.contains("\"total\":{\"rules\":2,\"rules_fired\":1,\"branches\":14,\"covered\":10}"))
    }

    @Test func coverageCountsAClearThatResolves() throws {
        let text = DemoPack.passing.replacingOccurrences(of: "x: 20x4, y: 10 3x3", with: "x: 20x4 5, y: 10 3x4")
        let (_, coverage) = try run(text)
        let both = try #require(coverage.rules.first { $0.id == "both" })
        #expect(both.hit.contains("clear true (resolved)"))
        #expect(both.hit.contains("operand `last(x) > 10` false"))
        #expect(both.covered == 11)
    }
}

@Suite struct ForecastExpectationTests {
    func alert(_ rule: String, _ device: String, crossing: String?) -> Report.Alert {
        var evidence: [(String, JSONValue)] = [("level", .number(40)), ("slope_per_day", .number(-2))]
        if let crossing { evidence.append(("crossing_at", .string(crossing))) }
        let episode = AlertEpisode(
            rule: rule, kind: .forecast, pack: "p", device: device, severity: .warning, since: 0, until: nil,
            value: nil,
            summary: "", labels: [:], evidence: evidence, maintenance: nil)
        return Report.Alert(episode: episode, site: "s", zone: "z", priority: 1)
    }

    /// The matcher works on forecast findings as the engine will emit them (evidence
    /// `crossing_at`); end-to-end forecast tests wait for forecast evaluation on main.
    @Test func crossingWithinToleranceMatches() throws {
        let t = try #require(Timestamp.parse("2026-03-10T12:00:00Z"))
        let firing = [
            alert("depletion", "d1", crossing: "2026-03-10T14:00:00Z"), alert("depletion", "d2", crossing: nil),
        ]
        let near = ExpectedForecast(rule: "depletion", device: "d1", crossingAt: t, tolerance: 3 * 3600)
        #expect(RuleTestRunner.compareForecasts([near], firing) == nil)
        var far = near
        far.tolerance = 3600
        #expect(
            RuleTestRunner.compareForecasts([far], firing)
                == "      - depletion d1: crossing_at 2026-03-10T12:00:00Z ± 1h\n      + depletion d1: crossing_at 2026-03-10T14:00:00Z"
        )
        let none = ExpectedForecast(rule: "depletion", device: "d3", crossingAt: nil, tolerance: 3600)
        #expect(RuleTestRunner.compareForecasts([none], firing) == nil)
        // A gauge finding (flat, erratic) predicts no crossing.
        let gauge = ExpectedForecast(rule: "depletion", device: "d2", crossingAt: nil, tolerance: 3600)
        #expect(RuleTestRunner.compareForecasts([gauge], firing) == nil)
        let missingEvidence = ExpectedForecast(rule: "depletion", device: "d2", crossingAt: t, tolerance: 3600)
        #expect(
            RuleTestRunner.compareForecasts([missingEvidence], firing)?.contains("a finding without crossing_at")
                == true)
        let unexpected = ExpectedForecast(rule: "depletion", device: "d1", crossingAt: nil, tolerance: 3600)
        #expect(RuleTestRunner.compareForecasts([unexpected], firing)?.contains("- depletion d1: no crossing") == true)
    }
}

@Suite struct RuleTestFileTests {
    func headlines(_ text: String) -> [String] { DemoPack.load(text).diagnostics.map(\.headline) }

    @Test func badSeriesNotationIsLocatedInTheFile() {
        let text = DemoPack.passing.replacingOccurrences(of: "x: 20x4, y: 10 3x3", with: "x: 20x4, y: 10 3-1")
        #expect(
            headlines(text) == [
                "demo.test.yaml:10:39: error[E0503]: the increment in '3-1' needs a step count"
            ])
    }

    @Test func unknownNamesAndVersionsAreLocated() {
        let text = DemoPack.passing
            .replacingOccurrences(of: "rule: both,", with: "rule: bothh,")
            .replacingOccurrences(of: "device: d2, x:", with: "device: d3, x:")
            .replacingOccurrences(of: "y: 10x4", with: "z: 10x4")
        let h = headlines(text)
        #expect(h.contains("demo.test.yaml:11:19: error[E0504]: device 'd3' is not in the test's inventory"))
        #expect(h.contains("demo.test.yaml:11:32: error[E0504]: 'z' is neither a declared metric nor an attribute"))
        #expect(h.contains("demo.test.yaml:17:21: error[E0504]: no rule 'bothh' in the rules this file loads"))
        #expect(
            headlines(DemoPack.passing.replacingOccurrences(of: "fleetrules-test: 1", with: "fleetrules-test: 2")) == [
                "demo.test.yaml:1:18: error[E0501]: unsupported test file version '2'"
            ])
        #expect(
            headlines(DemoPack.passing.replacingOccurrences(of: "rules: [demo.yaml]", with: "rules: [demo.yml]")).first
                == "demo.test.yaml:2:9: error[E0502]: rules path 'demo.yml': no such file or folder")
        #expect(
            headlines(DemoPack.passing.replacingOccurrences(of: "at: 20m", with: "at: 20 minutes")).first?
                .hasPrefix("demo.test.yaml:15:13: error[E0112]: invalid duration") == true)
        #expect(
            headlines(
                DemoPack.passing.replacingOccurrences(of: "severity: warning, labels", with: "severty: warning, labels")
            )
            .first == "demo.test.yaml:17:39: error[E0103]: unknown key 'severty' in an expected alert")
    }
}

// MARK: explain

@Suite struct ExplainTests {
    func engine(at t: String) throws -> Engine {
        let loaded = DemoPack.load(DemoPack.passing)
        let file = try #require(loaded.file)
        let test = try #require(file.tests.first)
        let time = try #require(Timestamp.parse(t))
        return RuleTestRunner.engine(at: time, test, file.policy.compile(lateness: 0))
    }

    @Test func pendingRuleSaysHowLongTheForHasRun() throws {
        let e = try engine(at: "2026-02-01T00:10:00Z").explain(rule: "both", device: "d1")
        #expect(e.state == .pending)
        #expect(e.pendingFor == 300)
        #expect(e.condition?.truth == true)
        #expect(
            e.text() == """
                rule both (alert) for device d1 at 2026-02-01T00:10:00Z
                when:
                  ✓ (last(x) > 10 and last(y) < 5)  → true
                    ✓ last(x) > 10  → true
                      = last(x)  → 20
                    ✓ last(y) < 5  → true
                      = last(y)  → 3
                clear:
                  ✗ last(x) < 8  → false
                    = last(x)  → 20
                for: 10m
                state: pending since 2026-02-01T00:05:00Z (pending for 5m)
                note: the condition has held for 5m of the 10m `for`; it fires at 2026-02-01T00:15:00Z if it keeps holding

                """)
    }

    @Test func firingRuleShowsItsFinding() throws {
        let e = try engine(at: "2026-02-01T00:20:00Z").explain(rule: "both", device: "d1")
        #expect(e.state == .firing)
        #expect(e.since == Timestamp.parse("2026-02-01T00:15:00Z"))
        #expect(e.findings.count == 1)
        let text = e.text()
        #expect(text.contains("state: firing since 2026-02-01T00:15:00Z\n"))
        #expect(text.contains("note: firing until `clear` holds (hysteresis), even if the condition is false\n"))
        #expect(text.contains("finding: warning since 2026-02-01T00:15:00Z: d1: both (value 20)\n"))
        let json = e.json().serialized()
        #expect(json.contains("\"state\":\"firing\""))
    }

    @Test func neverFiringRuleNamesThePartThatWasFalse() throws {
        let engine = try engine(at: "2026-02-01T00:20:00Z")
        let e = try engine.explain(rule: "both", device: "d2")
        #expect(e.state == .idle)
        #expect(e.blocking.map(\.expression) == ["last(y) < 5"])
        #expect(e.text().contains("false because:\n  last(y) < 5 is false (last(y) = 10)\n"))
        let limit = try engine.explain(rule: "x-high", device: "d1")
        #expect(limit.state == .idle)
        #expect(limit.blocking.map(\.expression) == ["last(x) > 90"])
        #expect(limit.findings.isEmpty)
        #expect(throws: ExplainError.self) { try engine.explain(rule: "bothh", device: "d1") }
        #expect(throws: ExplainError.self) { try engine.explain(rule: "both", device: "nope") }
    }

    @Test func complianceRuleShowsStateAndVersion() throws {
        let loaded = RuleTestLoader().load(path: Docs.path("rules/tests/plant-health.test.yaml"))
        let file = try #require(loaded.file, "\(loaded.diagnostics.map(\.headline))")
        let test = try #require(file.tests.first { $0.name.hasPrefix("firmware baseline") })
        let t = try #require(Timestamp.parse("2026-01-05T00:40:00Z"))
        let engine = RuleTestRunner.engine(at: t, test, file.policy.compile(lateness: 0))
        let e = try engine.explain(rule: "firmware-baseline", device: "f4", at: t)
        #expect(e.state == .firing)
        #expect(e.notes.contains("compliance state: denied"))
        #expect(e.notes.contains("version: 2.4.2"))
        #expect(e.findings.first?.evidence.contains { $0.0 == "advisory" } == true)
        #expect(e.scope?.truth == true)
    }

    @Test func windowsWithRunningSumsAreExplainedWithoutChangingTheEngine() throws {
        let source = """
            fleetrules: 1
            pack: p
            metrics:
              t: { unit: celsius, range: [-50, 100], interval: 5m }
            rules:
              - alert: warm
                when: avg(t, 15m) > 30
                severity: info
            """
        let policy = try #require(PolicyLoader().check(sources: [(file: "p.yaml", bytes: Array(source.utf8))]).policy)
        var engine = Engine(
            plan: policy.compile(lateness: 0), inventory: try Inventory(columns: ["device"], rows: [["a"]]))
        engine.wallClockLimit = .infinity
        let start = try #require(Timestamp.parse("2026-02-01T00:00:00Z"))
        for (i, v) in [20.0, 40, 45].enumerated() {
            engine.ingest(Reading(timestamp: start + Double(i) * 300, device: "a", metrics: ["t": v]))
        }
        engine.advance(to: start + 600)
        let first = try engine.explain(rule: "warm", device: "a", at: start + 600)
        let again = try engine.explain(rule: "warm", device: "a", at: start + 600)
        #expect(first.condition?.children.first?.value == "35")
        #expect(again.condition?.children.first?.value == "35")
        #expect(first.state == .firing)
    }
}

@Suite struct RuleTestPathTests {
    @Test func rulePathsFormOnePolicySetAndRuleErrorsAreShown() throws {
        let fleet = Docs.path("rules/00-fleet.yaml")
        let battery = Docs.path("rules/battery.yaml")
        let test = """
            fleetrules-test: 1
            rules: [\(fleet), \(battery)]
            tests:
              - name: low
                inventory: [{ device: s1, power: battery }]
                series: [{ device: s1, battery_pct: "19x7 _ 30" }]
                expect:
                  - { at: 30m, alerts: [{ rule: battery-low, device: s1 }] }
                  - { at: 45m, alerts: [] }
            """
        let path = try CLI.temporaryFile("split.test.yaml", test)
        let loaded = RuleTestLoader().load(path: path)
        let file = try #require(loaded.file, "\(loaded.diagnostics.map(\.headline))")
        #expect(file.policy.rules.count == 5)
        var recorder = CoverageRecorder()
        #expect(RuleTestRunner().run(file, into: &recorder).map(\.status) == [.pass])
        let alone = try CLI.temporaryFile("alone.test.yaml", test.replacingOccurrences(of: "\(fleet), ", with: ""))
        let headlines = RuleTestLoader().load(path: alone).diagnostics.map(\.headline)
        #expect(headlines.contains { $0.hasPrefix("\(battery):") && $0.contains("error[E0203]") })
        #expect(
            headlines.contains {
                $0.contains("alone.test.yaml:2:8: error[E0502]: the rules this file loads have errors")
            })
    }
}
