/// The report as one self-contained HTML page (inline CSS and SVG, no script, no network): the
/// summary, alerts by priority, the maintenance calendar, rebalancing (when present), compliance,
/// and plots: battery forecasts of the devices closest to their threshold, drift offsets (when
/// present) and gateway loads before/after (when present).
public enum HTMLRenderer {
    /// How many alert rows and forecast plots the page shows at most.
    public static let maxAlertRows = 300
    public static let maxForecastPlots = 6

    public static func render(_ r: Report) -> String {
        let doc = r.json()
        let title = "FleetRules report — \(r.packs.joined(separator: ", "))"
        var body = ""
        body += "<header><h1>\(esc(title))</h1><p class=\"muted\">\(esc(window(r)))</p></header>\n"
        body += summary(r)
        body += alerts(r)
        body += maintenance(r)
        let moves = ReportSections.moves(r, document: doc)
        let loads = ReportSections.loads(r, document: doc)
        if !moves.isEmpty || !loads.isEmpty { body += rebalancing(moves, loads) }
        body += compliance(r)
        body += forecasts(r)
        let drift = ReportSections.drift(r)
        if !drift.isEmpty { body += driftSection(drift) }
        body += input(r)
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(esc(title))</title>
            <style>\(css)</style>
            </head>
            <body>
            \(body)<footer class="muted">Written by fleetrules from the report's JSON (format 1). Priority formula: docs/REPORT.md.</footer>
            </body>
            </html>

            """
    }

    static let css = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;padding:16px 24px;color:#1d2430;background:#fafbfc}
        h1{font-size:22px;margin:8px 0 2px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d8dee6;padding-bottom:4px}
        h3{font-size:15px;margin:16px 0 6px}.muted{color:#5f6b7a}
        .cards{display:flex;flex-wrap:wrap;gap:10px}.card{background:#fff;border:1px solid #d8dee6;border-radius:6px;padding:10px 14px;min-width:120px}
        .card b{display:block;font-size:22px}.card span{color:#5f6b7a;font-size:12px}
        table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0}th,td{border-bottom:1px solid #e6eaf0;padding:4px 6px;text-align:left;vertical-align:top}
        th{background:#eef2f6;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
        .sev{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;font-weight:600;color:#fff}
        .critical{background:#c62828}.warning{background:#e08a00}.info{background:#3b6fb6}
        .late{color:#c62828;font-weight:600}.related{color:#5f6b7a;font-size:12px}
        .cal td{min-width:150px}.cal .visit{background:#e8f1fb;border-left:3px solid #3b6fb6;padding:2px 4px;margin:2px 0;font-size:12px;white-space:nowrap}
        .plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:12px}
        figure{margin:0;background:#fff;border:1px solid #d8dee6;border-radius:6px;padding:8px}figcaption{font-size:12px;color:#5f6b7a}
        svg text{font:11px system-ui,sans-serif;fill:#3a4452}footer{margin:32px 0 8px;font-size:12px}
        """

    // MARK: sections

    static func window(_ r: Report) -> String {
        "\(r.from.map(Timestamp.format) ?? "-") → \(r.to.map(Timestamp.format) ?? "-")"
    }

    static func summary(_ r: Report) -> String {
        let open = r.alerts.filter { $0.episode.until == nil }
        let critical = open.count { $0.episode.severity == .critical }
        let tasks = r.maintenance.reduce(0) { $0 + $1.tasks.count }
        var cards: [(String, String)] = [
            (String(open.count), "alerts still firing (\(r.alerts.count) episodes)"),
            (String(critical), "critical, still firing"),
            (String(r.maintenance.count), "site visits planned"),
            (String(tasks), "maintenance tasks"),
            (String(r.unmet.count), "tasks that cannot be met in time"),
            (String(r.input.readings), "readings from \(r.devicesReporting)/\(r.devices) devices"),
        ]
        for c in r.compliance {
            let total = c.counts.values.reduce(0, +)
            let ok = c.counts[.compliant] ?? 0
            cards.append(
                (total == 0 ? "-" : "\(Int((Double(ok) / Double(total) * 100).rounded()))%", "compliant (\(c.rule))"))
        }
        return "<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">"
            + cards.map { "<div class=\"card\"><b>\(esc($0.0))</b><span>\(esc($0.1))</span></div>" }.joined()
            + "</div></section>\n"
    }

    static func alerts(_ r: Report) -> String {
        let primary = r.alerts.filter { $0.groupedUnder == nil }
        var out = "<section id=\"alerts\"><h2>Alerts by priority</h2>"
        out +=
            "<p class=\"muted\">\(primary.count) alerts (\(r.alerts.count - primary.count) more grouped under them as related findings about the same device).</p>"
        out +=
            "<table><thead><tr><th>Priority</th><th>Severity</th><th>Rule</th><th>Device</th><th>Site / zone</th><th>Since</th><th>Until</th><th>Summary</th></tr></thead><tbody>\n"
        for a in primary.prefix(maxAlertRows) {
            let e = a.episode
            var summary = esc(e.summary)
            if let levels = e.severityPathText { summary += "<div class=\"levels\">\(esc(levels))</div>" }
            if !a.related.isEmpty {
                summary +=
                    "<div class=\"related\">related: "
                    + a.related.map { esc("\($0.rule) (\($0.severity), \(Engine.format($0.priority)))") }.joined(
                        separator: ", ") + "</div>"
            }
            out +=
                "<tr><td class=\"num\">\(Engine.format(a.priority))</td><td><span class=\"sev \(e.severity.rawValue)\">\(e.severity.rawValue)</span></td>"
            out +=
                "<td>\(esc(e.rule))</td><td>\(esc(e.device))</td><td>\(esc(a.site))\(a.zone.isEmpty ? "" : " / " + esc(a.zone))</td>"
            out +=
                "<td>\(esc(short(e.since)))</td><td>\(e.until.map { esc(short($0)) } ?? "<b>firing</b>")</td><td>\(summary)</td></tr>\n"
        }
        out += "</tbody></table>"
        if primary.count > maxAlertRows {
            out += "<p class=\"muted\">… \(primary.count - maxAlertRows) more in the JSON report.</p>"
        }
        return out + "</section>\n"
    }

    static func maintenance(_ r: Report) -> String {
        var out = "<section id=\"maintenance\"><h2>Maintenance calendar</h2>"
        out +=
            "<p class=\"muted\">At most one visit per site and day; a task may be pulled up to \(esc(DurationText.format(r.schedule.horizon))) earlier to join a visit, \(r.schedule.maxTasksPerVisit) tasks per visit at most.</p>"
        guard !r.maintenance.isEmpty else { return out + "<p>No maintenance tasks.</p></section>\n" }
        // Calendar: sites as rows, visit days as columns.
        let dates = Set(r.maintenance.map(\.date)).sorted()
        let sites = Set(r.maintenance.map(\.site)).sorted()
        var byKey: [String: Report.Visit] = [:]
        for v in r.maintenance { byKey["\(v.site)|\(v.date)"] = v }
        out += "<div style=\"overflow-x:auto\"><table class=\"cal\"><thead><tr><th>Site</th>"
        out += dates.map { "<th>\(esc($0))</th>" }.joined() + "</tr></thead><tbody>\n"
        for site in sites {
            out += "<tr><th>\(esc(site))</th>"
            for d in dates {
                if let v = byKey["\(site)|\(d)"] {
                    let tasks = v.tasks.map { esc("\($0.device) · \($0.task)") }.joined(separator: "<br>")
                    out +=
                        "<td><div class=\"visit\"><b>\(v.tasks.count) task\(v.tasks.count == 1 ? "" : "s")</b> · prio \(Engine.format(v.priority))<br>\(tasks)</div></td>"
                } else {
                    out += "<td></td>"
                }
            }
            out += "</tr>\n"
        }
        out += "</tbody></table></div>"
        out +=
            "<h3>Visits, highest priority first</h3><table><thead><tr><th>Date</th><th>Site</th><th>Priority</th><th>Device</th><th>Zone</th><th>Task</th><th>Due</th><th>Rule</th><th>Parts</th></tr></thead><tbody>\n"
        for v in r.maintenance {
            for (i, t) in v.tasks.enumerated() {
                out +=
                    "<tr><td>\(i == 0 ? esc(v.date) : "")</td><td>\(i == 0 ? esc(v.site) : "")</td><td class=\"num\">\(Engine.format(t.priority))</td>"
                out += "<td>\(esc(t.device))</td><td>\(esc(t.zone))</td><td>\(esc(t.task))</td>"
                out +=
                    "<td\(t.late ? " class=\"late\"" : "")>\(esc(short(t.due)))\(t.late ? " late" : "")</td><td>\(esc(t.rule))</td><td>\(esc(t.parts.joined(separator: ", ")))</td></tr>\n"
            }
        }
        out += "</tbody></table>"
        if !r.unmet.isEmpty {
            out +=
                "<h3>Tasks that cannot be met in time</h3><table><thead><tr><th>Site</th><th>Device</th><th>Task</th><th>Due</th><th>Reason</th><th>Planned</th></tr></thead><tbody>\n"
            for u in r.unmet {
                out +=
                    "<tr><td>\(esc(u.task.site))</td><td>\(esc(u.task.device))</td><td>\(esc(u.task.task))</td><td>\(esc(short(u.task.due)))</td>"
                out += "<td class=\"late\">\(esc(u.reason))</td><td>\(esc(u.scheduled ?? "not planned"))</td></tr>\n"
            }
            out += "</tbody></table>"
        }
        return out + "</section>\n"
    }

