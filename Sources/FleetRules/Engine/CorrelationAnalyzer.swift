import Foundation

/// Evaluates a `correlation` rule: once per `step`, each device the rule applies to contributes
/// one pair (x, y) to its group (`by` attributes), x and y computed from the device's readings
/// in that step. At the end of the data every group with at least `min_samples` pairs is tested
/// (Spearman or Pearson, two-sided p-value from the t approximation), the p-values are corrected
/// for the number of groups tested (Holm by default, or Benjamini–Hochberg), and each group whose
/// corrected p-value is at most `significance` becomes a group-level finding. Every group tested
/// is listed in the report's `correlations` section.
///
/// x and y must each be a window function of one metric over exactly one `step` (`avg`, `min`,
/// `max`, `sum`, `count`, `delta` or `rate`), or `last`: the engine keeps per device only the
/// running summary of the current step. Pairs per group are capped by a deterministic reservoir
/// sample (`maxPairs`), so memory stays bounded on long runs.
struct CorrelationAnalyzer: Analyzer {
    var observesApplicableOnly: Bool { true }
    let operatorIndex: Int
    let metrics: [Int]
    let tickInterval: Double
    let rule: CorrelationRule
    static let maxPairs = CorrelationRule.maxPairs

    /// Running summary of one metric on one device within the current step.
    struct StepSummary: Sendable {
        var count = 0
        var sum = 0.0
        var min = Double.infinity
        var max = -Double.infinity
        var firstTime = 0.0, firstValue = 0.0, lastTime = 0.0, lastValue = 0.0

        mutating func add(_ v: Double, at t: Double) {
            if count == 0 {
                firstTime = t
                firstValue = v
            }
            count += 1
            sum += v
            min = Swift.min(min, v)
            max = Swift.max(max, v)
            lastTime = t
            lastValue = v
        }

        func value(_ f: WindowFunction) -> Double? {
            switch f {
            case .count: return Double(count)
            case .sum: return sum
            default: break
            }
            guard count > 0 else { return nil }
            switch f {
            case .last: return lastValue
            case .avg: return sum / Double(count)
            case .min: return min
            case .max: return max
            case .delta: return count >= 2 ? lastValue - firstValue : nil
            case .rate:
                return count >= 2 && lastTime > firstTime
                    ? (lastValue - firstValue) / ((lastTime - firstTime) / 3600) : nil
            default: return nil
            }
        }
    }

    struct Group: Sendable {
        var xs: [Double] = []
        var ys: [Double] = []
        var seen = 0
        var site = ""
    }

    private let xFunction: WindowFunction
    private let yFunction: WindowFunction
    /// Slot in `summary` of x's and y's metric (the same slot when both read one metric).
    private let xSlot: Int
    private let ySlot: Int
    /// Flat [slot * devices + device].
    private var summary: [StepSummary]
    private let devices: Int
    private var groups: [[String]: Group] = [:]
    private var random: UInt64 = 0x9E37_79B9_7F4A_7C15
    private var results: [Report.Correlation] = []

    init?(operatorIndex: Int, plan: EvaluationPlan, rule: CorrelationRule, inventory: Inventory) {
        guard rule.unsupported == nil, case .window(let fx, let mx, _) = rule.x,
            case .window(let fy, let my, _) = rule.y,
            let ix = plan.metricIndex[mx], let iy = plan.metricIndex[my]
        else { return nil }
        self.operatorIndex = operatorIndex
        self.rule = rule
        tickInterval = rule.step
        xFunction = fx
        yFunction = fy
        metrics = ix == iy ? [ix] : [ix, iy]
        xSlot = 0
        ySlot = ix == iy ? 0 : 1
        devices = inventory.count
        summary = Array(repeating: StepSummary(), count: inventory.count * metrics.count)
    }

    mutating func prefetch(device: Int) {
        for slot in metrics.indices { summary.prefetch(slot * devices + device) }
    }

    mutating func observe(device: Int, metric: Int, value: Double, time: Double) {
        guard device >= 0, device < devices, value.isFinite else { return }
        for (slot, m) in metrics.enumerated() where m == metric {
            summary[slot * devices + device].add(value, at: time)
        }
    }

    mutating func tick(at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink) {
        let n = devices
        for d in 0..<n where context.applies(d) {
            guard let x = summary[xSlot * n + d].value(xFunction), let y = summary[ySlot * n + d].value(yFunction),
                x.isFinite, y.isFinite
            else { continue }
            let key = rule.by.map { context.attribute($0, device: d) }
            add(x, y, to: key, site: context.attribute("site", device: d))
        }
        for i in summary.indices { summary[i] = StepSummary() }
    }

