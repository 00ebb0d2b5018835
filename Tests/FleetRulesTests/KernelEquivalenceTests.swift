import Foundation
import Testing

@testable import FleetRules

/// The engine's fast paths (threshold conjunctions and `age` thresholds without the expression
/// interpreter, running windows shared by aggregates of one width) must decide exactly what the
/// interpreter decides. Each test runs a fast-path rule beside a rewording the compiler cannot
/// take the fast path for, over irregular random telemetry with gaps, and compares the episodes.
@Suite struct KernelEquivalenceTests {
    /// Irregular readings for three devices: intervals of 1–20 minutes, hour-long gaps, and lines
    /// that carry only one of the two metrics.
    static func feed(_ h: inout EngineHarness, seed: UInt64, count: Int = 1500) {
        var state = seed
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        var minutes = [0.0, 0.0, 0.0]
        for _ in 0..<count {
            let d = Int(next() * 3)
            minutes[d] += 1 + next() * 19 + (next() < 0.02 ? 60 + next() * 120 : 0)
            var metrics: [String: Double] = [:]
            let pick = next()
            if pick < 0.8 { metrics["temperature"] = 20 + 20 * next() }
            if pick > 0.2 { metrics["battery_pct"] = 100 * next() }
            h.send(minutes[d], metrics, device: "d\(d + 1)")
        }
    }

    static func episodes(_ e: [AlertEpisode], _ rule: String) -> [String] {
        e.filter { $0.rule == rule }.map { "\($0.device) \($0.since) \($0.until.map { "\($0)" } ?? "open")" }.sorted()
    }

    static func kernel(_ h: EngineHarness, rule: Int) -> EngineProgram.Kernel? {
        EngineProgram(plan: h.engine.plan, inventory: h.engine.inventory).operators[rule]?.condition
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func thresholdConjunctionDecidesAsTheInterpreter(seed: UInt64) throws {
        var h = try EngineHarness(
            rules: """
                  - alert: fast
                    when: avg(temperature, 1h) > 30 and avg(battery_pct, 1h) < 50 and last(temperature) >= 25
                    for: 10m
                  - alert: interpreted
                    when: not (avg(temperature, 1h) <= 30) and not (avg(battery_pct, 1h) >= 50) and not (last(temperature) < 25)
                    for: 10m
                """, devices: ["d1", "d2", "d3"], lateness: 3600)
        guard case .all(let parts)? = Self.kernel(h, rule: 0) else {
            Issue.record("the conjunction was not compiled to the threshold kernel")
            return
        }
        #expect(parts.count == 3)
        if case .all? = Self.kernel(h, rule: 1) { Issue.record("the rewording must use the interpreter") }
        Self.feed(&h, seed: seed)
        let e = h.finish()
        let fast = Self.episodes(e, "fast")
        #expect(!fast.isEmpty)
        #expect(fast == Self.episodes(e, "interpreted"))
    }

    /// A `limit` with both bounds is a disjunction of two thresholds.
    @Test(arguments: [6, 7] as [UInt64])
    func limitRangeDecidesAsTheInterpreter(seed: UInt64) throws {
        var h = try EngineHarness(
            rules: """
                  - limit: fast
                    metric: temperature
                    range: [24, 36]
                    for: 10m
                  - alert: interpreted
                    when: not (last(temperature) >= 24 and last(temperature) <= 36)
                    for: 10m
                  - alert: mixed
                    when: avg(temperature, 1h) > 34 or last(battery_pct) < 10
                  - alert: mixed-interpreted
                    when: not (avg(temperature, 1h) <= 34 and last(battery_pct) >= 10)
                """, devices: ["d1", "d2", "d3"], lateness: 3600)
        for rule in [0, 2] {
            guard case .any(let parts)? = Self.kernel(h, rule: rule) else {
                Issue.record("rule \(rule)'s disjunction was not compiled to the threshold kernel")
                return
            }
            #expect(parts.count == 2)
        }
        if case .any? = Self.kernel(h, rule: 1) { Issue.record("the rewording must use the interpreter") }
        Self.feed(&h, seed: seed)
        let e = h.finish()
        #expect(!Self.episodes(e, "fast").isEmpty)
        #expect(!Self.episodes(e, "mixed").isEmpty)
        #expect(Self.episodes(e, "fast") == Self.episodes(e, "interpreted"))
        #expect(Self.episodes(e, "mixed") == Self.episodes(e, "mixed-interpreted"))
    }

    @Test(arguments: [4, 5] as [UInt64])
    func ageThresholdDecidesAsTheInterpreter(seed: UInt64) throws {
        var h = try EngineHarness(
            rules: """
                  - alert: fast
                    when: age(battery_pct) > 40m
                  - alert: interpreted
                    when: not (age(battery_pct) <= 40m)
                """, devices: ["d1", "d2", "d3"], lateness: 3600)
        guard case .threshold? = Self.kernel(h, rule: 0) else {
            Issue.record("the age comparison was not compiled to the threshold kernel")
            return
        }
        Self.feed(&h, seed: seed)
        let e = h.finish()
        let fast = Self.episodes(e, "fast")
        #expect(!fast.isEmpty)
        #expect(fast == Self.episodes(e, "interpreted"))
    }

    /// `slope` and `avg` of one width share a running window; the slope must not change when
    /// another rule adds an aggregate of the same width.
    @Test func sharedRunningWindowKeepsEachAggregateExact() throws {
        let slopeRule = """
              - alert: draining
                when: slope(battery_pct, 2h) < -5
            """
        var alone = try EngineHarness(rules: slopeRule, devices: ["d1", "d2", "d3"], lateness: 3600)
        var shared = try EngineHarness(
            rules: slopeRule + """

                  - alert: low-average
                    when: avg(battery_pct, 2h) < 40
                  - alert: few
                    when: count(battery_pct, 2h) < 3
                """, devices: ["d1", "d2", "d3"], lateness: 3600)
        let program = EngineProgram(plan: shared.engine.plan, inventory: shared.engine.inventory)
        #expect(program.runningWidth == [7200])
        #expect(program.runningSlope == [true])
        Self.feed(&alone, seed: 9)
        Self.feed(&shared, seed: 9)
        let a = Self.episodes(alone.finish(), "draining")
        let b = shared.finish()
        #expect(!a.isEmpty)
        #expect(a == Self.episodes(b, "draining"))
        #expect(!Self.episodes(b, "low-average").isEmpty)
    }
}