    static func rebalancing(_ moves: [ReportSections.Move], _ loads: [ReportSections.GroupLoad]) -> String {
        var out = "<section id=\"rebalancing\"><h2>Gateway rebalancing</h2>"
        if !loads.isEmpty {
            out += "<div class=\"plots\">"
            for g in loads {
                out +=
                    "<figure>\(loadBars(g))<figcaption>\(esc(g.site)): devices per gateway before (grey) and after (blue) the moves</figcaption></figure>"
            }
            out += "</div>"
            let silent = loads.flatMap { g in
                g.silentDevices.map { (site: g.site, gateway: $0.gateway, devices: $0.devices) }
            }
            if !silent.isEmpty {
                out += "<p>Silent devices, left out of the plan (a visit, not a move):</p><ul>"
                for s in silent {
                    out += "<li>\(esc(s.site)) · \(esc(s.gateway)): \(esc(s.devices.joined(separator: ", ")))</li>"
                }
                out += "</ul>"
            }
        }
        if !moves.isEmpty {
            out +=
                "<table><thead><tr><th>Site</th><th>Device</th><th>From</th><th>To</th><th>Rule</th></tr></thead><tbody>\n"
            for m in moves {
                out +=
                    "<tr><td>\(esc(m.site))</td><td>\(esc(m.device))</td><td>\(esc(m.from))</td><td>\(esc(m.to))</td><td>\(esc(m.rule))</td></tr>\n"
            }
            out += "</tbody></table>"
        }
        return out + "</section>\n"
    }

