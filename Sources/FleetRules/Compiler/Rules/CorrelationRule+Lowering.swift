extension CorrelationRule {
    /// The most (x, y) pairs a group keeps (a reservoir sample).
    static let maxPairs = 50_000
    /// The window functions a correlation's `x` and `y` may use.
    static let supportedFunctions: Set<WindowFunction> = [.last, .avg, .min, .max, .sum, .count, .delta, .rate]
    /// Bytes of one metric's running summary within a step (a count and seven numbers).
    static let stepSummaryBytes = 64

    /// Why the rule cannot be evaluated, nil when it can.
    var unsupported: String? {
        let supported = Self.supportedFunctions
        for (name, e) in [("x", x), ("y", y)] {
            guard case .window(let f, _, let seconds) = e, supported.contains(f) else {
                return
                    "correlation \(name) must be one window function of a metric (\(supported.map(\.rawValue).sorted().joined(separator: ", "))); found \(e)"
            }
            if f != .last, seconds != step {
                return "correlation \(name) = \(e) must use a window equal to the step (\(DurationText.format(step)))"
            }
        }
        return nil
    }

    /// One running summary per metric read (one when `x` and `y` read the same metric).
    var stateBytesPerDevice: Int {
        guard case .window(_, let mx, _) = x, case .window(_, let my, _) = y else { return 0 }
        return (mx == my ? 1 : 2) * Self.stepSummaryBytes
    }

    var planSteps: [String] {
        [
            "every \(DurationText.format(step)): one pair (\(x), \(y)) per device into its group by \(by.joined(separator: ", "))",
            "keep at most \(Self.maxPairs) pairs per group (reservoir sample)",
            "at the end: \(method.rawValue) coefficient and two-sided p-value per group with at least \(minSamples) pairs",
            "correct p-values across groups: \(correction.rawValue)",
            "emit a finding per group with corrected p ≤ \(JSONValue.format(significance))",
        ]
    }
}
