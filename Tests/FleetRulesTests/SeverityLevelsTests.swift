import Foundation
import Testing

@testable import FleetRules
@testable import FleetRulesDelivery

/// Alerts with `levels:`: one episode per device that changes severity between its levels.
@Suite struct SeverityLevelsTests {
    static let battery = """
          - alert: battery
            levels:
              - { severity: warning, when: last(battery_pct) < 20, clear: last(battery_pct) > 25, for: 30m }
              - { severity: critical, when: last(battery_pct) < 10, clear: last(battery_pct) > 15, for: 5m }
            summary: "{{device}} battery {{severity}} at {{value}}%"
        """

    func check(_ rules: String) -> PolicyCheck {
        let source = """
            fleetrules: 1
            pack: t
            metrics:
              battery_pct: { unit: percent, range: [0, 100], interval: 5m }
            rules:
            \(rules)
            """
        return PolicyLoader().check(sources: [(file: "t.yaml", bytes: Array(source.utf8))])
    }

    // MARK: check

    @Test func aLevelsRuleChecksCleanAndTakesItsSeverityFromTheTopLevel() throws {
        let r = check(Self.battery)
        #expect(r.diagnostics.isEmpty, "\(r.diagnostics.map(\.headline))")
        let rule = try #require(r.policy?.rules.first)
        #expect(rule.severity == .critical)
        #expect(rule.levels.map(\.severity) == [.warning, .critical])
        #expect(rule.levels.map(\.forDuration) == [1800, 300])
    }

    @Test func theRulesForIsTheDefaultOfItsLevels() throws {
        let r = check(
            """
              - alert: b
                for: 20m
                levels:
                  - { severity: info, when: last(battery_pct) < 30 }
                  - { severity: warning, when: last(battery_pct) < 20, for: 0s }
            """)
        #expect(r.diagnostics.isEmpty, "\(r.diagnostics.map(\.headline))")
        #expect(try #require(r.policy?.rules.first).levels.map(\.forDuration) == [1200, 0])
    }