    static func compliance(_ r: Report) -> String {
        guard !r.compliance.isEmpty else { return "" }
        var out = "<section id=\"compliance\"><h2>Compliance</h2>"
        let states = ComplianceState.allCases
        for c in r.compliance {
            out += "<h3>\(esc(c.rule))</h3>"
            out += stackedBars(c)
            out +=
                "<table><thead><tr><th>Site</th>" + states.map { "<th>\(esc($0.rawValue))</th>" }.joined()
                + "</tr></thead><tbody>"
            out += "<tr><th>all</th>" + states.map { "<td class=\"num\">\(c.counts[$0] ?? 0)</td>" }.joined() + "</tr>"
            for (site, counts) in c.sites.sorted(by: { $0.key < $1.key }) {
                out +=
                    "<tr><td>\(esc(site))</td>" + states.map { "<td class=\"num\">\(counts[$0] ?? 0)</td>" }.joined()
                    + "</tr>"
            }
            out += "</tbody></table>"
            for g in c.inconsistent {
                out +=
                    "<p>\(esc(g.site)) \(esc(g.type)): \(g.versions.count) versions (\(esc(g.versions.joined(separator: ", "))))</p>"
            }
        }
        return out + "</section>\n"
    }

    static func forecasts(_ r: Report) -> String {
        // The newest snapshot per device and rule; plot the soonest crossings.
        var newest: [String: ForecastSnapshot] = [:]
        var history: [String: [ForecastSnapshot]] = [:]
        for f in r.forecasts {
            let key = "\(f.device)|\(f.rule)"
            history[key, default: []].append(f)
            if (newest[key]?.at ?? -.infinity) <= f.at { newest[key] = f }
        }
        let top = newest.values.filter { $0.crossingAt != nil && $0.level != nil && $0.slopePerDay != nil }
            .sorted { ($0.crossingAt ?? 0, $0.device, $0.rule) < ($1.crossingAt ?? 0, $1.device, $1.rule) }
            .prefix(maxForecastPlots)
        guard !top.isEmpty else { return "" }
        var out = "<section id=\"forecasts\"><h2>Battery and gauge forecasts</h2>"
        out +=
            "<p class=\"muted\">The \(top.count) devices closest to their threshold: forecast level at each snapshot (dots; a daily history with <code>run --forecast-history</code>), the fitted trend (line) and the predicted crossing with its 95% interval (band).</p><div class=\"plots\">"
        for f in top {
            let points = (history["\(f.device)|\(f.rule)"] ?? []).sorted { $0.at < $1.at }
            let limit = threshold(r, f)
            out +=
                "<figure>\(forecastPlot(f, points, threshold: limit))<figcaption>\(esc(f.device)) · \(esc(f.rule)) · \(esc(crossingText(f, threshold: limit))) · \(esc(Engine.format(f.slopePerDay ?? 0)))/day</figcaption></figure>"
        }
        return out + "</div></section>\n"
    }

