/// Report sections of the statistical analyses: `drift` (per rule, the devices tested and those
/// that could not be verified) and `correlations` (per rule, every group tested). Each section is
/// present only when a rule of its kind was evaluated.
extension Report {
    /// One drift rule's coverage at the end of the data.
    public struct Drift: Sendable {
        /// The rule's id.
        public var rule: String
        /// The detector (`cusum`, `ewma`, `page-hinkley`) or correlation method.
        public var method: String
        /// Devices tested in at least one bucket.
        public var tested: Int
        /// Findings opened over the run.
        public var findings: Int
        /// Group buckets skipped because the peers disagreed among themselves by more than the threshold.
        public var transientBuckets: Int
        /// Devices the rule applies to that could not be compared (too few peers, no reference).
        public var unverifiable: [(device: String, reason: String)]
    }

    /// One group of one correlation rule.
    public struct Correlation: Sendable {
        /// The rule's id.
        public var rule: String
        /// The group (the `by` values joined by `/`).
        public var group: String
        /// The detector (`cusum`, `ewma`, `page-hinkley`) or correlation method.
        public var method: String
        /// Pairs (x, y) used.
        public var n: Int
        /// The correlation coefficient; nil when the group was not tested.
        public var coefficient: Double?
        /// Two-sided p-value before and after the multiple-testing correction.
        public var pValue: Double?
        /// The p-value after the rule's multiple-testing correction.
        public var adjustedP: Double?
        /// Whether the adjusted p-value is below the rule's alpha.
        public var significant: Bool
        /// Why the group was not tested (too few pairs, constant signal).
        public var note: String?
    }

    var statisticsSections: [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        if !drift.isEmpty {
            out.append(
                (
                    "drift",
                    .object(
                        drift.sorted { $0.rule < $1.rule }.map { d in
                            (
                                d.rule,
                                .object([
                                    ("method", .string(d.method)), ("tested", .number(Double(d.tested))),
                                    ("findings", .number(Double(d.findings))),
                                    ("transient_buckets", .number(Double(d.transientBuckets))),
                                    (
                                        "unverifiable",
                                        .array(
                                            d.unverifiable.map { u in
                                                .object([("device", .string(u.device)), ("reason", .string(u.reason))])
                                            })
                                    ),
                                ])
                            )
                        })
                ))
        }
        if !correlations.isEmpty {
            func num(_ v: Double?) -> JSONValue { v.map { .number($0) } ?? .null }
            out.append(
                (
                    "correlations",
                    .array(
                        correlations.map { c in
                            .object([
                                ("rule", .string(c.rule)), ("group", .string(c.group)), ("method", .string(c.method)),
                                ("n", .number(Double(c.n))), ("coefficient", num(c.coefficient)),
                                ("p_value", num(c.pValue)),
                                ("adjusted_p", num(c.adjustedP)), ("significant", .bool(c.significant)),
                                ("note", c.note.map { .string($0) } ?? .null),
                            ])
                        })
                ))
        }
        return out
    }
}

extension TableRenderer {
    /// Drift coverage and correlation groups, after the compliance tables.
    static func statisticsTables(_ r: Report) -> String {
        var out = ""
        for d in r.drift {
            out += "\nDRIFT \(d.rule) (\(d.method)): \(d.tested) devices tested, \(d.findings) findings"
            out += ", \(d.unverifiable.count) unverifiable\n"
            for u in d.unverifiable.prefix(10) { out += "  \(u.device): \(u.reason)\n" }
            if d.unverifiable.count > 10 { out += "  … \(d.unverifiable.count - 10) more in the JSON report\n" }
        }
        if !r.correlations.isEmpty {
            out += "\nCORRELATIONS\n"
            func f(_ v: Double?) -> String { v.map { JSONValue.format(($0 * 10000).rounded() / 10000) } ?? "-" }
            let rows = r.correlations.map { c in
                [
                    c.rule, c.group, c.method, "\(c.n)", f(c.coefficient),
                    c.pValue.map(CorrelationAnalyzer.formatP) ?? "-",
                    c.adjustedP.map(CorrelationAnalyzer.formatP) ?? "-", c.significant ? "yes" : (c.note ?? "no"),
                ]
            }
            out += table(["RULE", "GROUP", "METHOD", "N", "COEFFICIENT", "P", "ADJUSTED P", "SIGNIFICANT"], rows)
        }
        return out
    }
}
