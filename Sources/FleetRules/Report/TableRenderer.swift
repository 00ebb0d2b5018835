import Foundation

/// The terminal view of a report: alerts by priority, one line each, then maintenance and input.
public enum TableRenderer {
    public static func render(_ r: Report, limit: Int? = nil) -> String {
        var out = ""
        let window = "\(r.from.map(Timestamp.format) ?? "-") → \(r.to.map(Timestamp.format) ?? "-")"
        out += "FleetRules report  pack \(r.packs.joined(separator: ","))  \(window)\n"
        out += "input: \(r.input.readings) readings from \(r.devicesReporting)/\(r.devices) devices"
        if r.input.rejectedTotal > 0 {
            let parts = r.input.rejected.sorted { $0.key < $1.key }.map { "\($0.key.rawValue) \($0.value)" }
            out += ", rejected \(r.input.rejectedTotal) (\(parts.joined(separator: ", ")))"
        }
        out += "\n\n"
        let firing = r.alerts.count { $0.episode.until == nil }
        out += "ALERTS (\(r.alerts.count) episodes, \(firing) still firing)\n"
        // Grouped alerts are shown under the alert they belong to (`+N related`).
        let primary = r.alerts.filter { $0.groupedUnder == nil }
        let rows = primary.prefix(limit ?? primary.count).map { a -> [String] in
            let e = a.episode
            var related = a.related.isEmpty ? "" : "  [+\(a.related.map(\.rule).joined(separator: ", "))]"
            if let i = e.inhibitedBy { related += "  [inhibited by \(i.rule) \(i.group)]" }
            if let muted = e.muted { related += "  [muted: \(muted)]" }
            if let levels = e.severityPathText { related += "  [\(levels)]" }
            return [
                Engine.format(a.priority), e.severity.rawValue.uppercased(), e.rule, e.device, a.site,
                short(e.since), e.until.map(short) ?? "firing", e.summary + related,
            ]
        }
        out += table(["PRIO", "SEVERITY", "RULE", "DEVICE", "SITE", "SINCE", "UNTIL", "SUMMARY"], rows)
        if let limit, primary.count > limit { out += "… \(primary.count - limit) more in the JSON report\n" }
        if !r.maintenance.isEmpty {
            let tasks = r.maintenance.reduce(0) { $0 + $1.tasks.count }
            out += "\nMAINTENANCE (\(r.maintenance.count) visits, \(tasks) tasks; highest priority first)\n"
            let rows = r.maintenance.flatMap { v in
                v.tasks.map {
                    [
                        v.date, v.site, Engine.format($0.priority), $0.zone, $0.device, $0.task,
                        short($0.due) + ($0.late ? " LATE" : ""),
                        $0.rule, $0.parts.joined(separator: ", "),
                    ]
                }
            }
            out += table(["DATE", "SITE", "PRIO", "ZONE", "DEVICE", "TASK", "DUE", "RULE", "PARTS"], rows)
        }
        if !r.unmet.isEmpty {
            out += "\nCANNOT BE MET IN TIME (\(r.unmet.count))\n"
            out += table(
                ["SITE", "DEVICE", "TASK", "DUE", "REASON", "PLANNED"],
                r.unmet.map {
                    [$0.task.site, $0.task.device, $0.task.task, short($0.task.due), $0.reason, $0.scheduled ?? "-"]
                })
        }
        // The devices heading soonest for a forecast threshold, newest forecast per device and rule.
        var newest: [String: ForecastSnapshot] = [:]
        for f in r.forecasts where (newest["\(f.device)|\(f.rule)"]?.at ?? -.infinity) <= f.at {
            newest["\(f.device)|\(f.rule)"] = f
        }
        let soonest = newest.values.filter { $0.crossingAt != nil }.sorted {
            ($0.crossingAt ?? 0, $0.device, $0.rule) < ($1.crossingAt ?? 0, $1.device, $1.rule)
        }
        if !soonest.isEmpty {
            let shown = soonest.prefix(limit ?? 15)
            out += "\nFORECASTS (\(soonest.count) devices trending to a threshold, soonest first)\n"
            out += table(
                ["DEVICE", "RULE", "LEVEL", "PER DAY", "CROSSING", "95% INTERVAL", "MODEL"],
                shown.map { f in
                    [
                        f.device, f.rule, f.level.map(Engine.format) ?? "-", f.slopePerDay.map(Engine.format) ?? "-",
                        f.isPastThreshold ? "passed" : f.crossingAt.map(short) ?? "-",
                        "\(f.low.map(short) ?? "-") … \(f.high.map(short) ?? "open")", f.model?.rawValue ?? "-",
                    ]
                })
            if soonest.count > shown.count { out += "… \(soonest.count - shown.count) more in the JSON report\n" }
        }
        let replace = ReportSections.replaceNow(r)
        if !replace.isEmpty {
            out +=
                "\nREPLACE NOW (\(replace.count) device\(replace.count == 1 ? "" : "s") past the forecast threshold)\n"
            out += table(
                ["DEVICE", "SITE", "RULE", "LEVEL", "THRESHOLD", "SINCE"],
                replace.map {
                    [
                        $0.device, $0.site, $0.rule, $0.level, $0.threshold.map(Engine.format) ?? "-",
                        $0.since.map(short) ?? "-",
                    ]
                })
        }
        if !r.driftSeries.isEmpty {
            // Is the sensor drifting or is its zone different: its mean offset from the reference
            // before the onset and after the detection.
            out += "\nDRIFT AGAINST THE REFERENCE (mean device − reference before the onset and after the detection)\n"
            out += table(
                ["DEVICE", "RULE", "REFERENCE", "ONSET", "DETECTED", "BEFORE", "AFTER"],
                r.driftSeries.map { s in
                    func mean(_ points: [DriftSeries.Point]) -> String {
                        points.isEmpty
                            ? "-"
                            : Engine.format(points.map { $0.device - $0.reference }.reduce(0, +) / Double(points.count))
                    }
                    let start = s.onset ?? s.detectedAt
                    return [
                        s.device, s.rule, s.reference, s.onset.map(short) ?? "-", short(s.detectedAt),
                        mean(s.points.filter { $0.t < start }), mean(s.points.filter { $0.t >= s.detectedAt }),
                    ]
                })
        }
        let gauges = newest.values.filter { [.flat, .erratic, .silent].contains($0.state) }.count
        if gauges > 0 { out += "\(gauges) gauges flat, erratic or silent: no forecast for them (see the alerts)\n" }
        for c in r.compliance {
            let total = c.counts.values.reduce(0, +)
            out += "\nCOMPLIANCE \(c.rule) (\(total) devices)\n"
            let states = ComplianceState.allCases
            var rows = [["all"] + states.map { String(c.counts[$0] ?? 0) }]
            for (site, counts) in c.sites.sorted(by: { $0.key < $1.key }) {
                rows.append([site] + states.map { String(counts[$0] ?? 0) })
            }
            out += table(["SITE"] + states.map { $0.rawValue.uppercased() }, rows)
            for g in c.inconsistent {
                out += "  \(g.site) \(g.type): \(g.versions.count) versions (\(g.versions.joined(separator: ", ")))\n"
            }
        }
        out += rebalancing(r)
        if !r.input.examples.isEmpty {
            out += "\nREJECTED INPUT (first examples)\n"
            for e in r.input.examples {
                let at = e.origin.map { "\($0.file):\($0.line): " } ?? ""
                out += "  \(at)\(e.reason.rawValue): \(e.message)\n"
            }
        }
        out += statisticsTables(r)
        if !r.notEvaluated.isEmpty {
            out += "\nnot evaluated by this version: \(r.notEvaluated.joined(separator: ", "))\n"
        }
        return out
    }

    static func short(_ t: Double) -> String {
        let s = Timestamp.format(t)
        return String(s.dropFirst(5).prefix(11)).replacingOccurrences(of: "T", with: " ")
    }

    /// Left-aligned columns; the last column is not padded.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count - 1 { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                i == cells.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count)
            }.joined(separator: "  ") + "\n"
        }
        return line(header) + rows.map(line).joined()
    }
}
