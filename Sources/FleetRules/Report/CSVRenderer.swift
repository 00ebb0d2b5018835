/// The report as CSV (RFC 4180): one part per report section, each with a stable header.
/// `render` joins the parts into one text, each preceded by a `# name` line and separated by a
/// blank line; `parts` gives them apart (`fleetrules run --format csv --out DIR/` writes one file each).
public enum CSVRenderer {
    public static let headers: [(name: String, header: [String])] = [
        (
            "alerts",
            [
                "priority", "severity", "rule", "kind", "device", "site", "zone", "since", "until", "value", "summary",
                "grouped_under", "related",
            ]
        ),
        (
            "maintenance",
            ["date", "site", "visit_priority", "device", "zone", "task", "due", "rule", "parts", "priority", "late"]
        ),
        ("maintenance_unmet", ["site", "device", "zone", "task", "due", "rule", "priority", "reason", "scheduled"]),
        ("compliance", ["rule", "site", "state", "devices"]),
        (
            "forecasts",
            [
                "device", "rule", "at", "state", "level", "slope_per_day", "crossing_at", "low", "high", "points",
                "model",
            ]
        ),
        ("rebalancing", ["site", "device", "from", "to", "rule"]),
        ("forecast_series", ["device", "rule", "series", "t", "value", "lower", "upper"]),
        ("drift_series", ["rule", "device", "reference", "onset", "detected_at", "t", "value", "reference_value"]),
    ]

    /// (name, CSV text) per part, in `headers` order; every part is present, with its header,
    /// even when it has no rows.
    public static func parts(_ r: Report) -> [(name: String, csv: String)] {
        var rows: [String: [[String]]] = [:]
        rows["alerts"] = r.alerts.map { a in
            let e = a.episode
            return [
                num(a.priority), e.severity.rawValue, e.rule, e.kind.rawValue, e.device, a.site, a.zone,
                Timestamp.format(e.since),
                e.until.map(Timestamp.format) ?? "", e.value.map(num) ?? "", e.summary,
                a.groupedUnder.map { "\($0.rule)@\(Timestamp.format($0.since))" } ?? "",
                a.related.map { "\($0.rule)@\(Timestamp.format($0.since))" }.joined(separator: ";"),
            ]
        }
        rows["maintenance"] = r.maintenance.flatMap { v in
            v.tasks.map { t in
                [
                    v.date, v.site, num(v.priority), t.device, t.zone, t.task, Timestamp.format(t.due), t.rule,
                    t.parts.joined(separator: ";"), num(t.priority), t.late ? "true" : "false",
                ]
            }
        }
        rows["maintenance_unmet"] = r.unmet.map { u in
            [
                u.task.site, u.task.device, u.task.zone, u.task.task, Timestamp.format(u.task.due), u.task.rule,
                num(u.task.priority),
                u.reason, u.scheduled ?? "",
            ]
        }
        rows["compliance"] = r.compliance.flatMap { c in
            let all = ComplianceState.allCases.map { [c.rule, "all", $0.rawValue, String(c.counts[$0] ?? 0)] }
            let sites = c.sites.sorted { $0.key < $1.key }.flatMap { site, counts in
                ComplianceState.allCases.map { [c.rule, site, $0.rawValue, String(counts[$0] ?? 0)] }
            }
            return all + sites
        }
        rows["forecasts"] = r.forecasts.sorted { ($0.device, $0.at, $0.rule) < ($1.device, $1.at, $1.rule) }.map { f in
            [
                f.device, f.rule, Timestamp.format(f.at.rounded()), f.state.rawValue, f.level.map(num) ?? "",
                f.slopePerDay.map(num) ?? "", f.crossingAt.map { Timestamp.format($0.rounded()) } ?? "",
                f.low.map { Timestamp.format($0.rounded()) } ?? "", f.high.map { Timestamp.format($0.rounded()) } ?? "",
                String(f.points), f.model?.rawValue ?? "",
            ]
        }
        rows["rebalancing"] = ReportSections.moves(r).map { [$0.site, $0.device, $0.from, $0.to, $0.rule] }
        func time(_ t: Double) -> String { Timestamp.format(t.rounded()) }
        rows["forecast_series"] = r.forecastSeries.flatMap { f in
            f.history.map { [f.device, f.rule, "history", time($0.t), num($0.value), "", ""] }
                + f.trend.map {
                    [
                        f.device, f.rule, "trend", time($0.t), num($0.value), $0.lower.map(num) ?? "",
                        $0.upper.map(num) ?? "",
                    ]
                }
        }
        rows["drift_series"] = r.driftSeries.flatMap { s in
            s.points.map {
                [
                    s.rule, s.device, s.reference, s.onset.map(time) ?? "", time(s.detectedAt), time($0.t),
                    num($0.device),
                    num($0.reference),
                ]
            }
        }
        return headers.map { part in
            (part.name, ([part.header] + (rows[part.name] ?? [])).map(line).joined())
        }
    }

    public static func render(_ r: Report) -> String {
        parts(r).map { "# \($0.name)\r\n\($0.csv)" }.joined(separator: "\r\n")
    }

    /// Numbers with at most three decimals, integers without a fraction.
    static func num(_ v: Double) -> String { JSONValue.format((v * 1000).rounded() / 1000) }

    static func line(_ cells: [String]) -> String { cells.map(field).joined(separator: ",") + "\r\n" }

    /// RFC 4180 quoting; a cell starting with = + - @ is prefixed with ' so spreadsheets do not
    /// run it as a formula (numbers such as -1.5 are left alone).
    static func field(_ s: String) -> String {
        var s = s
        if let c = s.first, "=+-@".contains(c), Double(s) == nil { s = "'" + s }
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