    /// "crossing 2026-03-04 10:00", or for a level already past the threshold where it is:
    /// "at 2.4, below 5".
    static func crossingText(_ f: ForecastSnapshot, threshold: Double?) -> String {
        guard f.isPastThreshold, let level = f.level else { return "crossing " + (f.crossingAt.map(short) ?? "-") }
        guard let threshold else { return "at \(Engine.format(level)), past the threshold" }
        return "at \(Engine.format(level)), \(level < threshold ? "below" : "above") \(Engine.format(threshold))"
    }

    /// The forecast rule's threshold from the device's forecast alert, when there is one.
    static func threshold(_ r: Report, _ f: ForecastSnapshot) -> Double? {
        for a in r.alerts where a.episode.kind == .forecast && a.episode.device == f.device && a.episode.rule == f.rule
        {
            if let t = ReportSections.number(JSONValue.object(a.episode.evidence)["threshold"]) { return t }
        }
        return nil
    }

    static func driftSection(_ points: [ReportSections.DriftPoint]) -> String {
        var out = "<section id=\"drift\"><h2>Sensor drift</h2>"
        out +=
            "<p class=\"muted\">Offset of each drifting device from its reference at detection (bars), with the test statistic.</p>"
        out += "<figure>\(driftBars(points))</figure>"
        out +=
            "<table><thead><tr><th>Device</th><th>Site</th><th>Rule</th><th>Detected</th><th>Offset</th><th>Statistic</th></tr></thead><tbody>"
        for p in points {
            out +=
                "<tr><td>\(esc(p.device))</td><td>\(esc(p.site))</td><td>\(esc(p.rule))</td><td>\(esc(short(p.since)))</td>"
            out +=
                "<td class=\"num\">\(p.offset.map(Engine.format) ?? "-")</td><td class=\"num\">\(p.statistic.map(Engine.format) ?? "-")</td></tr>"
        }
        return out + "</tbody></table></section>\n"
    }

    static func input(_ r: Report) -> String {
        var out =
            "<section id=\"input\"><h2>Input</h2><p>\(r.input.readings) readings from \(r.devicesReporting)/\(r.devices) devices"
        if r.input.rejectedTotal > 0 {
            out +=
                ", rejected "
                + esc(
                    r.input.rejected.sorted { $0.key < $1.key }.map { "\($0.key.rawValue) \($0.value)" }.joined(
                        separator: ", "))
        }
        out += ".</p>"
        if !r.notEvaluated.isEmpty {
            out +=
                "<p class=\"muted\">Not evaluated by this version: \(esc(r.notEvaluated.joined(separator: ", ")))</p>"
        }
        return out + "</section>\n"
    }

    // MARK: plots

