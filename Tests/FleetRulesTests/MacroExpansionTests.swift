import Foundation
import Testing

@testable import FleetRules

/// Policies whose macros, once inlined, are deep or long: each is checked in linear time and
/// either accepted or rejected with a located error, never by exhausting the stack.
enum DeepPolicies {
    static let header = """
        fleetrules: 1
        pack: deep
        metrics:
          battery_pct: { unit: percent, range: [0, 100] }
          temperature: { unit: celsius, range: [-40, 125] }
        macros:

        """

    static func policy(macros: [String], rules: String) -> String {
        header + macros.map { "  \($0)\n" }.joined() + "rules:\n" + rules
    }

    /// `m1500: not m1499` … `m1: not m0`, `m0: site == "a"`: the uses come before the definitions.
    static let reverseChain = policy(
        macros: (1...1500).reversed().map { "m\($0): not m\($0 - 1)" } + ["m0: site == \"a\""],
        rules: "  - alert: deep\n    when: m1500\n")

    /// 500 macros of 98 nested `not` each, each using the one before: about 49,000 nodes.
    static let nestedNots = policy(
        macros: ["m0: site == \"a\""]
            + (1..<500).map { "m\($0): " + String(repeating: "not ", count: 98) + "m\($0 - 1)" },
        rules: "  - alert: deep\n    when: m499\n")

    /// A chain of `count` macros, each naming the one before, used by one rule.
    static func linearChain(_ count: Int) -> String {
        policy(
            macros: ["m0: site == \"a\""] + (1..<count).map { "m\($0): m\($0 - 1)" },
            rules: "  - alert: chained\n    when: m\(count - 1)\n")
    }

    /// Macros whose inlined depth grows by one each (alternating `not` and `and`), up to `depth`
    /// levels for the last one, which the rule uses as `when: <prefix>m<last>`.
    static func depthChain(_ depth: Int, rulePrefix: String = "") -> (source: String, last: Int) {
        // `m0` is a comparison (2 levels); every further macro adds one.
        let last = depth - 2
        let macros =
            ["m0: last(battery_pct) < 40"]
            + (1...last).map {
                $0 % 2 == 1 ? "m\($0): not m\($0 - 1)" : "m\($0): m\($0 - 1) and last(temperature) > -100"
            }
        return (policy(macros: macros, rules: "  - alert: deep\n    when: \(rulePrefix)m\(last)\n    for: 0s\n"), last)
    }

    static func check(_ source: String) -> PolicyCheck {
        PolicyLoader().check(sources: [("deep.yaml", Array(source.utf8))])
    }

    /// 1-based line of the macro `name` in a source built by `policy`.
    static func line(ofMacro name: String, in source: String) -> Int? {
        source.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.hasPrefix("  \(name):") }.map { $0 + 1 }
    }
}

@Suite struct MacroExpansionTests {
    @Test func aLongMacroChainDeclaredInReverseIsALocatedDepthErrorNotAStackOverflow() {
        let check = DeepPolicies.check(DeepPolicies.reverseChain)
        #expect(check.policy == nil)
        #expect(check.diagnostics.map(\.code) == [.expansionDepth])
        // `m0` is 2 levels deep and each macro adds one: `m199` is the first past 200.
        let d = check.diagnostics.first
        #expect(d?.message == "macro 'm199' nests deeper than 200 levels once the macros it uses are inlined")
        #expect(d?.range.start.line == DeepPolicies.line(ofMacro: "m199", in: DeepPolicies.reverseChain))
        #expect(d?.range.start.column == 3)
    }

