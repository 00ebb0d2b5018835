import Foundation

/// The outcome of one rule test.
public struct RuleTestResult: Sendable {
    public enum Status: String, Sendable { case pass, fail }
    public var file: String
    public var name: String
    public var range: SourceRange
    public var status: Status
    /// One block per failed expectation: a headline and a diff (`-` expected, `+` actual, ` ` both).
    public var failures: [String]
}

/// What running test files gave: every test's result, the files that could not be loaded (with
/// their diagnostics and sources), and what the tests covered.
public struct RuleTestRun: Sendable {
    public var results: [RuleTestResult] = []
    public var broken: [(path: String, loaded: RuleTestLoader.Loaded)] = []
    public var coverage = CoverageRecorder()

    /// A test failed or a file could not be loaded.
    public var failed: Bool { !broken.isEmpty || results.contains { $0.status == .fail } }
}

/// Runs rule tests: per test an engine over the test's inventory and series; at each `at` the
/// state a `fleetrules run` over the data up to that time would report is compared with the
/// expectations.
public struct RuleTestRunner: Sendable {
    public var coverage: Bool

    public init(coverage: Bool = false) { self.coverage = coverage }

    /// Loads and runs every test file, in order.
    public func run(files: [String], loader: RuleTestLoader = RuleTestLoader()) -> RuleTestRun {
        var run = RuleTestRun()
        for path in files {
            let loaded = loader.load(path: path)
            guard let file = loaded.file else {
                run.broken.append((path, loaded))
                continue
            }
            run.results += self.run(file, into: &run.coverage)
        }
        return run
    }

    public func run(_ file: RuleTestFile, into recorder: inout CoverageRecorder) -> [RuleTestResult] {
        let plan = file.policy.compile(lateness: 0)
        recorder.register(plan)
        return file.tests.map { test in
            if coverage { recorder.record(test, plan: plan) }
            return run(test, file: file.file, plan: plan)
        }
    }

    static func engine(_ plan: EvaluationPlan, _ inventory: Inventory) -> Engine {
        var engine = Engine(plan: plan, inventory: inventory)
        // Test data may lie anywhere in time and have long gaps.
        engine.wallClockLimit = .infinity
        engine.maxForwardJump = .infinity
        engine.earliestAccepted = -.infinity
        return engine
    }

    /// The engine after every reading up to `t` and every timer due by `t`, analyses finished at `t`.
    static func engine(at t: Double, _ test: RuleTest, _ plan: EvaluationPlan) -> Engine {
        var engine = engine(plan, test.inventory)
        for r in test.readings where r.timestamp <= t { engine.ingest(r) }
        engine.advance(to: t)
        engine.finish()
        return engine
    }

    func run(_ test: RuleTest, file: String, plan: EvaluationPlan) -> RuleTestResult {
        var failures: [String] = []
        for check in test.checks {
            let engine = Self.engine(at: check.at, test, plan)
            let report = engine.report()
            let when =
                "at \(Timestamp.format(check.at)) (+\(DurationText.format(max(0, check.at - test.start)))), line \(check.range.start.line)"
            let focused = { (rule: String) in test.focus?.contains(rule) ?? true }
            let firing = report.alerts.filter { $0.episode.until == nil && focused($0.episode.rule) }
            if let expected = check.alerts {
                if let diff = Self.compareAlerts(expected, firing) {
                    failures.append("\(when): firing alerts differ (- expected, + actual)\n" + diff)
                }
            }
            if let expected = check.forecasts, let diff = Self.compareForecasts(expected, firing) {
                failures.append("\(when): forecasts differ (- expected, + actual)\n" + diff)
            }
            if let expected = check.compliance {
                var states: [String: ComplianceState] = [:]
                for (rule, list) in engine.complianceStates(at: check.at) {
                    for (d, s) in list { states["\(rule) \(test.inventory.rows[d][0])"] = s }
                }
                var lines: [String] = []
                var bad = false
                for c in expected {
                    let actual = states["\(c.rule) \(c.device)"]
                    if actual == c.state {
                        lines.append("        \(c.rule) \(c.device): \(c.state.rawValue)")
                    } else {
                        bad = true
                        lines.append("      - \(c.rule) \(c.device): \(c.state.rawValue)")
                        lines.append("      + \(c.rule) \(c.device): \(actual?.rawValue ?? "not applicable")")
                    }
                }
                if bad {
                    failures.append(
                        "\(when): compliance states differ (- expected, + actual)\n" + lines.joined(separator: "\n"))
                }
            }
            if let expected = check.maintenance {
                let tasks = report.maintenance.flatMap(\.tasks).filter { focused($0.rule) }
                let diff = Self.diff(
                    expected, tasks,
                    matches: { t, a in a.device == t.device && a.task == t.task && (t.rule.map { $0 == a.rule } ?? true)
                    },
                    expected: { t in "\(t.device) \(t.task)" + (t.rule.map { " (\($0))" } ?? "") },
                    actual: { t in "\(t.device) \(t.task) (\(t.rule)) due \(Timestamp.format(t.due))" })
                if let diff { failures.append("\(when): maintenance tasks differ (- expected, + actual)\n" + diff) }
            }
            if let expected = check.rebalancing {
                // The exact set of moves the focused balance rules propose at this time.
                let moves = report.rebalancing.filter { focused($0.rule) }
                let diff = Self.diff(
                    expected, moves, matches: { e, m in e.device == m.device && e.from == m.from && e.to == m.to },
                    expected: { "\($0.device): \($0.from) → \($0.to)" },
                    actual: { "\($0.device): \($0.from) → \($0.to)" })
                if let diff { failures.append("\(when): rebalancing moves differ (- expected, + actual)\n" + diff) }
            }
        }
        let status: RuleTestResult.Status = failures.isEmpty ? .pass : .fail
        return RuleTestResult(
            file: file, name: test.name, range: test.range, status: status, failures: failures)
    }

