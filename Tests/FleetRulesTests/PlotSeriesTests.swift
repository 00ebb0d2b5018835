import Foundation
import Testing

@testable import FleetRules

/// The plots' series a plain `run` carries (docs/REPORT.md, "Plot series"): present, bounded,
/// clamped to the declared range, the soonest crossings, each drift detection with its reference,
/// on the example fleet and on a simulated 300-device, 10-day fleet, and what the HTML page
/// draws of them.
@Suite(.serialized) struct PlotSeriesTests {
    /// rules/ declares battery_pct and humidity in [0, 100], temperature in [-40, 125].
    static let ranges: [String: ClosedRange<Double>] = [
        "battery_pct": 0...100, "humidity": 0...100, "temperature": -40...125,
    ]
    static let horizons: [String: Double] = ["battery-depletion": 30 * 86400, "battery-depletion-remote": 60 * 86400]

    /// A plain `run` of rules/ (no `--forecast-history`): the report as written and read back.
    static func run(telemetry: String, inventory: String) throws -> (report: Report, text: String) {
        let out = try CLI.temporaryFile("report.json", "")
        let r = try CLI.run([
            "run", "rules/", "--telemetry", telemetry, "--inventory", inventory, "--format", "json", "--out", out,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        return (try Report.decode(json: text), text)
    }

    /// The forecast series: the soonest future crossings within the horizon of each rule, with a
    /// bounded history, the fitted path to the threshold, its band around it, all within range.
    static func checkForecasts(_ r: Report, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let series = r.forecastSeries
        #expect(!series.isEmpty, sourceLocation: sourceLocation)
        #expect(series.count <= ForecastSeries.maxPerReport, sourceLocation: sourceLocation)
        #expect(series.map(\.crossingAt) == series.map(\.crossingAt).sorted(), sourceLocation: sourceLocation)
        var newest: [String: ForecastSnapshot] = [:]
        for f in r.forecasts where (newest["\(f.device)|\(f.rule)"]?.at ?? -.infinity) <= f.at {
            newest["\(f.device)|\(f.rule)"] = f
        }
        for rule in Set(series.map(\.rule)) {
            let mine = series.filter { $0.rule == rule }
            #expect(mine.count <= ForecastSeries.maxPerRule, sourceLocation: sourceLocation)
            let horizon = try #require(horizons[rule], sourceLocation: sourceLocation)
            // The devices plotted are the first of all the rule's future crossings within the horizon.
            let candidates = newest.values.filter {
                $0.rule == rule && !$0.isPastThreshold && $0.state == .depleting
                    && ($0.crossingAt ?? .infinity) - $0.at <= horizon
            }.sorted { ($0.crossingAt ?? 0, $0.device) < ($1.crossingAt ?? 0, $1.device) }
            #expect(
                mine.map(\.device) == candidates.prefix(mine.count).map(\.device), "\(rule)",
                sourceLocation: sourceLocation)
        }
        for s in series {
            let label = "\(s.device) \(s.rule)"
            let range = try #require(s.range, sourceLocation: sourceLocation)
            #expect(range == ranges[s.metric], sourceLocation: sourceLocation)
            #expect(s.crossingAt > s.at, "\(label): a future crossing", sourceLocation: sourceLocation)
            #expect(s.crossingAt - s.at <= horizons[s.rule] ?? 0, "\(label)", sourceLocation: sourceLocation)
            #expect(
                (3...ForecastSeries.maxHistory).contains(s.history.count), "\(label): \(s.history.count) points",
                sourceLocation: sourceLocation)
            #expect(s.history.map(\.t) == s.history.map(\.t).sorted(), sourceLocation: sourceLocation)
            #expect(s.history.allSatisfy { $0.t <= s.at }, sourceLocation: sourceLocation)
            #expect(
                s.trend.count == ForecastSeries.trendPointsPast + ForecastSeries.trendPointsAhead + 1,
                sourceLocation: sourceLocation)
            #expect(s.trend.map(\.t) == s.trend.map(\.t).sorted(), sourceLocation: sourceLocation)
            #expect((s.trend.last?.t ?? 0) >= s.crossingAt - 1, "\(label): the path reaches past the crossing")
            let values =
                s.history.map(\.value) + s.trend.map(\.value) + s.trend.compactMap(\.lower)
                + s.trend.compactMap(\.upper)
            #expect(values.allSatisfy { range.contains($0) }, "\(label)", sourceLocation: sourceLocation)
            // The band surrounds the path ahead of now, and the path goes from above the (falling)
            // threshold now to it at the end.
            for p in s.trend where p.t >= s.at {
                let lower = try #require(p.lower, sourceLocation: sourceLocation)
                let upper = try #require(p.upper, sourceLocation: sourceLocation)
                #expect(lower <= p.value + 1e-3 && p.value <= upper + 1e-3, "\(label)", sourceLocation: sourceLocation)
            }
            #expect(s.trend.allSatisfy { $0.t >= s.at || ($0.lower == nil && $0.upper == nil) })
            let now = try #require(s.trend.first { $0.t >= s.at }, sourceLocation: sourceLocation)
            #expect(now.value >= s.threshold - 1e-3, "\(label)", sourceLocation: sourceLocation)
            #expect(
                (s.trend.last?.value ?? .infinity) <= s.threshold + 1e-3, "\(label)", sourceLocation: sourceLocation)
        }
        // Devices already past the threshold are not plotted.
        let past = Set(newest.values.filter(\.isPastThreshold).map { "\($0.device)|\($0.rule)" })
        #expect(series.allSatisfy { !past.contains("\($0.device)|\($0.rule)") }, sourceLocation: sourceLocation)
    }

    /// Each drift detection (up to the bound per rule) has the device's and its reference's bucket
    /// means around it, with the onset and the detection time of the device's latest finding.
    static func checkDrift(_ r: Report, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let findings = r.alerts.filter { $0.episode.kind == .drift }
        #expect(!findings.isEmpty, sourceLocation: sourceLocation)
        for rule in Set(findings.map(\.episode.rule)) {
            let devices = Set(findings.filter { $0.episode.rule == rule }.map(\.episode.device))
            let series = r.driftSeries.filter { $0.rule == rule }
            #expect(
                series.count == min(devices.count, DriftSeries.maxPerRule), "\(rule)", sourceLocation: sourceLocation)
            #expect(Set(series.map(\.device)).count == series.count, sourceLocation: sourceLocation)
        }
        for s in r.driftSeries {
            let label = "\(s.device) \(s.rule)"
            let latest = try #require(
                findings.filter { $0.episode.rule == s.rule && $0.episode.device == s.device }.last,
                sourceLocation: sourceLocation)
            #expect(s.detectedAt == latest.episode.since, "\(label)", sourceLocation: sourceLocation)
            let onset = ReportSections.string(JSONValue.object(latest.episode.evidence)["onset"])
            #expect(s.onset.map(Timestamp.format) ?? "" == onset, "\(label)", sourceLocation: sourceLocation)
            let before = s.points.filter { $0.t < s.detectedAt }.count
            let after = s.points.count - before
            #expect(before >= 3 && before <= DriftSeries.maxBefore, "\(label)", sourceLocation: sourceLocation)
            #expect(after <= DriftSeries.maxAfter, "\(label)", sourceLocation: sourceLocation)
            #expect(s.points.map(\.t) == s.points.map(\.t).sorted(), sourceLocation: sourceLocation)
            // The bucket the detection closed is the last before it.
            #expect(s.points.contains { $0.t == s.detectedAt - s.bucket }, "\(label)", sourceLocation: sourceLocation)
            let range = try #require(ranges[s.metric], sourceLocation: sourceLocation)
            #expect(
                s.points.allSatisfy { range.contains($0.device) && range.contains($0.reference) },
                sourceLocation: sourceLocation)
        }
    }

    /// The page draws one plot per series (up to its bounds), none for a device past its
    /// threshold, lists those to replace now, and its summary's counts link to their lists.
    static func checkPage(_ r: Report, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let html = HTMLRenderer.render(r)
        func count(_ s: String) -> Int { html.components(separatedBy: s).count - 1 }
        #expect(
            count("data-plot=\"forecast\"") == min(r.forecastSeries.count, HTMLRenderer.maxForecastPlots),
            sourceLocation: sourceLocation)
        #expect(
            count("data-plot=\"drift\"") == min(r.driftSeries.count, HTMLRenderer.maxDriftPlots),
            sourceLocation: sourceLocation)
        let replace = ReportSections.replaceNow(r)
        for p in replace {
            #expect(!html.contains("aria-label=\"forecast \(p.device)\""), sourceLocation: sourceLocation)
            #expect(html.contains("<tr><td>\(p.device)</td>"), sourceLocation: sourceLocation)
        }
        if !replace.isEmpty { #expect(html.contains("href=\"#replace-now\""), sourceLocation: sourceLocation) }
        if !r.unmet.isEmpty {
            #expect(
                html.contains("<a class=\"card\" href=\"#unmet\"><b>\(r.unmet.count)</b>")
                    && html.contains("<h3 id=\"unmet\">"), sourceLocation: sourceLocation)
        }
        // Every plotted value of a forecast is within its declared range.
        for plot in html.components(separatedBy: "data-plot=\"forecast\"").dropFirst() {
            let svg = plot.components(separatedBy: "</svg>")[0]
            for part in svg.components(separatedBy: "data-values=\"").dropFirst() {
                let values = part.prefix { $0 != "\"" }.split(separator: " ").compactMap { Double($0) }
                #expect(!values.isEmpty && values.allSatisfy { (0...100).contains($0) }, sourceLocation: sourceLocation)
            }
        }
    }

    @Test func exampleFleetCarriesThePlotSeries() throws {
        let (report, text) = try Self.run(
            telemetry: "examples/fleet/telemetry.jsonl.gz", inventory: "examples/fleet/inventory.csv")
        try Self.checkForecasts(report)
        try Self.checkDrift(report)
        try Self.checkPage(report)
        // The example fleet has a battery past its threshold (d-00036).
        #expect(ReportSections.replaceNow(report).map(\.device).contains("d-00036"))
        // Read back, the report writes the same document.
        #expect(report.json().serialized(pretty: true) + "\n" == text)
    }

    @Test func simulatedFleetCarriesThePlotSeries() throws {
        var o = SimulationOptions()
        o.devices = 300
        o.days = 10
        o.interval = 3600
        o.seed = 42
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fr-plots-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try Simulator.run(o, to: dir.path)
        let (report, _) = try Self.run(
            telemetry: dir.appendingPathComponent("telemetry.jsonl").path,
            inventory: dir.appendingPathComponent("inventory.csv").path)
        try Self.checkForecasts(report)
        try Self.checkDrift(report)
        try Self.checkPage(report)
        #expect(report.forecastSeries.count >= HTMLRenderer.maxForecastPlots)
        #expect(!ReportSections.replaceNow(report).isEmpty)
        #expect(!report.unmet.isEmpty)
    }

    /// A battery falling towards the bottom of its range: the band's fast edge reaches the
    /// bottom before the crossing and would go below it; the series stops at the range's end.
    @Test func seriesAreClampedToTheDeclaredRange() throws {
        var h = try EngineHarness(
            rules: """
                  - forecast: depletion
                    metric: battery_pct
                    threshold: 0
                    fit: 7d
                    horizon: 30d
                    severity: { 30d: warning }
                """)
        var random = SimulationRandom(seed: 3)
        var minute = 0.0
        // 10% a day from 95% with noise: 0% after 9.5 days; the data ends after 9.
        while minute < 9 * 1440 {
            h.send(minute, ["battery_pct": max(0, 95 - 10 * minute / 1440 + 0.3 * random.gaussian())])
            minute += 10
        }
        h.engine.finish()
        let report = h.engine.report()
        let s = try #require(report.forecastSeries.first)
        #expect(s.range == 0...100)
        // The fast edge reaches 0 at the interval's low end, before the path's end: beyond it,
        // unclamped, it is below 0.
        let low = try #require(s.low)
        let end = try #require(s.trend.last)
        #expect(low < end.t && end.t >= s.crossingAt)
        #expect(end.lower == 0 && end.value == 0)
        #expect(s.trend.allSatisfy { $0.value >= 0 && ($0.lower ?? 0) >= 0 && ($0.upper ?? 0) <= 100 })
        #expect(s.history.count > 48 && s.history.count <= ForecastSeries.maxHistory)
        #expect(s.history.allSatisfy { (0...100).contains($0.value) })
    }

    /// The JSON of the series reads back to the same values.
    @Test func seriesReadBackFromTheJSON() throws {
        var report = SampleReport.make()
        report.forecastSeries = [
            ForecastSeries(
                device: "d-1", rule: "battery", metric: "battery_pct", range: 0...100, threshold: 5,
                at: SampleReport.t0, level: 40, crossingAt: SampleReport.t0 + 86400, low: nil, high: nil, model: .curve,
                history: [.init(t: SampleReport.t0 - 3600, value: 41.5)],
                trend: [.init(t: SampleReport.t0, value: 40, lower: 39.5, upper: 40.5)])
        ]
        report.driftSeries = [
            DriftSeries(
                rule: "drift", device: "d-2", metric: "temperature", reference: "peer median", onset: nil,
                detectedAt: SampleReport.t0, bucket: 3600,
                points: [.init(t: SampleReport.t0 - 3600, device: 21.25, reference: 20)])
        ]
        let back = try Report.decode(json: report.json().serialized(pretty: true))
        #expect(back.forecastSeries == report.forecastSeries)
        #expect(back.driftSeries == report.driftSeries)
        #expect(back.json().serialized(pretty: true) == report.json().serialized(pretty: true))
    }
}