    /// Level against time, with the trend line to the threshold and the crossing interval.
    /// Without a known threshold it is where the trend line reaches at the crossing.
    static func forecastPlot(_ f: ForecastSnapshot, _ points: [ForecastSnapshot], threshold known: Double? = nil)
        -> String
    {
        let w = 360.0, h = 200.0, left = 40.0, right = 10.0, top = 10.0, bottom = 30.0
        guard let level = f.level, let slope = f.slopePerDay, let crossing = f.crossingAt else { return "" }
        let threshold = known ?? (level + slope * (crossing - f.at) / 86400)
        let observed = points.compactMap { p in p.level.map { (p.at, $0) } }
        let t0 = min(observed.map(\.0).min() ?? f.at, f.at)
        let t1 = max(f.high ?? crossing, crossing, f.at + 3600)
        let values = observed.map(\.1) + [level, threshold]
        var v0 = values.min() ?? 0, v1 = values.max() ?? 1
        if v1 - v0 < 1e-9 { v1 = v0 + 1 }
        let pad = (v1 - v0) * 0.08
        v0 -= pad
        v1 += pad
        func x(_ t: Double) -> Double { left + (t - t0) / max(1, t1 - t0) * (w - left - right) }
        func y(_ v: Double) -> Double { top + (v1 - v) / (v1 - v0) * (h - top - bottom) }
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(n(w)) \(n(h))\" width=\"100%\" role=\"img\" aria-label=\"forecast \(esc(f.device))\">"
        s +=
            "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(w - left - right))\" height=\"\(n(h - top - bottom))\" fill=\"#fbfcfe\" stroke=\"#d8dee6\"/>"
        if let lo = f.low {
            let hi = f.high ?? t1
            s +=
                "<rect x=\"\(n(x(lo)))\" y=\"\(n(top))\" width=\"\(n(max(1.5, x(hi) - x(lo))))\" height=\"\(n(h - top - bottom))\" fill=\"#f6c9c9\" opacity=\"0.6\"/>"
        }
        s +=
            "<line x1=\"\(n(left))\" x2=\"\(n(w - right))\" y1=\"\(n(y(threshold)))\" y2=\"\(n(y(threshold)))\" stroke=\"#c62828\" stroke-dasharray=\"4 3\"/>"
        s +=
            "<text x=\"\(n(w - right - 2))\" y=\"\(n(y(threshold) - 3))\" text-anchor=\"end\">threshold \(Engine.format(threshold))</text>"
        s +=
            "<line x1=\"\(n(x(f.at)))\" y1=\"\(n(y(level)))\" x2=\"\(n(x(crossing)))\" y2=\"\(n(y(threshold)))\" stroke=\"#3b6fb6\" stroke-width=\"2\"/>"
        if observed.count > 1 {
            s +=
                "<polyline fill=\"none\" stroke=\"#8aa0b8\" points=\""
                + observed.map { "\(n(x($0.0))),\(n(y($0.1)))" }.joined(separator: " ") + "\"/>"
        }
        for (t, v) in observed { s += "<circle cx=\"\(n(x(t)))\" cy=\"\(n(y(v)))\" r=\"2.5\" fill=\"#1d2430\"/>" }
        s += "<circle cx=\"\(n(x(crossing)))\" cy=\"\(n(y(threshold)))\" r=\"4\" fill=\"#c62828\"/>"
        // Axes: value range and the first, "now" and crossing dates.
        s +=
            "<text x=\"\(n(left - 4))\" y=\"\(n(y(v1 - pad) + 4))\" text-anchor=\"end\">\(Engine.format(v1 - pad))</text>"
        s +=
            "<text x=\"\(n(left - 4))\" y=\"\(n(y(v0 + pad) + 4))\" text-anchor=\"end\">\(Engine.format(v0 + pad))</text>"
        s += "<text x=\"\(n(left))\" y=\"\(n(h - 10))\">\(esc(String(Timestamp.format(t0).prefix(10))))</text>"
        s +=
            "<text x=\"\(n(x(crossing)))\" y=\"\(n(h - 10))\" text-anchor=\"end\">\(esc(String(Timestamp.format(crossing).prefix(10))))</text>"
        return s + "</svg>"
    }

    static func loadBars(_ g: ReportSections.GroupLoad) -> String {
        let w = 360.0, rowH = 26.0, left = 110.0
        let h = Double(g.gateways.count) * rowH + 10
        let maxLoad = max(1, g.gateways.map { max($0.before, $0.after) }.max() ?? 1)
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(n(w)) \(n(h))\" width=\"100%\" role=\"img\" aria-label=\"gateway loads \(esc(g.site))\">"
        for (i, gw) in g.gateways.enumerated() {
            let y0 = 5 + Double(i) * rowH
            let scale = (w - left - 40) / maxLoad
            s += "<text x=\"\(n(left - 6))\" y=\"\(n(y0 + 15))\" text-anchor=\"end\">\(esc(gw.gateway))</text>"
            s +=
                "<rect x=\"\(n(left))\" y=\"\(n(y0 + 2))\" width=\"\(n(gw.before * scale))\" height=\"9\" fill=\"#b8c2cf\"/>"
            s +=
                "<rect x=\"\(n(left))\" y=\"\(n(y0 + 12))\" width=\"\(n(gw.after * scale))\" height=\"9\" fill=\"#3b6fb6\"/>"
            s +=
                "<text x=\"\(n(left + max(gw.before, gw.after) * scale + 4))\" y=\"\(n(y0 + 15))\">\(Engine.format(gw.before)) → \(Engine.format(gw.after))</text>"
        }
        return s + "</svg>"
    }