    /// Nil when every expected forecast matches a firing finding of its rule and device whose
    /// evidence `crossing_at` (RFC 3339) is within the tolerance (or, for `crossing_at: null`,
    /// when no finding predicts a crossing: gauge findings such as a flat or erratic gauge carry
    /// none and are checked with `alerts`); else the diff.
    static func compareForecasts(_ expected: [ExpectedForecast], _ firing: [Report.Alert]) -> String? {
        var lines: [String] = []
        var bad = false
        for f in expected {
            func crossingAt(_ a: Report.Alert) -> Double? {
                a.episode.evidence.first { $0.0 == "crossing_at" }.flatMap { e -> Double? in
                    if case .string(let s) = e.1 { return Timestamp.parse(s) }
                    return nil
                }
            }
            let mine = firing.filter { $0.episode.rule == f.rule && $0.episode.device == f.device }
            let actual = mine.first { crossingAt($0) != nil } ?? mine.first
            let crossing = actual.flatMap(crossingAt)
            let want =
                f.crossingAt.map { "crossing_at \(Timestamp.format($0)) ± \(DurationText.format(f.tolerance))" }
                ?? "no crossing"
            let got =
                actual == nil
                ? "no forecast"
                : crossing.map { "crossing_at \(Timestamp.format($0))" }
                    ?? "no crossing (a finding without crossing_at)"
            let ok: Bool
            if let want = f.crossingAt {
                ok = crossing.map { abs($0 - want) <= f.tolerance } ?? false
            } else {
                ok = crossing == nil
            }
            if ok {
                lines.append("        \(f.rule) \(f.device): \(got)")
            } else {
                bad = true
                lines.append("      - \(f.rule) \(f.device): \(want)")
                lines.append("      + \(f.rule) \(f.device): \(got)")
            }
        }
        return bad ? lines.joined(separator: "\n") : nil
    }

    static func describe(_ a: Report.Alert) -> String {
        let e = a.episode
        var s = "\(e.rule) \(e.device.isEmpty ? "site=\(a.site)" : e.device) severity=\(e.severity.rawValue)"
        s += " labels={\(e.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))}"
        if let g = e.evidence.first(where: { $0.0 == "group" }), case .string(let name) = g.1 { s += " group=\(name)" }
        if let i = e.inhibitedBy { s += " inhibited by \(i.rule)" }
        s += " since \(Timestamp.format(e.since))"
        if let m = e.muted { s += " muted=\(m)" }
        return s
    }

    static func describe(_ x: ExpectedAlert) -> String {
        var s = "\(x.rule) \(x.device.isEmpty ? "site=\(x.site ?? "*")" : x.device)"
        if let sev = x.severity { s += " severity=\(sev.rawValue)" }
        if let g = x.group { s += " group=\(g)" }
        if let i = x.inhibited { s += i ? " inhibited" : " not inhibited" }
        if let l = x.labels {
            s += " labels={\(l.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))}"
        }
        if let m = x.muted { s += m.isEmpty ? " not muted" : " muted=\(m)" }
        return s
    }