    @Test func macrosOfNinetyEightNestedNotsEachAreALocatedDepthErrorNotAStackOverflow() {
        let check = DeepPolicies.check(DeepPolicies.nestedNots)
        #expect(check.policy == nil)
        #expect(check.diagnostics.map(\.code) == [.expansionDepth])
        // 2 + 98 + 98 = 198 levels for `m2`; `m3` is the first past the limit.
        #expect(
            check.diagnostics.first?.range.start.line == DeepPolicies.line(ofMacro: "m3", in: DeepPolicies.nestedNots))
    }

    @Test func aConditionAtTheDepthLimitChecksCompilesAndEvaluates() throws {
        let (source, _) = DeepPolicies.depthChain(ExpressionChecker.maxExpandedDepth)
        let check = DeepPolicies.check(source)
        #expect(check.diagnostics.isEmpty, "\(check.diagnostics.map(\.headline))")
        let policy = try #require(check.policy)
        let inventory = try Inventory(
            columns: ["device", "type", "site", "zone", "gateway"], rows: [["d1", "sensor", "a", "z", "g"]])
        var engine = Engine(plan: policy.compile(lateness: 0), inventory: inventory)
        _ = engine.ingest(
            Reading(timestamp: EngineHarness.t0, device: "d1", metrics: ["battery_pct": 30, "temperature": 20]))
        engine.finish()
        // 99 `not`s around `battery_pct < 40`, each `and` with a condition that holds: false.
        #expect(engine.episodes.isEmpty)
    }

    @Test func aRuleNestingPastTheLimitIsReportedAtItsCondition() {
        let (source, _) = DeepPolicies.depthChain(ExpressionChecker.maxExpandedDepth, rulePrefix: "not ")
        let check = DeepPolicies.check(source)
        #expect(check.diagnostics.map(\.code) == [.expansionDepth])
        let d = check.diagnostics.first
        #expect(d?.message == "when nests deeper than 200 levels once its macros are inlined")
        let whenLine = source.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.hasPrefix("    when:") }.map { $0 + 1 }
        #expect(d?.range.start.line == whenLine)
    }

    @Test func anEightThousandMacroChainIsAcceptedWithoutWarnings() throws {
        let check = DeepPolicies.check(DeepPolicies.linearChain(8000))
        #expect(check.diagnostics.isEmpty, "\(check.diagnostics.prefix(3).map(\.headline))")
        let rule = try #require(check.policy?.rules.first)
        guard case .alert(let alert) = rule.body else {
            Issue.record("expected an alert rule")
            return
        }
        #expect(alert.condition.description == "site == \"a\"")
    }

    /// Checking cost is counted in steps, not timed: a chain four times as long takes about
    /// four times the steps. Finding the used macros once per macro, or re-checking a macro at
    /// every use, would make it sixteen times.
    @Test func checkingAMacroChainTakesStepsLinearInItsLength() {
        let short = DeepPolicies.check(DeepPolicies.linearChain(2000))
        let long = DeepPolicies.check(DeepPolicies.linearChain(8000))
        #expect(short.diagnostics.isEmpty && long.diagnostics.isEmpty)
        #expect(short.checkingWork >= 2000)
        #expect(long.checkingWork <= 4 * short.checkingWork + 100, "\(short.checkingWork) → \(long.checkingWork) steps")
        #expect(long.checkingWork <= 8 * 8000, "\(long.checkingWork) steps for 8,000 macros")
    }

    @Test func aCycleThroughALongChainIsReportedOnceWhereItCloses() {
        // m0 uses m2999, which reaches m0 again through every other macro of the chain.
        var source = DeepPolicies.linearChain(3000)
        source = source.replacingOccurrences(of: "m0: site == \"a\"", with: "m0: site == \"a\" or m2999")
        let check = DeepPolicies.check(source)
        #expect(check.diagnostics.map(\.code) == [.macroRecursion])
        #expect(
            check.diagnostics.first?.message.hasPrefix("macro 'm0' refers to itself (m0 → m2999 → m2998 → ") == true)
    }

    @Test func aMacroTooLargeToInlineStillCountsAsUsedForItsOwnMacros() {
        // The size limit stops `m15`; `m0`…`m14` are used by it, so they draw no W0302.
        let macros = ["m0: site == \"a\""] + (1...15).map { "m\($0): m\($0 - 1) and m\($0 - 1)" }
        let check = DeepPolicies.check(DeepPolicies.policy(macros: macros, rules: "  - alert: big\n    when: m15\n"))
        #expect(check.diagnostics.map(\.code) == [.expansionLimit])
    }
}

/// The server checks posted packs on its own threads: deep packs are answered, not fatal.
@Suite(.serialized) struct MacroExpansionServeTests {
    @Test func validatingOrLoadingDeepPacksAnswers422AndTheServerStaysUp() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let server = try ServeProcess(["--rules", rules, "--inventory", inventory])
        defer { server.stop() }
        for pack in [DeepPolicies.reverseChain, DeepPolicies.nestedNots] {
            let validated = try await server.post("/v1/rules/validate", pack)
            #expect(validated.status == 422)
            let codes = (validated.json["diagnostics"] as? [[String: Any]])?.compactMap { $0["code"] as? String }
            #expect(codes == ["E0214"])
            #expect(try await server.post("/v1/rules", pack).status == 422)
        }
        let long = try await server.post("/v1/rules/validate", DeepPolicies.linearChain(8000))
        #expect(long.json["ok"] as? Bool == true)
        #expect(try await server.get("/healthz").status == 200)
        #expect(server.process.isRunning)
    }
}