    static func driftBars(_ points: [ReportSections.DriftPoint]) -> String {
        let shown = points.prefix(40)
        let w = 720.0, h = 220.0, left = 40.0, bottom = 60.0, top = 10.0
        let values = shown.map { $0.offset ?? $0.statistic ?? 0 }
        let m = max(1e-9, values.map(abs).max() ?? 1)
        let zero = top + (h - top - bottom) / 2
        let bw = (w - left - 10) / Double(max(1, shown.count))
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(n(w)) \(n(h))\" width=\"100%\" role=\"img\" aria-label=\"drift offsets\">"
        s += "<line x1=\"\(n(left))\" x2=\"\(n(w - 10))\" y1=\"\(n(zero))\" y2=\"\(n(zero))\" stroke=\"#5f6b7a\"/>"
        s += "<text x=\"\(n(left - 4))\" y=\"\(n(top + 8))\" text-anchor=\"end\">\(Engine.format(m))</text>"
        s += "<text x=\"\(n(left - 4))\" y=\"\(n(h - bottom))\" text-anchor=\"end\">\(Engine.format(-m))</text>"
        for (i, (p, v)) in zip(shown, values).enumerated() {
            let x0 = left + Double(i) * bw + 2
            let len = abs(v) / m * (h - top - bottom) / 2
            s +=
                "<rect x=\"\(n(x0))\" y=\"\(n(v >= 0 ? zero - len : zero))\" width=\"\(n(max(1, bw - 4)))\" height=\"\(n(len))\" fill=\"#e08a00\"/>"
            s +=
                "<text transform=\"translate(\(n(x0 + bw / 2)),\(n(h - bottom + 8))) rotate(60)\">\(esc(p.device))</text>"
        }
        return s + "</svg>"
    }

    static func stackedBars(_ c: Report.Compliance) -> String {
        let colors: [ComplianceState: String] = [
            .compliant: "#2e7d32", .outdated: "#e08a00", .denied: "#c62828", .unknown: "#7b8794", .stale: "#b8c2cf",
            .rolloutPending: "#3b6fb6", .rolloutFailed: "#8e24aa",
        ]
        let rows = [("all", c.counts)] + c.sites.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let w = 820.0, rowH = 22.0, left = 100.0
        let h = Double(rows.count) * rowH + 30
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(n(w)) \(n(h))\" width=\"100%\" role=\"img\" aria-label=\"compliance \(esc(c.rule))\">"
        for (i, (name, counts)) in rows.enumerated() {
            let y0 = Double(i) * rowH + 4
            let total = max(1, counts.values.reduce(0, +))
            var x0 = left
            s += "<text x=\"\(n(left - 6))\" y=\"\(n(y0 + 13))\" text-anchor=\"end\">\(esc(name))</text>"
            for state in ComplianceState.allCases {
                let k = counts[state] ?? 0
                guard k > 0 else { continue }
                let bw = Double(k) / Double(total) * (w - left - 10)
                s +=
                    "<rect x=\"\(n(x0))\" y=\"\(n(y0))\" width=\"\(n(bw))\" height=\"16\" fill=\"\(colors[state] ?? "#999")\"><title>\(esc(state.rawValue)): \(k)</title></rect>"
                x0 += bw
            }
        }
        var lx = left
        for state in ComplianceState.allCases {
            s +=
                "<rect x=\"\(n(lx))\" y=\"\(n(h - 18))\" width=\"10\" height=\"10\" fill=\"\(colors[state] ?? "#999")\"/>"
            s += "<text x=\"\(n(lx + 14))\" y=\"\(n(h - 9))\">\(esc(state.rawValue))</text>"
            lx += 100
        }
        return s + "</svg>"
    }

    // MARK: helpers

    static func n(_ v: Double) -> String { v.isFinite ? JSONValue.format((v * 10).rounded() / 10) : "0" }

    static func short(_ t: Double) -> String {
        let s = Timestamp.format(t)
        return String(s.prefix(16)).replacingOccurrences(of: "T", with: " ")
    }

    static func esc(_ s: String) -> String { Markup.escape(s) }
}