    @Test func whenClearAndSeverityBesideLevelsAreLocatedErrors() {
        let r = check(
            """
              - alert: b
                when: last(battery_pct) < 20
                severity: critical
                levels:
                  - { severity: warning, when: last(battery_pct) < 20 }
            """)
        #expect(
            r.diagnostics.map(\.headline) == [
                "t.yaml:7:5: error[E0120]: `when` is given per level in an alert with `levels`",
                "t.yaml:8:5: error[E0120]: `severity` is given per level in an alert with `levels`",
            ])
        #expect(r.diagnostics.allSatisfy { $0.hint?.contains("move it into each level") == true })
    }

    @Test func unorderedDuplicateAndEmptyLevelsAreLocatedErrors() {
        let unordered = check(
            """
              - alert: b
                levels:
                  - { severity: critical, when: last(battery_pct) < 10 }
                  - { severity: warning, when: last(battery_pct) < 20 }
            """)
        #expect(
            unordered.diagnostics.map(\.headline) == [
                "t.yaml:9:9: error[E0121]: level warning comes after the more severe critical"
            ])
        let duplicate = check(
            """
              - alert: b
                levels:
                  - { severity: warning, when: last(battery_pct) < 20 }
                  - { severity: warning, when: last(battery_pct) < 10 }
            """)
        #expect(duplicate.diagnostics.map(\.code) == [.invalidLevels])
        #expect(duplicate.diagnostics.first?.message == "two levels have severity warning")
        let empty = check(
            """
              - alert: b
                levels: []
            """)
        #expect(empty.diagnostics.map(\.code) == [.invalidLevels])
        let notAList = check(
            """
              - alert: b
                levels: { severity: warning }
            """)
        #expect(notAList.diagnostics.map(\.code) == [.wrongType])
    }

    @Test func aMoreSevereLevelReachedFirstIsAnOverlap() {
        let r = check(
            """
              - alert: b
                levels:
                  - { severity: warning, when: last(battery_pct) < 10 }
                  - { severity: critical, when: last(battery_pct) < 20 }
            """)
        #expect(
            r.diagnostics.map(\.headline) == [
                "t.yaml:9:9: error[E0122]: level critical (last(battery_pct) < 20) is reached before level warning (last(battery_pct) < 10)"
            ])
        let rising = check(
            """
              - alert: b
                levels:
                  - { severity: warning, when: last(battery_pct) > 90 }
                  - { severity: critical, when: last(battery_pct) > 80 }
            """)
        #expect(rising.diagnostics.map(\.code) == [.overlappingLevels])
    }

    @Test func aLevelsMistakesAreAllReported() {
        let r = check(
            """
              - alert: b
                levels:
                  - { severity: urgent, when: last(battery_pct) < 10 }
                  - { when: last(battery) < 5, for: 5 }
            """)
        let codes = r.diagnostics.map(\.code.rawValue)
        #expect(codes.contains("E0110"))  // severity: urgent
        #expect(codes.contains("E0105"))  // a level without severity
        #expect(codes.contains("E0203") || codes.contains("E0202"))  // battery
        #expect(codes.contains("E0112"))  // for: 5
    }

    @Test func theFuzzSeedOfLevelsChecksWithEveryMistakeLocated() throws {
        let path = CLI.repoRoot.appendingPathComponent("Fuzz/Corpus/policy/severity-levels.yaml").path
        let r = PolicyLoader().check(files: [path])
        let lines = r.diagnostics.map { "\($0.range.start.line) \($0.code.rawValue)" }
        #expect(lines == ["18 E0121", "20 E0120", "23 E0122", "25 E0121", "27 E0104"])
    }

    @Test func anAlertWithoutWhenOrLevelsStillMissesWhen() {
        let r = check(
            """
              - alert: b
                for: 5m
            """)
        #expect(
            r.diagnostics.map(\.headline) == [
                "t.yaml:6:5: error[E0105]: alert rule 'b' is missing the required key 'when'"
            ])
    }

    @Test func theSchemaTakesWhenOrLevels() throws {
        let schema = PolicySchema.document()
        let text = schema.serialized()
        #expect(text.contains("\"levels\""))
        #expect(text.contains("\"oneOf\":[{\"required\":[\"when\"]},{\"required\":[\"levels\"]}]"))
    }

    @Test func thePlanShowsEachLevelAndItsState() throws {
        let policy = try #require(check(Self.battery).policy)
        let plan = policy.compile()
        let op = try #require(plan.operators.first)
        #expect(op.steps.contains("level warning: when last(battery_pct) < 20 for 30m clear last(battery_pct) > 25"))
        #expect(op.steps.contains("level critical: when last(battery_pct) < 10 for 5m clear last(battery_pct) > 15"))
        #expect(!op.steps.contains { $0.hasPrefix("emit critical") })
        #expect(op.stateBytesPerDevice == 24 + 2 * 16 + 8)
        #expect(PlanRenderer.text(plan).contains("level critical"))
    }

    // MARK: evaluation

    @Test func oneEpisodeEscalatesFallsBackAndResolves() throws {
        var h = try EngineHarness(rules: Self.battery)
        h.send(0, ["battery_pct": 30])
        h.send(10, ["battery_pct": 18])  // warning pending from 00:10, fires at 00:40
        h.send(45, ["battery_pct": 8])  // critical pending from 00:45, reached at 00:50
        h.send(55, ["battery_pct": 9])
        h.send(60, ["battery_pct": 16])  // critical's clear (> 15) holds: back to warning
        h.send(70, ["battery_pct": 22])  // warning's clear (> 25) does not hold
        h.send(80, ["battery_pct": 26])  // resolved
        h.engine.finish()
        let events = h.engine.drainAlerts()
        #expect(events.map(\.change) == [.fired, .updated, .updated, .resolved])
        #expect(events.map(\.time) == [40, 50, 60, 80].map(EngineHarness.at))
        #expect(events.map(\.episode.severity) == [.warning, .critical, .warning, .warning])
        #expect(events[1].episode.summary == "d1 battery critical at 8%")
        #expect(events[0].episode.summary == "d1 battery warning at 18%")
        let episodes = h.finish()
        #expect(episodes.count == 1)
        let e = try #require(episodes.first)
        #expect(e.since == EngineHarness.at(40))
        #expect(e.until == EngineHarness.at(80))
        #expect(e.severityPath == ["warning", "critical", "warning"])
    }

    @Test func reachingTheTopLevelFirstOpensAtItAndCarriesTheMilderOne() throws {
        var h = try EngineHarness(rules: Self.battery)
        h.send(0, ["battery_pct": 5])  // both pending; critical reached at 00:05
        h.send(10, ["battery_pct": 5])
        h.send(15, ["battery_pct": 18])  // critical clears; warning was reached with it
        h.send(20, ["battery_pct": 30])
        h.engine.finish()
        let events = h.engine.drainAlerts()
        #expect(events.map(\.change) == [.fired, .updated, .resolved])
        #expect(events.map(\.episode.severity) == [.critical, .warning, .warning])
        #expect(events.map(\.time) == [5, 15, 20].map(EngineHarness.at))
    }

    @Test func aLevelThatStopsHoldingBeforeItsForIsNeverReached() throws {
        var h = try EngineHarness(rules: Self.battery)
        h.send(0, ["battery_pct": 18])
        h.send(5, ["battery_pct": 8])  // critical pending
        h.send(8, ["battery_pct": 12])  // critical's condition fails before its 5m
        h.send(35, ["battery_pct": 12])  // warning reached at 00:30 (its timer)
        h.engine.finish()
        let events = h.engine.drainAlerts()
        #expect(events.map(\.change) == [.fired])
        #expect(events.first?.episode.severity == .warning)
        #expect(events.first?.time == EngineHarness.at(30))
    }

    @Test func devicesHaveTheirOwnLevels() throws {
        var h = try EngineHarness(rules: Self.battery, devices: ["d1", "d2"])
        h.send(0, ["battery_pct": 5], device: "d1")
        h.send(0, ["battery_pct": 18], device: "d2")
        h.send(40, ["battery_pct": 5], device: "d1")
        h.send(40, ["battery_pct": 18], device: "d2")
        let episodes = h.finish()
        #expect(episodes.map(\.device) == ["d1", "d2"])
        #expect(episodes.map(\.severity) == [.critical, .warning])
    }

    @Test func leavingTheScopeResolvesAndStartsTheLevelsOver() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: battery
                    where: power == "battery"
                    levels:
                      - { severity: warning, when: last(battery_pct) < 20 }
                      - { severity: critical, when: last(battery_pct) < 10 }
                """)
        h.send(0, ["battery_pct": 5])
        let mains = Reading(
            timestamp: EngineHarness.at(5), device: "d1", metrics: ["battery_pct": 15], attributes: ["power": "mains"])
        #expect(h.engine.ingest(mains) == nil)
        h.send(10, ["battery_pct": 5])  // out of scope: nothing opens
        let episodes = h.finish()
        #expect(episodes.map(\.severity) == [.critical])
        #expect(episodes.first?.until == EngineHarness.at(5))
    }

    @Test func theLevelsMatchTwoPlainRulesOnRandomTelemetry() throws {
        // The same levels written as two plain rules: the levels alert is critical exactly when
        // the critical rule fires and firing exactly when either does (no `for`, no `clear`).
        var h = try EngineHarness(
            rules: """
                  - alert: both
                    levels:
                      - { severity: warning, when: last(battery_pct) < 40 }
                      - { severity: critical, when: last(battery_pct) < 20 }
                  - alert: warn
                    when: last(battery_pct) < 40
                  - alert: crit
                    when: last(battery_pct) < 20
                """)
        var generator = SplitMix(seed: 7)
        for minute in 0..<400 {
            h.send(Double(minute * 5), ["battery_pct": Double(generator.next() % 60)])
        }
        let all = h.finish()
        let levels = all.filter { $0.rule == "both" }
        let warn = all.filter { $0.rule == "warn" }
        let crit = all.filter { $0.rule == "crit" }
        #expect(levels.count > 5 && crit.count > levels.count, "the series must open, escalate and resolve often")
        #expect(levels.map(\.since) == warn.map(\.since))
        #expect(levels.map(\.until) == warn.map(\.until))
        let changes = levels.flatMap { e in
            (e.evidence.first { $0.0 == "severity_changes" }.map { [$0.1] } ?? [])
        }
        let escalations = changes.flatMap { c -> [String] in
            guard case .array(let list) = c else { return [] }
            return list.compactMap { if case .string(let t)? = $0["to"], t == "critical" { t } else { nil } }
        }
        let openedCritical = levels.count {
            $0.severityPath?.first == "critical" || ($0.severityPath == nil && $0.severity == .critical)
        }
        #expect(escalations.count + openedCritical == crit.count)
    }

    // MARK: report and delivery

    @Test func theReportShowsTheSeverityChanges() throws {
        var h = try EngineHarness(rules: Self.battery)
        h.send(0, ["battery_pct": 18])
        h.send(35, ["battery_pct": 8])
        h.send(45, ["battery_pct": 8])
        h.engine.finish()
        let report = Report(assembling: h.engine.output())
        let json = report.json().serialized()
        #expect(json.contains("\"severity\":\"critical\""))
        #expect(
            json.contains(
                "\"severity_changes\":[{\"time\":\"2026-03-01T00:40:00Z\",\"from\":\"warning\",\"to\":\"critical\"}]"))
        #expect(json.contains("\"levels\":[{\"severity\":\"warning\""))
        #expect(TableRenderer.render(report).contains("[levels: warning → critical]"))
        #expect(HTMLRenderer.render(report).contains("<div class=\"levels\">levels: warning → critical</div>"))
        let decoded = try Report.decode(json: json)
        #expect(decoded.alerts.first?.episode.severityPath == ["warning", "critical"])
    }

    @Test func deliverySeesAnUpdateWithTheNewSeverity() throws {
        var h = try EngineHarness(rules: Self.battery)
        h.send(0, ["battery_pct": 18])
        h.send(35, ["battery_pct": 8])
        h.send(45, ["battery_pct": 8])
        h.send(90, ["battery_pct": 30])
        h.engine.finish()
        var router = AlertRouter(config: try #require(DeliveryConfigTests.check(AlertRouterTests.config).config))
        let sent = router.process(h.engine.drainAlerts(), inventory: h.engine.inventory) + router.finish()
        let pager = sent.filter { $0.receiver == "pager" }
        let ops = sent.filter { $0.receiver == "ops" }
        // Warning at 00:30 to ops; critical at 00:40 to the pager and ops; resolved to both.
        #expect(pager.flatMap(\.alerts).map(\.status) == [.firing, .resolved])
        #expect(pager.first?.alerts.first?.severity == "critical")
        // The escalation also ends the warning label set where it was sent (Alertmanager tells
        // alerts apart by their labels), once.
        #expect(
            ops.flatMap(\.alerts).map { "\($0.status.rawValue) \($0.severity)" } == [
                "firing warning", "firing critical", "resolved warning", "resolved critical",
            ])
        #expect(Set(sent.flatMap(\.alerts).filter { $0.status == .firing }.map(\.key)).count == 1)
    }

    @Test func explainNamesEachLevel() throws {
        var h = try EngineHarness(rules: Self.battery)
        h.send(0, ["battery_pct": 18])
        h.send(35, ["battery_pct": 8])
        h.engine.finish()
        let x = try h.engine.explain(rule: "battery", device: "d1", at: EngineHarness.at(35))
        #expect(x.state == .firing)
        #expect(x.notes.contains("level warning: reached at 2026-03-01T00:30:00Z"))
        #expect(x.notes.contains("level critical: its condition has held for 0s of its 5m `for`"))
    }
}

/// A small deterministic generator for the randomised comparisons.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
