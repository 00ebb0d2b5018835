import Foundation
import Testing

@testable import FleetRules

/// Keeps rules/, docs/LANGUAGE.md, README.md and docs/ERRORS.md true to the checker.
enum Docs {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    static func read(_ relative: String) -> String? {
        FileManager.default.contents(atPath: path(relative)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The name `yaml bad` examples are checked under, as in the outputs the docs show.
    static let exampleFile = "example.yaml"

    /// One fenced ```yaml block of a Markdown file.
    struct Example: Sendable, CustomTestStringConvertible {
        var document: String
        var line: Int
        var source: String
        /// Fenced as ```yaml bad: must produce at least one error.
        var bad: Bool
        /// For a bad example, the ```text block right after it: the output `fleetrules check` prints.
        var shownOutput: String?

        var testDescription: String { "\(document):\(line)\(bad ? " (bad)" : "")" }

        func check() -> PolicyCheck {
            PolicyLoader().check(sources: [(file: Docs.exampleFile, bytes: Array(source.utf8))])
        }
    }

    /// Every ```yaml block of a Markdown text, with the ```text block that follows a `yaml bad` one.
    static func examples(in markdown: String, document: String) -> [Example] {
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var out: [Example] = []
        // Whether the previous fenced block was a `yaml bad` one still waiting for its output.
        var awaitingOutput = false
        var i = 0
        while i < lines.count {
            let fence = lines[i].trimmingCharacters(in: .whitespaces)
            guard fence.hasPrefix("```"), fence.count > 3 else {
                i += 1
                continue
            }
            let info = fence.dropFirst(3).split(separator: " ").map(String.init)
            let indent = lines[i].prefix { $0 == " " }.count
            var body: [String] = []
            var j = i + 1
            while j < lines.count, !lines[j].trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                body.append(String(lines[j].dropFirst(min(indent, lines[j].prefix { $0 == " " }.count))))
                j += 1
            }
            if info.first == "yaml" {
                let bad = info.dropFirst().contains("bad")
                out.append(
                    Example(document: document, line: i + 1, source: body.joined(separator: "\n") + "\n", bad: bad))
                awaitingOutput = bad
            } else {
                if info.first == "text", awaitingOutput {
                    out[out.count - 1].shownOutput = body.joined(separator: "\n")
                }
                awaitingOutput = false
            }
            i = j + 1
        }
        return out
    }

    /// The examples of docs/LANGUAGE.md and of README.md (when it exists).
    static var allExamples: [Example] {
        ["docs/LANGUAGE.md", "README.md"].flatMap { name in read(name).map { examples(in: $0, document: name) } ?? [] }
    }

    /// `file:line:col: severity[CODE]: message` lines of a shown output.
    static func headlines(in output: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter {
            $0.hasPrefix("\(exampleFile):") && ($0.contains(": error[") || $0.contains(": warning["))
        }
    }

    /// Every `E0123` / `W0123` token in a text.
    static func codes(in text: String) -> Set<String> {
        var found: Set<String> = []
        let scalars = Array(text.unicodeScalars)
        func isWordChar(_ c: Unicode.Scalar) -> Bool {
            c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_"
        }
        var k = 0
        while k + 5 <= scalars.count {
            let c = scalars[k]
            if c == "E" || c == "W" || c == "I", k == 0 || !isWordChar(scalars[k - 1]),
                scalars[(k + 1)..<(k + 5)].allSatisfy({ ("0"..."9").contains($0) }),
                k + 5 == scalars.count || !isWordChar(scalars[k + 5])
            {
                found.insert(String(String.UnicodeScalarView(scalars[k..<(k + 5)])))
                k += 5
            } else {
                k += 1
            }
        }
        return found
    }
}

@Suite struct DocumentationRulesFolderTests {
    @Test func examplePacksCheckWithoutAnyDiagnostic() throws {
        let files = try PolicyLoader.files(for: [Docs.path("rules")])
        let names = files.map { URL(fileURLWithPath: $0).lastPathComponent }
        for expected in [
            "00-fleet.yaml", "battery.yaml", "firmware.yaml", "drift.yaml", "environment.yaml", "gateways.yaml",
            "site-health.yaml",
            "alerting.yaml",
        ] {
            #expect(names.contains(expected), "rules/\(expected) is missing")
        }
        let result = PolicyLoader().check(files: files)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.headline).joined(separator: "\n"))")
        let policy = try #require(result.policy)
        #expect(policy.packs.map(\.name) == ["plant-health"], "every file belongs to the one pack plant-health")
        let kinds = Set(policy.rules.map(\.kind))
        for kind in RuleKind.allCases {
            #expect(kinds.contains(kind), "no \(kind.rawValue) rule in rules/")
        }
    }
}

