import Foundation
import Testing

@testable import FleetRules

/// Number attributes with units: per-device thresholds from the inventory.
@Suite struct AttributeUnitTests {
    static func check(attributes: String, rules: String) -> PolicyCheck {
        let source = """
            fleetrules: 1
            pack: t
            metrics:
              temperature: { unit: celsius, range: [-40, 125] }
              battery_pct: { unit: percent, range: [0, 100] }
            attributes:
            \(attributes)
            rules:
            \(rules)
            """
        return PolicyLoader().check(sources: [(file: "p.yaml", bytes: Array(source.utf8))])
    }

    @Test func aNumberAttributeWithAUnitComparesWithMetricsOfThatUnit() throws {
        let ok = Self.check(
            attributes: "  max_temp: { type: number, unit: celsius }",
            rules: """
                  - alert: over-rated
                    when: last(temperature) > max_temp
                  - alert: near-rated
                    when: last(temperature) > max_temp - 5
                """)
        #expect(ok.diagnostics.isEmpty, "\(ok.diagnostics.map(\.message))")
        #expect(ok.policy?.attributes["max_temp"] == .number(unit: "celsius"))

        let percent = Self.check(
            attributes: "  max_temp: { type: number, unit: celsius }",
            rules: """
                  - alert: wrong
                    when: last(battery_pct) > max_temp
                """)
        #expect(percent.diagnostics.map(\.code) == [.unitMismatch])
    }

    @Test func aUnitlessAttributeAgainstAMetricIsAnError() throws {
        let c = Self.check(
            attributes: "  max_temp: number",
            rules: """
                  - alert: over-rated
                    when: last(temperature) > max_temp
                  - alert: plain
                    when: max_temp > 40
                """)
        let d = try #require(c.diagnostics.first)
        #expect(c.diagnostics.count == 1)
        #expect(d.code == .unitlessAttribute)
        #expect(d.message == "attribute 'max_temp' has no unit; it cannot be compared with celsius")
        #expect(d.hint == "declare its unit: attributes: { max_temp: { type: number, unit: celsius } }")
        #expect(d.range.start.line == 10)
    }

    @Test func aUnitOnlyOnNumbers() throws {
        let c = Self.check(
            attributes: """
                  site_code: { type: string, unit: celsius }
                  rating: { type: number, unit: celsus }
                  other: { type: numbr }
                """,
            rules: """
                  - alert: a
                    when: last(temperature) > 100
                """)
        #expect(c.diagnostics.map(\.code) == [.unitOnNonNumber, .unknownUnit, .invalidValue])
        #expect(c.diagnostics[1].hint == "did you mean 'celsius'?")
    }

    static let rules = """
        fleetrules: 1
        pack: t
        metrics:
          temperature: { unit: celsius, range: [-40, 125] }
        attributes:
          max_temp: { type: number, unit: celsius }
        rules:
          - alert: over-rated-temperature
            when: last(temperature) > max_temp
        """

    @Test func eachDeviceAgainstItsOwnRatingAndEmptyColumnsNeverHold() throws {
        let policy = try Policy.parse(Self.rules)
        let inventory = try Inventory(
            columns: ["device", "type", "site", "max_temp"],
            rows: [["d1", "s", "a", "30"], ["d2", "s", "a", "50"], ["d3", "s", "a", ""], ["d4", "s", "a", "hot"]])
        var engine = Engine(plan: policy.compile(), inventory: inventory)
        let t0 = 1_772_323_200.0
        for (i, d) in ["d1", "d2", "d3", "d4"].enumerated() {
            engine.ingest(Reading(timestamp: t0 + Double(i), device: d, metrics: ["temperature": 40]))
        }
        engine.finish()
        #expect(engine.episodes.map(\.device) == ["d1"])

        let diagnostics = DataChecks.run(engine, dataFiles: ["t.jsonl"])
        let empty = try #require(diagnostics.first { $0.code == .attributeWithoutValue })
        #expect(
            empty.message
                == "rule 'over-rated-temperature' reads number attribute 'max_temp', which has no value for 2 devices: d3, d4"
        )
    }
}