@Suite struct PlotAxisTests {
    /// Time ticks are at least the label spacing apart for any span and plot width.
    @Test func timeTicksAreSpacedForTheirLabels() {
        let spans: [Double] = [3600, 6 * 3600, 86400, 3 * 86400, 10 * 86400, 45 * 86400, 400 * 86400]
        let widths: [Double] = [200, 294, 600]
        for span in spans {
            for width in widths {
                let maxCount = Int(width / PlotAxis.timeLabelSpacing)
                let start = SampleReport.t0 + 1234
                let ticks: [(Double, String)] = PlotAxis.timeTicks(start, start + span, maxCount: maxCount)
                #expect(!ticks.isEmpty && ticks.count <= maxCount, "span \(span), width \(width): \(ticks.count)")
                let labels: [String] = ticks.map { $0.1 }
                #expect(labels.allSatisfy { $0.count == 5 || $0.count == 4 })
            }
        }
        let days = PlotAxis.timeTicks(SampleReport.t0, SampleReport.t0 + 4 * 86400, maxCount: 5)
        #expect(days.map(\.1) == ["03-01", "03-02", "03-03", "03-04", "03-05"])
        let hours = PlotAxis.timeTicks(SampleReport.t0 + 3600, SampleReport.t0 + 86400, maxCount: 5)
        #expect(hours.map(\.1) == ["06:00", "12:00", "18:00", "03-02"])
    }

    @Test func valueTicksAreRoundAndWithinTheSpan() {
        #expect(PlotAxis.valueTicks(3.2, 51.7, maxCount: 6) == [10, 20, 30, 40, 50])
        #expect(PlotAxis.valueTicks(0, 1, maxCount: 3) == [0, 0.5, 1])
        #expect(
            PlotAxis.valueTicks(-21.7, -17.2, maxCount: 9) == [-21.5, -21, -20.5, -20, -19.5, -19, -18.5, -18, -17.5])
        #expect(PlotAxis.valueTicks(5, 5, maxCount: 4).isEmpty)
    }
}
