import Foundation
import Testing

@testable import FleetRules

@Suite struct YAMLLoaderTests {
    func load(_ text: String, limits: LoadLimits = LoadLimits()) -> (YAMLNode?, [Diagnostic]) {
        var bag = DiagnosticBag()
        let node = YAMLLoader(limits: limits).load(Array(text.utf8), file: "f.yaml", into: &bag)
        return (node, bag.items)
    }

    @Test func mappingPositionIsWhereItStarts() throws {
        let (node, d) = load("a:\n  b: 1\n  c:\n    - x\n")
        #expect(d.isEmpty)
        guard case .mapping(let top)? = node?.kind else { Issue.record("not a mapping"); return }
        let inner = try #require(top.first?.value)
        #expect(inner.start == SourcePosition(line: 2, column: 3))
        guard case .mapping(let entries) = inner.kind else { Issue.record("not a mapping"); return }
        #expect(entries.map(\.name) == ["b", "c"])
        #expect(entries[1].value.start == SourcePosition(line: 4, column: 5))
    }

    @Test func scalarStylesAreKept() {
        let (node, _) = load("a: '20'\nb: 20\n")
        guard case .mapping(let e)? = node?.kind else { Issue.record("not a mapping"); return }
        #expect(e[0].value.typeDescription == "a string")
        #expect(e[1].value.typeDescription == "a number")
    }

    @Test func columnsCountCharactersNotBytes() {
        let (_, d) = load("é: \"unclosed\n")
        #expect(d.first?.headline == "f.yaml:1:4: error[E0002]: malformed YAML: unclosed quoted string")
    }

    @Test func billionLaughsFailsFastWithBoundedWork() {
        var doc = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 {
            let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
            doc += "a\(i): &a\(i) [\(refs)]\n"
        }
        let (node, d) = load(doc)
        #expect(node == nil)
        #expect(d.map(\.code) == [.aliasLimit])
    }

    @Test func aliasesWithinTheLimitAreExpanded() {
        let (node, d) = load("base: &b {unit: percent}\nother: *b\n")
        #expect(d.isEmpty)
        guard case .mapping(let e)? = node?.kind, case .mapping(let inner) = e[1].value.kind else {
            Issue.record("alias not expanded")
            return
        }
        #expect(inner.first?.name == "unit")
    }

    @Test func deepNestingIsRejected() {
        let doc = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        let (node, d) = load(doc)
        #expect(node == nil)
        #expect(d.map(\.code) == [.nestingTooDeep])
    }

    @Test func oversizedFileIsRejected() {
        var limits = LoadLimits()
        limits.maxFileBytes = 16
        let (node, d) = load("fleetrules: 1\npack: big\n", limits: limits)
        #expect(node == nil)
        #expect(d.map(\.code) == [.fileTooLarge])
    }

    @Test func invalidUTF8IsLocated() {
        var bag = DiagnosticBag()
        let bytes: [UInt8] = Array("a: 1\nb: x".utf8) + [0xFF] + Array("\n".utf8)
        _ = YAMLLoader().load(bytes, file: "f.yaml", into: &bag)
        #expect(bag.items.map(\.headline) == ["f.yaml:2:5: error[E0003]: invalid UTF-8 byte 0xFF"])
    }

    @Test func tooManyRulesIsAnError() {
        var limits = LoadLimits()
        limits.maxRules = 2
        var doc = "fleetrules: 1\npack: p\nrules:\n"
        for i in 0..<3 { doc += "  - alert: r\(i)\n    when: site == \"s\(i)\"\n" }
        let r = PolicyLoader(limits: limits).check(sources: [(file: "p.yaml", bytes: Array(doc.utf8))])
        #expect(r.diagnostics.map(\.code) == [.tooManyRules])
    }
}

@Suite struct DiagnosticRenderingTests {
    @Test func caretUnderTheOffendingToken() {
        let d = Diagnostic(
            .unknownMetric, "unknown metric 'batery_pct'",
            at: SourceRange(file: "r.yaml", line: 2, column: 16, length: 10), hint: "did you mean 'battery_pct'?")
        let text = DiagnosticRenderer(sources: ["r.yaml": "rules:\n    when: last(batery_pct) < 20\n"]).text(d)
        #expect(
            text == """
                r.yaml:2:16: error[E0203]: unknown metric 'batery_pct'
                  |
                2 |     when: last(batery_pct) < 20
                  |                ^~~~~~~~~~
                    = hint: did you mean 'battery_pct'?
                """)
    }

    @Test func jsonHasTheDocumentedFields() {
        let d = Diagnostic(
            .unknownKey, "unknown key 'x'", at: SourceRange(file: "a.yaml", line: 3, column: 5, length: 1))
        #expect(
            DiagnosticRenderer.json(d).serialized()
                == #"{"code":"E0103","severity":"error","message":"unknown key 'x'","file":"a.yaml","line":3,"column":5,"end_line":3,"end_column":6,"hint":null}"#
        )
    }

    @Test func suggestionsPickTheClosestName() {
        #expect(Suggestion.closest(to: "batery_pct", in: ["battery_pct", "temperature"]) == "battery_pct")
        #expect(Suggestion.closest(to: "severty", in: ["severity", "summary"]) == "severity")
        #expect(Suggestion.closest(to: "xyz", in: ["battery_pct"]) == nil)
    }
}

@Suite struct SchemaTests {
    @Test func schemaIsValidJSONWithEveryRuleKind() throws {
        let text = PolicySchema.document().serialized(pretty: true)
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        let defs = try #require(object?["$defs"] as? [String: Any])
        for kind in RuleKind.allCases { #expect(defs[kind.rawValue] != nil) }
        #expect(object?["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
    }

    @Test func schemaListsTheSameKeysTheDecoderAccepts() throws {
        let object = try JSONSerialization.jsonObject(with: Data(PolicySchema.document().serialized().utf8))
        let defs = try #require((object as? [String: Any])?["$defs"] as? [String: Any])
        let alert = try #require(defs["alert"] as? [String: Any])
        let properties = try #require(alert["properties"] as? [String: Any])
        #expect(
            Set(properties.keys)
                == Set(
                    ["alert"] + AlertRule.fields.map(\.name) + RuleSchedule.fields.map(\.name)
                        + LanguageSpec.commonRule.map(\.name)))
    }
}