    static func matches(_ x: ExpectedAlert, _ a: Report.Alert) -> Bool {
        let e = a.episode
        guard e.rule == x.rule, e.device == x.device else { return false }
        if let s = x.site, s != a.site { return false }
        if let sev = x.severity, sev != e.severity { return false }
        if let l = x.labels, l != e.labels { return false }
        if let i = x.inhibited, i != (e.inhibitedBy != nil) { return false }
        if let g = x.group, !e.evidence.contains(where: { $0.0 == "group" && $0.1 == .string(g) }) { return false }
        if let m = x.muted, m != (e.muted ?? "") { return false }
        return true
    }

    /// Nil when the expected set and the firing set match one to one; else the diff.
    static func compareAlerts(_ expected: [ExpectedAlert], _ actual: [Report.Alert]) -> String? {
        diff(expected, actual, matches: matches, expected: describe, actual: describe, sortUnexpected: true)
    }

    /// Pairs each expected item with an actual one it matches (each actual used once) and renders
    /// the comparison: matched items indented, `-` expected items missing, `+` actual items not
    /// expected (in name order with `sortUnexpected`). Nil when every item is matched both ways.
    static func diff<E, A>(
        _ expected: [E], _ actual: [A], matches: (E, A) -> Bool, expected describeExpected: (E) -> String,
        actual describeActual: (A) -> String, sortUnexpected: Bool = false
    ) -> String? {
        var unmatched = actual
        var lines: [String] = []
        var bad = false
        for x in expected {
            if let j = unmatched.firstIndex(where: { matches(x, $0) }) {
                lines.append("        \(describeExpected(x))")
                unmatched.remove(at: j)
            } else {
                bad = true
                lines.append("      - \(describeExpected(x))")
            }
        }
        var unexpected = unmatched.map(describeActual)
        if sortUnexpected { unexpected.sort() }
        for a in unexpected {
            bad = true
            lines.append("      + \(a)")
        }
        return bad ? lines.joined(separator: "\n") : nil
    }
}

// MARK: output

extension RuleTestResult {
    /// `go test`-style lines for one test.
    public var text: String {
        let location = "\(range.file):\(range.start.line)"
        var out = ""
        switch status {
        case .pass: out = "--- PASS: \(name) (\(location))\n"
        case .fail: out = "--- FAIL: \(name) (\(location))\n"
        }
        for f in failures { out += "    " + f + "\n" }
        return out
    }
}

public enum RuleTestOutput {
    /// Per file: every test's lines, then `ok` or `FAIL` with the counts; a final PASS/FAIL line.
    /// `brokenFiles`: test files that could not be run (their diagnostics are printed apart); they fail the run.
    public static func text(_ results: [RuleTestResult], brokenFiles: Int = 0) -> String {
        var out = ""
        var files: [String] = []
        for r in results where !files.contains(r.file) { files.append(r.file) }
        for file in files {
            let mine = results.filter { $0.file == file }
            for r in mine { out += r.text }
            let failed = mine.count { $0.status == .fail }
            let passed = mine.count { $0.status == .pass }
            let counts = "\(passed) passed, \(failed) failed"
            out += failed > 0 ? "FAIL\t\(file)\t\(counts)\n" : "ok  \t\(file)\t\(counts)\n"
        }
        out += brokenFiles > 0 || results.contains { $0.status == .fail } ? "FAIL\n" : "PASS\n"
        return out
    }

    /// JUnit XML, one `testsuite` per file, for CI systems.
    public static func junit(_ results: [RuleTestResult]) -> String {
        let esc = Markup.escape
        var files: [String] = []
        for r in results where !files.contains(r.file) { files.append(r.file) }
        let failures = results.count { $0.status == .fail }
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"fleetrules\" tests=\"\(results.count)\" failures=\"\(failures)\" skipped=\"0\">\n"
        for file in files {
            let mine = results.filter { $0.file == file }
            out +=
                "  <testsuite name=\"\(esc(file))\" tests=\"\(mine.count)\" failures=\"\(mine.count { $0.status == .fail })\" skipped=\"0\">\n"
            for r in mine {
                out +=
                    "    <testcase classname=\"\(esc(file))\" name=\"\(esc(r.name))\" file=\"\(esc(r.range.file))\" line=\"\(r.range.start.line)\""
                switch r.status {
                case .pass:
                    out += "/>\n"
                case .fail:
                    out +=
                        ">\n      <failure message=\"\(esc(r.failures.first?.split(separator: "\n").first.map(String.init) ?? "failed"))\">\(esc(r.failures.joined(separator: "\n")))</failure>\n    </testcase>\n"
                }
            }
            out += "  </testsuite>\n"
        }
        out += "</testsuites>\n"
        return out
    }
}
