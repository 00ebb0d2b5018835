import Foundation
import Testing

@testable import FleetRules

/// `for: N readings` and `clear_for` (a count of readings or a duration).
@Suite struct DebounceTests {
    func check(_ rules: String) -> PolicyCheck {
        let source = """
            fleetrules: 1
            pack: t
            metrics:
              battery_pct: { unit: percent, range: [0, 100], interval: 5m }
              temperature: { unit: celsius, range: [-40, 125] }
            rules:
            \(rules)
            """
        return PolicyLoader().check(sources: [(file: "t.yaml", bytes: Array(source.utf8))])
    }

    // MARK: check

    @Test func countsAndDurationsCheckClean() throws {
        let r = check(
            """
              - alert: a
                when: last(battery_pct) < 20
                for: 3 readings
                clear_for: 1 reading
              - alert: b
                when: last(battery_pct) < 10
                clear_for: 10m
            """)
        #expect(r.diagnostics.isEmpty, "\(r.diagnostics.map(\.headline))")
        let rules = try #require(r.policy?.rules)
        #expect(rules[0].debounce == Debounce(forReadings: 3, clearFor: .readings(1)))
        #expect(rules[1].debounce == Debounce(forReadings: 0, clearFor: .duration(600)))
    }

    @Test func badCountsAreLocatedErrors() {
        let r = check(
            """
              - alert: a
                when: last(battery_pct) < 20
                for: 0 readings
                clear_for: 0s
              - alert: b
                when: last(battery_pct) < 20
                for: 3 reads
              - alert: c
                when: last(battery_pct) < 20
                for: 2000000 readings
            """)
        #expect(
            r.diagnostics.map(\.headline) == [
                "t.yaml:9:10: error[E0124]: for counts 1 to 1000000 readings, found '0 readings'",
                "t.yaml:10:16: error[E0112]: clear_for must be longer than zero",
                "t.yaml:13:10: error[E0112]: invalid duration '3 reads' in for",
                "t.yaml:16:10: error[E0124]: for counts 1 to 1000000 readings, found '2000000 readings'",
            ])
    }

    @Test func levelsTakeNeitherCountsNorClearFor() {
        let r = check(
            """
              - alert: a
                for: 3 readings
                clear_for: 10m
                levels:
                  - { severity: warning, when: last(battery_pct) < 20 }
            """)
        #expect(r.diagnostics.map(\.code) == [.debounceWithLevels, .debounceWithLevels])
    }

    @Test func thePlanAndTheSchemaShowTheDebounce() throws {
        let policy = try #require(
            check(
                """
                  - alert: a
                    when: last(battery_pct) < 20
                    for: 3 readings
                    clear_for: 10m
                """
            ).policy)
        let steps = try #require(policy.compile().operators.first?.steps)
        #expect(steps.contains("for 3 consecutive readings"))
        #expect(steps.contains("clear_for 10m: resolve once clear held that long"))
        #expect(policy.compile().operators.first?.stateBytesPerDevice == 24 + 16)
        let schema = PolicySchema.document().serialized()
        #expect(schema.contains("\"clear_for\""))
        #expect(schema.contains(Debounce.readingsPattern.replacingOccurrences(of: "\\", with: "\\\\")))
    }

    // MARK: evaluation

    @Test func forCountsConsecutiveReadings() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                    for: 3 readings
                """)
        h.send(0, ["battery_pct": 10])
        h.send(1, ["battery_pct": 10])
        h.send(2, ["battery_pct": 30])  // the count starts over
        h.send(3, ["battery_pct": 10])
        h.send(4, ["temperature": 5])  // another metric: not a reading of this condition
        h.send(50, ["battery_pct": 10])  // a long gap counts as one reading
        h.send(51, ["battery_pct": 10])  // the third in a row
        h.send(52, ["battery_pct": 30])
        let e = h.finish()
        #expect(e.map(\.since) == [EngineHarness.at(51)])
        #expect(e.map(\.until) == [EngineHarness.at(52)])
        #expect(e.first?.evidence.contains { $0.0 == "for_readings" } == true)
    }

    @Test func clearForCountsConsecutiveClearReadings() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                    clear: last(battery_pct) > 25
                    clear_for: 2 readings
                """)
        h.send(0, ["battery_pct": 10])  // fires at once
        h.send(1, ["battery_pct": 30])  // clear 1
        h.send(2, ["battery_pct": 22])  // neither: the clear count starts over
        h.send(3, ["battery_pct": 30])  // clear 1
        h.send(4, ["battery_pct": 30])  // clear 2: resolved
        h.send(5, ["battery_pct": 10])  // a new episode
        let e = h.finish()
        #expect(e.map(\.since) == [0, 5].map(EngineHarness.at))
        #expect(e.map(\.until) == [EngineHarness.at(4), nil])
    }

    @Test func aClearForDurationKeepsFiringUntilClearHeldThatLong() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                    for: 5m
                    clear_for: 10m
                """)
        h.send(0, ["battery_pct": 10])
        h.send(6, ["battery_pct": 10])  // fired at 00:05 (its `for` timer)
        h.send(10, ["battery_pct": 30])  // clear holds from 00:10
        h.send(15, ["battery_pct": 10])  // it stopped: still firing, the clear_for starts over
        h.send(20, ["battery_pct": 30])  // clear from 00:20: resolves at 00:30 by its timer
        h.send(45, ["battery_pct": 30])
        let e = h.finish()
        #expect(e.map(\.since) == [EngineHarness.at(5)])
        #expect(e.map(\.until) == [EngineHarness.at(30)])
    }

    @Test func aClearForDurationStillPendingAtTheEndKeepsTheAlertFiring() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                    clear_for: 1h
                """)
        h.send(0, ["battery_pct": 10])
        h.send(10, ["battery_pct": 30])
        h.send(20, ["battery_pct": 30])
        let e = h.finish()
        #expect(e.count == 1)
        #expect(e.first?.until == nil)
        let x = try h.engine.explain(rule: "low", device: "d1", at: EngineHarness.at(20))
        #expect(x.notes.contains("the clear condition has held for 10m of the 1h `clear_for`"))
    }

    @Test func aTimerNeverAddsToACount() throws {
        // `absent` re-evaluates the rule by a timer 15 minutes after the last reading: that
        // evaluation holds and keeps the count, but only readings add to it.
        var h = try EngineHarness(
            rules: """
                  - alert: quiet
                    when: absent(battery_pct, 15m) or last(battery_pct) < 5
                    for: 2 readings
                """)
        h.send(0, ["battery_pct": 1])  // count 1
        h.send(30, ["battery_pct": 1])  // the 00:15 timer held without counting; count 2
        #expect(h.finish().map(\.since) == [EngineHarness.at(30)])
    }

    @Test func explainShowsTheCount() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                    for: 3 readings
                """)
        h.send(0, ["battery_pct": 10])
        h.send(1, ["battery_pct": 10])
        h.engine.finish()
        let x = try h.engine.explain(rule: "low", device: "d1", at: EngineHarness.at(1))
        #expect(x.notes.contains("the condition held on 2 of the 3 consecutive readings `for` needs"))
    }

    @Test func countedRulesMatchTheirDefinitionOnRandomTelemetry() throws {
        // A reference written from the definition: fire on the 3rd consecutive reading below 20,
        // resolve on the 2nd consecutive reading at or above 20.
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                    for: 3 readings
                    clear_for: 2 readings
                """)
        var state: UInt64 = 11
        var values: [Double] = []
        for _ in 0..<600 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            values.append(Double((state >> 33) % 40))
        }
        var expected: [(Double, Double?)] = []
        var run = 0
        var clearRun = 0
        var open: Double?
        for (i, v) in values.enumerated() {
            let t = EngineHarness.at(Double(i * 5))
            h.send(Double(i * 5), ["battery_pct": v])
            if let since = open {
                clearRun = v >= 20 ? clearRun + 1 : 0
                if clearRun == 2 {
                    expected.append((since, t))
                    open = nil
                    run = 0
                }
            } else {
                run = v < 20 ? run + 1 : 0
                if run == 3 {
                    open = t
                    clearRun = 0
                }
            }
        }
        if let since = open { expected.append((since, nil)) }
        let e = h.finish()
        #expect(expected.count > 10)
        #expect(e.map(\.since) == expected.map(\.0))
        #expect(e.map(\.until) == expected.map(\.1))
    }
}

@Suite struct DebounceRepeatedRuleTests {
    @Test func rulesThatDifferOnlyInCountsOrLevelsAreNotRepeats() {
        let source = """
            fleetrules: 1
            pack: t
            metrics:
              battery_pct: { unit: percent, range: [0, 100], interval: 5m }
            rules:
              - alert: a
                when: last(battery_pct) < 20
                for: 3 readings
              - alert: b
                when: last(battery_pct) < 20
                for: 5 readings
              - alert: c
                levels:
                  - { severity: warning, when: last(battery_pct) < 20, for: 10m }
              - alert: d
                levels:
                  - { severity: warning, when: last(battery_pct) < 20, for: 30m }
              - alert: e
                when: last(battery_pct) < 20
                for: 3 readings
            """
        let r = PolicyLoader().check(sources: [(file: "t.yaml", bytes: Array(source.utf8))])
        #expect(
            r.diagnostics.map(\.headline) == [
                "t.yaml:18:12: warning[W0305]: rule 'e' repeats the condition of rule 'a'"
            ])
    }
}
