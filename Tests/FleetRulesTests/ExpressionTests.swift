import Testing

@testable import FleetRules

/// Checks one `when:` expression inside a minimal pack and returns the diagnostics' headlines.
func checkCondition(_ condition: String, extra: String = "") -> (TypedExpression?, [String]) {
    let source = """
        fleetrules: 1
        pack: t
        metrics:
          battery_pct: { unit: percent, range: [0, 100], interval: 5m }
          temperature: { unit: celsius, range: [-40, 125] }
          load: { unit: ratio }
        lists:
          critical_sites: [plant-a, plant-c]
        macros:
          on_battery: power == "battery"
        \(extra)
        rules:
          - alert: r
            when: \(condition)

        """
    let result = PolicyLoader().check(sources: [(file: "t.yaml", bytes: Array(source.utf8))])
    let rule = result.policy?.rules.first
    var condition: TypedExpression?
    if case .alert(let a)? = rule?.body { condition = a.condition }
    return (condition, result.diagnostics.filter { $0.code != .unusedList && $0.code != .unusedMacro }.map(\.headline))
}

@Suite struct ExpressionParsingTests {
    @Test func andBindsTighterThanOr() {
        let (e, d) = checkCondition("site == \"a\" or site == \"b\" and zone == \"c\"")
        #expect(d.isEmpty)
        #expect(e?.description == "(site == \"a\" or (site == \"b\" and zone == \"c\"))")
    }

    @Test func notBindsLooserThanComparison() {
        let (e, _) = checkCondition("not last(battery_pct) < 20")
        #expect(e?.description == "not (last(battery_pct) < 20)")
    }

    @Test func arithmeticPrecedence() {
        let (e, d) = checkCondition("last(temperature) - 2 * 3 > 1")
        #expect(d.isEmpty)
        #expect(e?.description == "(last(temperature) - (2 * 3)) > 1")
    }

    @Test func durationsAndCompoundDurations() {
        let (e, d) = checkCondition("age(battery_pct) > 1h30m")
        #expect(d.isEmpty)
        #expect(e?.description == "age(battery_pct) > 1h30m")
    }

    @Test func macrosExpandAndListsInline() {
        let (e, d) = checkCondition("on_battery and site in critical_sites")
        #expect(d.isEmpty)
        #expect(e?.description == "(power == \"battery\" and site in [\"plant-a\", \"plant-c\"])")
    }

    @Test func chainedComparisonIsAnError() {
        let (_, d) = checkCondition("1 < last(battery_pct) < 5")
        #expect(d == ["t.yaml:14:33: error[E0201]: comparisons cannot be chained"])
    }

    @Test func cStyleOperatorsGetAHint() {
        let source = """
            fleetrules: 1
            pack: t
            rules:
              - alert: r
                when: site == "a" && zone == "b"
            """
        let r = PolicyLoader().check(sources: [(file: "t.yaml", bytes: Array(source.utf8))])
        #expect(r.diagnostics.first?.headline == "t.yaml:5:23: error[E0201]: unknown operator '&&'")
        #expect(r.diagnostics.first?.hint == "write `and`")
    }

    @Test func blockScalarPositionsPointIntoTheBlock() {
        let source = """
            fleetrules: 1
            pack: t
            metrics:
              battery_pct: { unit: percent, range: [0, 100] }
            rules:
              - alert: r
                when: |
                  site == "a"
                    and last(batery_pct) < 20
            """
        let r = PolicyLoader().check(sources: [(file: "t.yaml", bytes: Array(source.utf8))])
        #expect(r.diagnostics.map(\.headline) == ["t.yaml:9:18: error[E0203]: unknown metric 'batery_pct'"])
    }
}

@Suite struct TypeAndUnitTests {
    @Test func percentLiteralAgainstPercentMetricKeepsItsValue() {
        let (e, d) = checkCondition("last(battery_pct) < 20%")
        #expect(d.isEmpty)
        #expect(e?.description == "last(battery_pct) < 20")
    }

    @Test func percentLiteralAgainstRatioBecomesAFraction() {
        let (e, d) = checkCondition("last(load) > 30%")
        #expect(d.isEmpty)
        #expect(e?.description == "last(load) > 0.3")
    }

    @Test func percentAgainstCelsiusIsAUnitError() {
        let (_, d) = checkCondition("last(temperature) > 30%")
        #expect(d == ["t.yaml:14:11: error[E0207]: cannot compare celsius with percent"])
    }

    @Test func addingDifferentUnitsIsAnError() {
        let (_, d) = checkCondition("last(temperature) + last(battery_pct) > 3")
        #expect(d == ["t.yaml:14:11: error[E0207]: cannot add celsius and percent"])
    }

    @Test func rateHasAPerHourUnit() {
        let (_, d) = checkCondition("rate(battery_pct, 1h) < last(battery_pct)")
        #expect(d == ["t.yaml:14:11: error[E0207]: cannot compare percent/h with percent"])
    }

    @Test func versionsCompareAsVersions() {
        let (e, d) = checkCondition("version(firmware) < v\"2.4.1\"")
        #expect(d.isEmpty)
        #expect(e?.description == "version(firmware) < v\"2.4.1\"")
    }

    @Test func stringAgainstVersionIsATypeError() {
        let (_, d) = checkCondition("firmware < v\"2.4.1\"")
        #expect(d == ["t.yaml:14:11: error[E0206]: cannot compare a string with a version"])
    }

    @Test func nonBooleanConditionIsRejected() {
        let (_, d) = checkCondition("last(battery_pct)")
        #expect(d == ["t.yaml:14:11: error[E0212]: condition must be true or false, but this is a number (percent)"])
    }

    @Test func neverFiresAgainstDeclaredRange() {
        let (_, d) = checkCondition("last(battery_pct) > 120")
        #expect(
            d == [
                "t.yaml:14:11: warning[W0303]: the alert can never fire: `last(battery_pct) > 120` can never hold: battery_pct is declared in [0, 100]"
            ])
    }

    @Test func alwaysTrueAgainstDeclaredRange() {
        let (_, d) = checkCondition("last(battery_pct) >= 0 or site == \"x\"")
        #expect(d.count == 1)
        #expect(d.first?.contains("warning[W0304]") == true)
    }

    @Test func undeclaredAttributeSuggestsTheClosest() {
        let source = """
            fleetrules: 1
            pack: t
            rules:
              - alert: r
                when: zon == "a"
            """
        let r = PolicyLoader().check(sources: [(file: "t.yaml", bytes: Array(source.utf8))])
        #expect(r.diagnostics.first?.headline == "t.yaml:5:11: error[E0202]: unknown name 'zon'")
        #expect(r.diagnostics.first?.hint == "did you mean 'zone'?")
    }

    @Test func declaredAttributesAreUsable() {
        let (_, d) = checkCondition("install_year < 2020", extra: "attributes: { install_year: number }")
        #expect(d.isEmpty)
    }
}
