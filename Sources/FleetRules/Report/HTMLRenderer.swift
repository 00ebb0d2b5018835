/// The report as one self-contained HTML page (inline CSS and SVG, no script, no network): the
/// summary (its counts link to their lists), alerts by priority, the maintenance calendar,
/// rebalancing (when present), compliance, and plots: the forecasts of the devices that cross
/// their threshold soonest (with the devices already past it in a table of their own), each
/// drift detection's device against its reference (when present) and gateway loads
/// before/after (when present). Plot elements carry `data-` attributes (the plotted values,
/// the declared range) that scripts/check_html.py checks in a browser.
public enum HTMLRenderer {
    /// How many alert rows, forecast plots and drift plots the page shows at most.
    public static let maxAlertRows = 300
    public static let maxForecastPlots = 8
    public static let maxDriftPlots = 24

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
        if !drift.isEmpty || !r.driftSeries.isEmpty { body += driftSection(drift, r.driftSeries) }
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
        .cards{display:flex;flex-wrap:wrap;gap:10px}.card{background:#fff;border:1px solid #d8dee6;border-radius:6px;padding:10px 14px;min-width:120px;color:inherit;text-decoration:none}
        a.card:hover{border-color:#3b6fb6}a.card span{color:#3b6fb6;text-decoration:underline}
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
        let replace = ReportSections.replaceNow(r).count
        // (value, label, the list it links to: nil when there is none on the page).
        var cards: [(String, String, String?)] = [
            (String(open.count), "alerts still firing (\(r.alerts.count) episodes)", r.alerts.isEmpty ? nil : "alerts"),
            (String(critical), "critical, still firing", critical == 0 ? nil : "alerts"),
            (String(r.maintenance.count), "site visits planned", r.maintenance.isEmpty ? nil : "maintenance"),
            (String(tasks), "maintenance tasks", tasks == 0 ? nil : "visits"),
            (String(r.unmet.count), "tasks that cannot be met in time", r.unmet.isEmpty ? nil : "unmet"),
        ]
        if replace > 0 { cards.append((String(replace), "devices to replace now", "replace-now")) }
        cards.append((String(r.input.readings), "readings from \(r.devicesReporting)/\(r.devices) devices", "input"))
        for c in r.compliance {
            let total = c.counts.values.reduce(0, +)
            let ok = c.counts[.compliant] ?? 0
            cards.append(
                (
                    total == 0 ? "-" : "\(Int((Double(ok) / Double(total) * 100).rounded()))%", "compliant (\(c.rule))",
                    "compliance"
                ))
        }
        return "<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">"
            + cards.map { card in
                let inner = "<b>\(esc(card.0))</b><span>\(esc(card.1))</span>"
                guard let target = card.2 else { return "<div class=\"card\">\(inner)</div>" }
                return "<a class=\"card\" href=\"#\(target)\">\(inner)</a>"
            }.joined()
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
            if let i = e.inhibitedBy {
                summary += "<div class=\"related\">inhibited by \(esc(i.rule)) (\(esc(i.group)))</div>"
            }
            if let muted = e.muted { summary += " <span class=\"muted\">(muted: \(esc(muted)))</span>" }
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
            "<h3 id=\"visits\">Visits, highest priority first</h3><table><thead><tr><th>Date</th><th>Site</th><th>Priority</th><th>Device</th><th>Zone</th><th>Task</th><th>Due</th><th>Rule</th><th>Parts</th></tr></thead><tbody>\n"
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
                "<h3 id=\"unmet\">\(r.unmet.count) tasks that cannot be met in time</h3><table><thead><tr><th>Site</th><th>Device</th><th>Task</th><th>Due</th><th>Reason</th><th>Planned</th></tr></thead><tbody>\n"
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
        let series = r.forecastSeries.prefix(maxForecastPlots)
        let replace = ReportSections.replaceNow(r)
        guard !series.isEmpty || !replace.isEmpty else { return "" }
        var out = "<section id=\"forecasts\"><h2>Battery and gauge forecasts</h2>"
        if !series.isEmpty {
            out +=
                "<p class=\"muted\">The \(series.count) devices that cross their threshold soonest within the forecast horizon: level per bucket (dots), the fitted trend (blue line; curved when accelerating or along the learned discharge curve) with its 95% band (shaded), now (grey line) and the predicted crossing (red dot). Levels are clamped to the metric's declared range.</p><div class=\"plots\">"
            for f in series {
                let interval = "\(f.low.map(short) ?? "-") … \(f.high.map(short) ?? "open")"
                out +=
                    "<figure>\(forecastPlot(f))<figcaption>\(esc(f.device)) · \(esc(f.rule)) · crossing \(esc(short(f.crossingAt))) (95%: \(esc(interval))) · \(esc(f.model.rawValue))</figcaption></figure>"
            }
            out += "</div>"
        }
        if !replace.isEmpty {
            out +=
                "<h3 id=\"replace-now\">Replace now: \(replace.count) device\(replace.count == 1 ? "" : "s") already past the threshold</h3>"
            out +=
                "<table><thead><tr><th>Device</th><th>Site</th><th>Rule</th><th>Level</th><th>Threshold</th><th>Since</th></tr></thead><tbody>\n"
            for p in replace {
                out +=
                    "<tr><td>\(esc(p.device))</td><td>\(esc(p.site))</td><td>\(esc(p.rule))</td><td class=\"num\">\(esc(p.level))</td>"
                out +=
                    "<td class=\"num\">\(p.threshold.map(Engine.format) ?? "-")</td><td>\(p.since.map { esc(short($0)) } ?? "-")</td></tr>\n"
            }
            out += "</tbody></table>"
        }
        return out + "</section>\n"
    }

    static func driftSection(_ points: [ReportSections.DriftPoint], _ series: [DriftSeries]) -> String {
        var out = "<section id=\"drift\"><h2>Sensor drift</h2>"
        let shown = series.prefix(maxDriftPlots)
        if !shown.isEmpty {
            out +=
                "<p class=\"muted\">Each detected device's bucket means (orange) against its reference (grey: the median of its peers, or the reference device) around the detection, with the estimated onset (dashed) and the detection (red). A drifting sensor leaves its reference; a zone that differs moves both.</p><div class=\"plots\">"
            for s in shown {
                out +=
                    "<figure>\(driftPlot(s))<figcaption>\(esc(s.device)) · \(esc(s.rule)) · \(esc(s.metric)) against \(esc(s.reference)) · detected \(esc(short(s.detectedAt)))</figcaption></figure>"
            }
            out += "</div>"
            if series.count > shown.count {
                out += "<p class=\"muted\">… \(series.count - shown.count) more in the JSON report.</p>"
            }
        }
        if !points.isEmpty {
            out +=
                "<table><thead><tr><th>Device</th><th>Site</th><th>Rule</th><th>Detected</th><th>Offset</th><th>Statistic</th></tr></thead><tbody>"
            for p in points {
                out +=
                    "<tr><td>\(esc(p.device))</td><td>\(esc(p.site))</td><td>\(esc(p.rule))</td><td>\(esc(short(p.since)))</td>"
                out +=
                    "<td class=\"num\">\(p.offset.map(Engine.format) ?? "-")</td><td class=\"num\">\(p.statistic.map(Engine.format) ?? "-")</td></tr>"
            }
            out += "</tbody></table>"
        }
        return out + "</section>\n"
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

    /// A plot's frame: the SVG size, the plot area inside the margins, and the data ranges.
    struct Frame {
        static let w = 360.0, h = 210.0, left = 46.0, right = 20.0, top = 12.0, bottom = 30.0
        var t0, t1, v0, v1: Double

        func x(_ t: Double) -> Double { Self.left + (t - t0) / max(1, t1 - t0) * (Self.w - Self.left - Self.right) }
        func y(_ v: Double) -> Double {
            Self.top + (v1 - v) / max(1e-12, v1 - v0) * (Self.h - Self.top - Self.bottom)
        }

        /// The plot area, its value ticks (left) and time ticks (below).
        func axes() -> String {
            let (l, t) = (Self.left, Self.top)
            let (pw, ph) = (Self.w - Self.left - Self.right, Self.h - Self.top - Self.bottom)
            var s =
                "<rect x=\"\(HTMLRenderer.n(l))\" y=\"\(HTMLRenderer.n(t))\" width=\"\(HTMLRenderer.n(pw))\" height=\"\(HTMLRenderer.n(ph))\" fill=\"#fbfcfe\" stroke=\"#d8dee6\"/>"
            for v in PlotAxis.valueTicks(v0, v1, maxCount: Int(ph / 18)) {
                s +=
                    "<line x1=\"\(HTMLRenderer.n(l))\" x2=\"\(HTMLRenderer.n(l + pw))\" y1=\"\(HTMLRenderer.n(y(v)))\" y2=\"\(HTMLRenderer.n(y(v)))\" stroke=\"#eef2f6\"/>"
                s +=
                    "<text x=\"\(HTMLRenderer.n(l - 4))\" y=\"\(HTMLRenderer.n(y(v) + 4))\" text-anchor=\"end\">\(HTMLRenderer.esc(Engine.format(v)))</text>"
            }
            for (tick, label) in PlotAxis.timeTicks(t0, t1, maxCount: Int(pw / PlotAxis.timeLabelSpacing)) {
                s +=
                    "<line x1=\"\(HTMLRenderer.n(x(tick)))\" x2=\"\(HTMLRenderer.n(x(tick)))\" y1=\"\(HTMLRenderer.n(t + ph))\" y2=\"\(HTMLRenderer.n(t + ph + 4))\" stroke=\"#5f6b7a\"/>"
                // A label that would leave the picture at the right ends at its tick instead.
                let end = x(tick) + Double(label.count) * PlotAxis.charWidth / 2 > Self.w
                s +=
                    "<text x=\"\(HTMLRenderer.n(x(tick)))\" y=\"\(HTMLRenderer.n(t + ph + 16))\" text-anchor=\"\(end ? "end" : "middle")\">\(HTMLRenderer.esc(label))</text>"
            }
            return s
        }
    }

    static func svgOpen(_ label: String, _ attributes: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(n(Frame.w)) \(n(Frame.h))\" width=\"100%\" role=\"img\" aria-label=\"\(esc(label))\" \(attributes)>"
    }

    /// The values a series element plots, for the browser check.
    static func dataValues(_ v: [Double]) -> String {
        v.map { JSONValue.format(($0 * 1000).rounded() / 1000) }.joined(separator: " ")
    }

    /// Level against time: the bucket history, the fitted path with its band ahead, the
    /// threshold, now and the crossing; the value axis spans the data within the declared range.
    static func forecastPlot(_ f: ForecastSeries) -> String {
        let band = f.trend.compactMap { p in p.lower.flatMap { lo in p.upper.map { (p.t, lo, $0) } } }
        let allTimes = f.history.map(\.t) + f.trend.map(\.t) + [f.at, f.crossingAt]
        var values = f.history.map(\.value) + f.trend.map(\.value) + band.flatMap { [$0.1, $0.2] } + [f.threshold]
        if let range = f.range { values = values.map { min(max($0, range.lowerBound), range.upperBound) } }
        var v0 = values.min() ?? 0, v1 = values.max() ?? 1
        if v1 - v0 < 1e-9 { v1 = v0 + 1 }
        let pad = (v1 - v0) * 0.06
        v0 -= pad
        v1 += pad
        if let range = f.range {
            v0 = max(v0, range.lowerBound)
            v1 = min(v1, range.upperBound)
        }
        let frame = Frame(t0: allTimes.min() ?? f.at, t1: allTimes.max() ?? f.at + 3600, v0: v0, v1: v1)
        var attributes = "data-plot=\"forecast\" data-now=\"\(n(f.at))\" data-crossing=\"\(n(f.crossingAt))\""
        if let range = f.range {
            attributes +=
                " data-min=\"\(JSONValue.format(range.lowerBound))\" data-max=\"\(JSONValue.format(range.upperBound))\""
        }
        var s = svgOpen("forecast \(f.device)", attributes) + frame.axes()
        if !band.isEmpty {
            let outline =
                band.map { (frame.x($0.0), frame.y($0.2)) } + band.reversed().map { (frame.x($0.0), frame.y($0.1)) }
            s +=
                "<polygon data-series=\"band\" data-values=\"\(dataValues(band.flatMap { [$0.1, $0.2] }))\" fill=\"#3b6fb6\" opacity=\"0.15\" points=\""
                + outline.map { "\(n($0.0)),\(n($0.1))" }.joined(separator: " ") + "\"/>"
        }
        let y = frame.y(f.threshold)
        s +=
            "<line x1=\"\(n(Frame.left))\" x2=\"\(n(Frame.w - Frame.right))\" y1=\"\(n(y))\" y2=\"\(n(y))\" stroke=\"#c62828\" stroke-dasharray=\"4 3\"/>"
        // The threshold's label at the left (away from the crossing), above its line, or below
        // when the line is at the top.
        let labelY = y - 4 < Frame.top + 12 ? y + 13 : y - 4
        s +=
            "<text x=\"\(n(Frame.left + 4))\" y=\"\(n(labelY))\" fill=\"#c62828\">threshold \(esc(Engine.format(f.threshold)))</text>"
        s +=
            "<line data-role=\"now\" x1=\"\(n(frame.x(f.at)))\" x2=\"\(n(frame.x(f.at)))\" y1=\"\(n(Frame.top))\" y2=\"\(n(Frame.h - Frame.bottom))\" stroke=\"#7b8794\" stroke-dasharray=\"2 2\"/>"
        s +=
            "<polyline data-series=\"history\" data-values=\"\(dataValues(f.history.map(\.value)))\" fill=\"none\" stroke=\"#8aa0b8\" points=\""
            + f.history.map { "\(n(frame.x($0.t))),\(n(frame.y($0.value)))" }.joined(separator: " ") + "\"/>"
        for p in f.history {
            s += "<circle cx=\"\(n(frame.x(p.t)))\" cy=\"\(n(frame.y(p.value)))\" r=\"1.6\" fill=\"#1d2430\"/>"
        }
        s +=
            "<polyline data-series=\"trend\" data-values=\"\(dataValues(f.trend.map(\.value)))\" fill=\"none\" stroke=\"#3b6fb6\" stroke-width=\"2\" points=\""
            + f.trend.map { "\(n(frame.x($0.t))),\(n(frame.y($0.value)))" }.joined(separator: " ") + "\"/>"
        s +=
            "<circle data-role=\"crossing\" cx=\"\(n(frame.x(f.crossingAt)))\" cy=\"\(n(y))\" r=\"4\" fill=\"#c62828\"><title>crossing \(esc(short(f.crossingAt)))</title></circle>"
        return s + "</svg>"
    }

    /// The device's bucket means against its reference's, with the onset and the detection.
    static func driftPlot(_ d: DriftSeries) -> String {
        let times = d.points.map(\.t) + [d.detectedAt] + (d.onset.map { [$0] } ?? [])
        let values = d.points.flatMap { [$0.device, $0.reference] }
        var v0 = values.min() ?? 0, v1 = values.max() ?? 1
        if v1 - v0 < 1e-9 { v1 = v0 + 1 }
        let pad = (v1 - v0) * 0.08
        let frame = Frame(
            t0: times.min() ?? d.detectedAt, t1: times.max() ?? d.detectedAt + d.bucket, v0: v0 - pad, v1: v1 + pad)
        var s =
            svgOpen("drift \(d.device)", "data-plot=\"drift\" data-detected=\"\(n(d.detectedAt))\"") + frame.axes()
        for (name, color, pick) in [
            ("reference", "#7b8794", { (p: DriftSeries.Point) in p.reference }),
            ("device", "#e08a00", { (p: DriftSeries.Point) in p.device }),
        ] {
            s +=
                "<polyline data-series=\"\(name)\" data-values=\"\(dataValues(d.points.map(pick)))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\" points=\""
                + d.points.map { "\(n(frame.x($0.t))),\(n(frame.y(pick($0))))" }.joined(separator: " ") + "\"/>"
        }
        // Markers: onset and detection, their labels on two rows so they never meet, the onset's
        // left of its line and the detection's right of it, unless that side has no room.
        let markers: [(String, Double, String, String, Double, Bool)] = [
            ("onset", d.onset ?? .nan, "#5f6b7a", "4 3", Frame.top + 11, true),
            ("detected", d.detectedAt, "#c62828", "", Frame.top + 24, false),
        ]
        for (label, t, color, dash, labelY, left) in markers where t.isFinite {
            let x = frame.x(t)
            s +=
                "<line data-role=\"\(label)\" x1=\"\(n(x))\" x2=\"\(n(x))\" y1=\"\(n(Frame.top))\" y2=\"\(n(Frame.h - Frame.bottom))\" stroke=\"\(color)\" stroke-width=\"1.5\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")/>"
            let room = Double(label.count) * PlotAxis.charWidth + 6
            let before = left ? x - room >= Frame.left : x + room > Frame.w - Frame.right
            s +=
                "<text x=\"\(n(before ? x - 3 : x + 3))\" y=\"\(n(labelY))\" text-anchor=\"\(before ? "end" : "start")\" fill=\"\(color)\">\(label)</text>"
        }
        return s + "</svg>"
    }

    static func loadBars(_ g: ReportSections.GroupLoad) -> String {
        let w = 360.0, rowH = 26.0, left = 110.0
        let h = Double(g.gateways.count) * rowH + 10
        let maxLoad = max(1, g.gateways.map { max($0.before, $0.after) }.max() ?? 1)
        // The "before → after" labels sit right of the bars: the bars leave room for the longest.
        let labels = g.gateways.map { "\(Engine.format($0.before)) → \(Engine.format($0.after))" }
        let room = Double(labels.map(\.count).max() ?? 0) * PlotAxis.charWidth + 10
        let scale = (w - left - room) / maxLoad
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(n(w)) \(n(h))\" width=\"100%\" role=\"img\" aria-label=\"gateway loads \(esc(g.site))\" data-plot=\"balance\">"
        for (i, (gw, label)) in zip(g.gateways, labels).enumerated() {
            let y0 = 5 + Double(i) * rowH
            s += "<text x=\"\(n(left - 6))\" y=\"\(n(y0 + 15))\" text-anchor=\"end\">\(esc(gw.gateway))</text>"
            s +=
                "<rect x=\"\(n(left))\" y=\"\(n(y0 + 2))\" width=\"\(n(gw.before * scale))\" height=\"9\" fill=\"#b8c2cf\"/>"
            s +=
                "<rect x=\"\(n(left))\" y=\"\(n(y0 + 12))\" width=\"\(n(gw.after * scale))\" height=\"9\" fill=\"#3b6fb6\"/>"
            s +=
                "<text x=\"\(n(left + max(gw.before, gw.after) * scale + 4))\" y=\"\(n(y0 + 15))\">\(esc(label))</text>"
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