    private mutating func add(_ x: Double, _ y: Double, to key: [String], site: String) {
        // Mutated in place through the dictionary's default subscript: a copy of the group
        // would copy its (up to 50,000) pairs on every append.
        Self.add(x, y, to: &groups[key, default: Group(site: site)], random: &random)
    }

    private static func add(_ x: Double, _ y: Double, to g: inout Group, random: inout UInt64) {
        g.seen += 1
        if g.xs.count < maxPairs {
            g.xs.append(x)
            g.ys.append(y)
        } else {
            // Reservoir sampling (Algorithm R) with a fixed-seed xorshift: runs are reproducible.
            random ^= random << 13
            random ^= random >> 7
            random ^= random << 17
            let j = Int(random % UInt64(g.seen))
            if j < maxPairs {
                g.xs[j] = x
                g.ys[j] = y
            }
        }
    }

    mutating func finish(at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink) {
        var rows: [Report.Correlation] = []
        var tested: [Int] = []
        var pValues: [Double] = []
        for (key, g) in groups.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let name = key.joined(separator: "/")
            var row = Report.Correlation(
                rule: context.rule.id, group: name, method: rule.method.rawValue, n: g.xs.count, coefficient: nil,
                pValue: nil, adjustedP: nil, significant: false, note: nil)
            if g.xs.count < rule.minSamples {
                row.note = "fewer than \(rule.minSamples) pairs"
            } else if let r = rule.method == .spearman
                ? Statistics.spearman(g.xs, g.ys) : Statistics.pearson(g.xs, g.ys),
                let p = Statistics.correlationPValue(r: r, n: g.xs.count)
            {
                row.coefficient = r
                row.pValue = p
                tested.append(rows.count)
                pValues.append(p)
            } else {
                row.note = "a signal is constant in the group"
            }
            rows.append(row)
        }
        let adjusted: [Double]
        switch rule.correction {
        case .holm: adjusted = Statistics.holm(pValues)
        case .benjaminiHochberg: adjusted = Statistics.benjaminiHochberg(pValues)
        case .none: adjusted = pValues
        }
        for (k, i) in tested.enumerated() {
            rows[i].adjustedP = adjusted[k]
            rows[i].significant = adjusted[k] <= rule.significance
        }
        var sites: [String: String] = [:]
        for (key, g) in groups { sites[key.joined(separator: "/")] = g.site }
        for row in rows where row.significant {
            guard let r = row.coefficient, let p = row.adjustedP else { continue }
            let coefficient = JSONValue.format((r * 1000).rounded() / 1000)
            let pText = Self.formatP(p)
            let summary = context.renderSummary(
                device: -1,
                fallback:
                    "\(row.group): \(rule.x) and \(rule.y) correlate (\(rule.method.rawValue) \(coefficient), p=\(pText), n=\(row.n))",
                extra: [
                    "coefficient": coefficient, "p_value": pText, "n": "\(row.n)", "group": row.group,
                    "method": rule.method.rawValue, "value": coefficient,
                ])
            findings.report(
                FindingSink.Finding(
                    key: row.group, device: -1, site: sites[row.group], severity: context.rule.severity, value: r,
                    summary: summary,
                    evidence: [
                        ("group", .string(row.group)), ("method", .string(rule.method.rawValue)),
                        ("coefficient", .number(r)), ("n", .number(Double(row.n))),
                        ("p_value", .number(row.pValue ?? p)),
                        ("adjusted_p", .number(p)), ("correction", .string(rule.correction.rawValue)),
                        ("groups_tested", .number(Double(tested.count))), ("x", .string("\(rule.x)")),
                        ("y", .string("\(rule.y)")),
                    ],
                    maintenance: context.rule.maintenance, since: time))
        }
        results = rows
    }

    static func formatP(_ p: Double) -> String {
        if p == 0 { return "0" }
        if p < 0.001 {
            let exponent = Int((log10(p)).rounded(.down))
            return "<1e\(exponent + 1)"
        }
        return JSONValue.format((p * 10000).rounded() / 10000)
    }

    func sections(_ context: AnalysisContext) -> AnalysisSections {
        var sections = AnalysisSections()
        sections.correlations += results
        return sections
    }
}