@Suite struct DocumentationExampleTests {
    @Test(arguments: Docs.allExamples)
    func exampleChecksAsDocumented(_ example: Docs.Example) {
        let result = example.check()
        let headlines = result.diagnostics.map(\.headline)
        if example.bad {
            #expect(result.errorCount > 0, "a `yaml bad` example must produce an error; got \(headlines)")
            if let shown = example.shownOutput {
                #expect(
                    Docs.headlines(in: shown) == headlines,
                    "the output shown after the example is not what `fleetrules check \(Docs.exampleFile)` prints")
            }
        } else {
            #expect(headlines.isEmpty, "a `yaml` example must check clean:\n\(headlines.joined(separator: "\n"))")
        }
    }

    @Test func languageReferenceHasExamplesOfEveryKindAndOfMistakes() throws {
        let examples = Docs.examples(in: try #require(Docs.read("docs/LANGUAGE.md")), document: "docs/LANGUAGE.md")
        let clean = examples.filter { !$0.bad }
        for kind in RuleKind.allCases {
            #expect(
                clean.contains { $0.source.contains("- \(kind.rawValue): ") },
                "no clean example of a \(kind.rawValue) rule")
        }
        let bad = examples.filter(\.bad)
        #expect(!bad.isEmpty)
        for example in bad {
            #expect(
                example.shownOutput != nil, "\(example.testDescription): show the output in a ```text block after it")
        }
    }

    @Test func languageReferenceMentionsOnlyRealCodes() throws {
        let known = Set(DiagnosticCode.allCases.map(\.rawValue))
        let mentioned = Docs.codes(in: try #require(Docs.read("docs/LANGUAGE.md")))
        #expect(mentioned.subtracting(known).isEmpty, "unknown codes: \(mentioned.subtracting(known).sorted())")
    }
}

@Suite struct DocumentationErrorCatalogueTests {
    @Test func listsExactlyTheDiagnosticCodes() throws {
        let text = try #require(Docs.read("docs/ERRORS.md"))
        let known = Set(DiagnosticCode.allCases.map(\.rawValue))
        let mentioned = Docs.codes(in: text)
        #expect(
            known.subtracting(mentioned).isEmpty,
            "missing from docs/ERRORS.md: \(known.subtracting(mentioned).sorted())")
        #expect(mentioned.subtracting(known).isEmpty, "not a DiagnosticCode: \(mentioned.subtracting(known).sorted())")
    }

    @Test func eachRowCarriesTheCodesTitle() throws {
        let rows = try #require(Docs.read("docs/ERRORS.md")).split(separator: "\n").map(String.init)
        for code in DiagnosticCode.allCases {
            let row = rows.first { $0.hasPrefix("| \(code.rawValue) |") }
            #expect(row != nil, "no table row for \(code.rawValue)")
            if let row {
                #expect(
                    row.hasPrefix("| \(code.rawValue) | \(code.title.replacingOccurrences(of: "|", with: "\\|")) |"),
                    "the meaning of \(code.rawValue) must be its title: \(code.title)")
            }
        }
    }
}

/// Behaviour LANGUAGE.md promises beyond "it checks clean".
@Suite struct DocumentationBehaviourTests {
    func check(_ body: String, metrics: String = "") -> PolicyCheck {
        let source =
            "fleetrules: 1\npack: t\nmetrics:\n  battery_pct: { unit: percent, range: [0, 100], interval: 5m }\n"
            + metrics + body
        return PolicyLoader().check(sources: [(file: "t.yaml", bytes: Array(source.utf8))])
    }

    @Test func forZeroFiresAtOnceAndOverridesTheFileDefault() throws {
        let r = check(
            """
            defaults: { for: 30m }
            rules:
              - alert: a
                when: last(battery_pct) < 5
                for: 0s
              - alert: b
                when: last(battery_pct) < 10

            """)
        #expect(r.diagnostics.isEmpty, "\(r.diagnostics.map(\.headline))")
        let rules = try #require(r.policy?.rules)
        guard rules.count == 2, case .alert(let a) = rules[0].body, case .alert(let b) = rules[1].body else {
            Issue.record("expected two alerts")
            return
        }
        #expect(a.forDuration == 0)
        #expect(b.forDuration == 1800)
    }

    @Test func regularExpressionEscapesAreKept() throws {
        let r = check(
            #"""
            rules:
              - alert: a
                where: device matches "^th-\d{4}\.x$" and zone != "a\"b"
                when: last(battery_pct) < 5

            """#)
        #expect(r.diagnostics.isEmpty, "\(r.diagnostics.map(\.headline))")
        let scope = try #require(r.policy?.rules.first?.scope)
        var patterns: [String] = []
        var strings: [String] = []
        scope.visit { e in
            if case .matches(_, let p) = e { patterns.append(p) }
            if case .constant(.string(let s)) = e { strings.append(s) }
        }
        #expect(patterns == [#"^th-\d{4}\.x$"#])
        #expect(strings == [#"a"b"#])
    }

    @Test func percentFollowsTheOtherSidesUnit() throws {
        let r = check(
            """
            rules:
              - alert: a
                when: last(battery_pct) < 20% and last(load) > 80%

            """, metrics: "  load: { unit: ratio, range: [0, 1] }\n")
        #expect(r.diagnostics.isEmpty, "\(r.diagnostics.map(\.headline))")
        guard case .alert(let a)? = r.policy?.rules.first?.body else {
            Issue.record("no alert")
            return
        }
        #expect(a.condition.description == "(last(battery_pct) < 20 and last(load) > 0.8)")
    }
}

/// A command's help that points at a document names a file that exists.
@Test func everyDocumentNamedInTheCommandsHelpExists() throws {
    let folder = Docs.root.appendingPathComponent("Sources/fleetrules")
    let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".swift") }
    #expect(!files.isEmpty)
    let pattern = try Regex(#"docs/[A-Za-z0-9_.-]+\.[a-z]+"#)
    var named = 0
    for file in files {
        let source = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
        for match in source.matches(of: pattern) {
            let relative = String(source[match.range])
            named += 1
            #expect(
                FileManager.default.fileExists(atPath: Docs.path(relative)),
                "\(file) names \(relative), which does not exist")
        }
    }
    #expect(named > 0)
}
