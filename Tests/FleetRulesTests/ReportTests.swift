import Foundation
import Testing

@testable import FleetRules

/// A small hand-built report: independent of the engine, so the golden files change only when a
/// renderer does.
enum SampleReport {
    static let t0 = 1_772_323_200.0  // 2026-03-01T00:00:00Z
    static let day = 86400.0

    static func episode(
        _ rule: String, _ kind: RuleKind, _ device: String, _ severity: AlertSeverity, since: Double,
        until: Double? = nil,
        summary: String, evidence: [(String, JSONValue)] = []
    ) -> AlertEpisode {
        AlertEpisode(
            rule: rule, kind: kind, pack: "demo", device: device, severity: severity, since: since, until: until,
            value: 12.5,
            summary: summary, labels: ["team": "field"], evidence: evidence, maintenance: nil)
    }

    static func task(_ device: String, _ site: String, due: Double, priority: Double, late: Bool = false) -> Report.Task
    {
        Report.Task(
            device: device, site: site, zone: "line-1", task: "replace-battery", due: due, rule: "battery-low",
            parts: ["lithium pack, 3.6V"], priority: priority, late: late)
    }

    static func make() -> Report {
        var input = InputStats()
        input.readings = 1200
        input.rejected = [.malformed: 2]
        input.examples = [
            .init(reason: .malformed, origin: ReadingOrigin(file: "t.jsonl", line: 7), message: "bad \"quote\"")
        ]
        input.firstTimestamp = t0
        input.lastTimestamp = t0 + 2 * day
        var low = Report.Alert(
            episode: episode(
                "battery-low", .alert, "d-1", .warning, since: t0 + day, summary: "d-1 battery at 12.5%, <low>"),
            site: "plant-a", zone: "line-1", priority: 62)
        var depletion = Report.Alert(
            episode: episode(
                "battery-depletion", .forecast, "d-1", .critical, since: t0 + day, summary: "d-1 reaches 5% in 2d",
                evidence: [("crossing_at", "2026-03-05T00:00:00Z"), ("threshold", 5)]),
            site: "plant-a", zone: "line-1", priority: 93.5)
        depletion.related = [Report.AlertRef(low)]
        low.groupedUnder = Report.AlertRef(depletion)
        let silent = Report.Alert(
            episode: episode(
                "gw-silent", .alert, "gw-1", .critical, since: t0 + 3600, until: t0 + 7200,
                summary: "gw-1 silent, 15m <no uplink> & \"late\""),
            site: "plant-b", zone: "", priority: 85)
        let visits = [
            Report.Visit(
                site: "plant-a", date: "2026-03-03", tasks: [task("d-1", "plant-a", due: t0 + 2 * day, priority: 93.5)]),
            Report.Visit(
                site: "plant-b", date: "2026-03-03",
                tasks: [
                    task("d-7", "plant-b", due: t0 + 1.5 * day, priority: 50, late: true),
                    task("d-8", "plant-b", due: t0 + 4 * day, priority: 40),
                ]),
        ]
        var report = Report(
            packs: ["demo"], from: t0, to: t0 + 2 * day, input: input, devices: 10, devicesReporting: 9,
            alerts: [depletion, silent, low], maintenance: visits,
            compliance: [
                Report.Compliance(
                    rule: "firmware", counts: [.compliant: 7, .outdated: 2],
                    sites: ["plant-a": [.compliant: 4, .outdated: 1], "plant-b": [.compliant: 3, .outdated: 1]],
                    devices: [("d-1", .compliant), ("d-2", .outdated)], inconsistent: [])
            ],
            forecasts: [
                ForecastSnapshot(
                    device: "d-1", rule: "battery-depletion", at: t0 + day, state: .depleting, level: 21,
                    slopePerDay: -6,
                    crossingAt: t0 + 4 * day, low: t0 + 3.8 * day, high: t0 + 4.2 * day, points: 40, model: .linear),
                ForecastSnapshot(
                    device: "d-1", rule: "battery-depletion", at: t0 + 2 * day, state: .depleting, level: 15,
                    slopePerDay: -5,
                    crossingAt: t0 + 4 * day, low: t0 + 3.9 * day, high: t0 + 4.1 * day, points: 60, model: .linear),
            ],
            evaluatedKinds: ["alert", "forecast"], notEvaluated: ["balance-gw"])
        report.unmet = [
            Report.Unmet(
                task: task("d-7", "plant-b", due: t0 + 1.5 * day, priority: 50, late: true), reason: "overdue",
                scheduled: "2026-03-03")
        ]
        return report
    }

    /// Compares with the golden file (see `Golden`).
    static func expectGolden(_ text: String, _ name: String) throws { try Golden.expect(text, name) }
}

@Suite struct PriorityTests {
    @Test func formulaAddsSeverityCriticalityUrgencyAndSpread() {
        // Critical, high criticality, the condition holds now, alone at its site.
        #expect(Priority.score(severity: .critical, criticality: "high", timeLeft: 0, sameSiteOthers: 0) == 100)
        // Warning, medium, a forecast crossing in 7 of the 14 urgency days, two other devices.
        #expect(
            Priority.score(severity: .warning, criticality: "medium", timeLeft: 7 * 86400, sameSiteOthers: 2) == 56.5)
        // Info, low, resolved (no urgency), spread capped at 5.
        #expect(Priority.score(severity: .info, criticality: "low", timeLeft: nil, sameSiteOthers: 40) == 15)
        // A missing or unknown criticality counts as medium; 14 days or more adds no urgency.
        #expect(Priority.score(severity: .info, criticality: "", timeLeft: 30 * 86400, sameSiteOthers: 0) == 22)
        #expect(Priority.score(severity: .info, criticality: "weird", timeLeft: 14 * 86400, sameSiteOthers: 0) == 22)
        // Rounded to 0.1.
        #expect(Priority.score(severity: .info, criticality: "low", timeLeft: 86400, sameSiteOthers: 0) == 23.9)
    }

    @Test func timeLeftComesFromTheForecastCrossing() throws {
        let now = SampleReport.t0 + 86400
        let forecast = SampleReport.episode(
            "f", .forecast, "d", .warning, since: SampleReport.t0, summary: "",
            evidence: [("crossing_at", "2026-03-04T00:00:00Z")])
        let left = try #require(Priority.timeLeft(forecast, now: now))
        #expect(left == 172_800)
        let alert = SampleReport.episode("a", .alert, "d", .warning, since: SampleReport.t0, summary: "")
        #expect(Priority.timeLeft(alert, now: now) == 0)
        var resolved = alert
        resolved.until = now
        #expect(Priority.timeLeft(resolved, now: now) == nil)
        // A crossing already past counts as no time left.
        #expect(Priority.timeLeft(forecast, now: now + 10 * 86400) == 0)
    }
}

@Suite struct GroupingTests {
    static let subjects: [String: Set<String>] = [
        "battery-low": ["metric:battery_pct", "task:replace-battery"],
        "battery-depletion": ["metric:battery_pct", "task:replace-battery"],
        "firmware": ["attribute:firmware", "task:update-firmware"],
    ]

    static func alert(_ rule: String, _ device: String, _ priority: Double, since: Double, until: Double? = nil)
        -> Report.Alert
    {
        Report.Alert(
            episode: SampleReport.episode(rule, .alert, device, .warning, since: since, until: until, summary: ""),
            site: "s", zone: "z", priority: priority)
    }

    @Test func overlappingFindingsOfOneDeviceAndProblemGroupUnderTheHighest() {
        let t = SampleReport.t0
        var alerts = [
            Self.alert("battery-depletion", "d1", 90, since: t + 3600),
            Self.alert("firmware", "d1", 70, since: t),
            Self.alert("battery-low", "d1", 60, since: t),
            Self.alert("battery-low", "d2", 60, since: t),
        ]
        AlertGrouping.group(&alerts, subjects: Self.subjects, now: t + 86400)
        #expect(alerts[0].related.map(\.rule) == ["battery-low"])
        #expect(alerts[2].groupedUnder?.rule == "battery-depletion")
        // Another problem of the same device and the same problem of another device stay apart.
        #expect(alerts[1].groupedUnder == nil && alerts[1].related.isEmpty)
        #expect(alerts[3].groupedUnder == nil)
        // Nothing is lost: all four are still alerts.
        #expect(alerts.count == 4)
    }

    @Test func findingsThatDoNotOverlapInTimeStayApart() {
        let t = SampleReport.t0
        var alerts = [
            Self.alert("battery-depletion", "d1", 90, since: t + 7200),
            Self.alert("battery-low", "d1", 60, since: t, until: t + 3600),
        ]
        AlertGrouping.group(&alerts, subjects: Self.subjects, now: t + 86400)
        #expect(alerts[0].related.isEmpty && alerts[1].groupedUnder == nil)
    }

    @Test func engineReportGroupsBatteryLowUnderTheForecast() throws {
        // battery-low and battery-critical read the same metric: the critical one leads.
        var h = try EngineHarness(
            rules: """
                  - alert: battery-low
                    when: last(battery_pct) < 20
                    severity: warning
                    maintenance: replace-battery
                  - alert: battery-critical
                    when: last(battery_pct) < 5
                    severity: critical
                    maintenance: { task: replace-battery, parts: [pack] }
                  - alert: hot
                    when: last(temperature) > 100
                """)
        h.send(0, ["battery_pct": 3, "temperature": 120])
        _ = h.finish()
        let engine = h.engine
        let report = engine.report()
        let critical = try #require(report.alerts.first { $0.episode.rule == "battery-critical" })
        #expect(critical.related.map(\.rule) == ["battery-low"])
        // `hot` reads another metric: a problem of its own.
        let hot = try #require(report.alerts.first { $0.episode.rule == "hot" })
        #expect(hot.groupedUnder == nil && hot.related.isEmpty)
        // One task per device and task: the parts of both, the leading rule.
        let tasks = report.maintenance.flatMap(\.tasks)
        #expect(tasks.count == 1)
        #expect(tasks.first?.rule == "battery-critical" && tasks.first?.parts == ["pack"])
    }
}

@Suite struct SchedulerTests {
    static let t0 = SampleReport.t0
    static let day = 86400.0

    static func task(_ device: String, site: String = "a", dueDay: Double, priority: Double = 50) -> Report.Task {
        Report.Task(
            device: device, site: site, zone: "", task: "fix", due: t0 + dueDay * day + 3600, rule: "r", parts: [],
            priority: priority)
    }

    @Test func aTaskJoinsAnEarlierVisitWithinTheHorizon() {
        let tasks = [Self.task("d1", dueDay: 0), Self.task("d2", dueDay: 2)]
        let (visits, unmet) = VisitScheduler.schedule(
            tasks, now: Self.t0, options: ScheduleOptions(horizon: 3 * Self.day))
        #expect(visits.count == 1)
        #expect(visits.first?.date == "2026-03-01" && visits.first?.tasks.count == 2)
        #expect(unmet.isEmpty)
    }

    @Test func beyondTheHorizonATaskGetsItsOwnVisitOnItsDueDay() {
        let tasks = [Self.task("d1", dueDay: 0), Self.task("d2", dueDay: 2)]
        let (visits, _) = VisitScheduler.schedule(tasks, now: Self.t0, options: ScheduleOptions(horizon: Self.day))
        #expect(visits.map(\.date).sorted() == ["2026-03-01", "2026-03-03"])
    }

    @Test func aFullVisitPushesTasksEarlierNeverLater() {
        let tasks = (1...3).map { Self.task("d\($0)", dueDay: 2) }
        let (visits, unmet) = VisitScheduler.schedule(
            tasks, now: Self.t0, options: ScheduleOptions(horizon: 0, maxTasksPerVisit: 2))
        #expect(unmet.isEmpty)
        #expect(visits.map(\.date).sorted() == ["2026-03-02", "2026-03-03"])
        #expect(visits.allSatisfy { $0.tasks.count <= 2 })
    }

    @Test func tasksWithNoDayLeftAreUnmet() {
        let tasks = (1...3).map { Self.task("d\($0)", dueDay: 0) }
        let (visits, unmet) = VisitScheduler.schedule(
            tasks, now: Self.t0, options: ScheduleOptions(maxTasksPerVisit: 2))
        #expect(visits.flatMap(\.tasks).count == 2)
        #expect(unmet.map(\.reason) == ["no capacity"])
        #expect(unmet.first?.scheduled == nil)
    }

    @Test func overdueTasksArePlannedFirstAndListedAsLate() {
        let tasks = [Self.task("d1", dueDay: -2)]
        let (visits, unmet) = VisitScheduler.schedule(tasks, now: Self.t0 + 3600, options: ScheduleOptions())
        #expect(visits.first?.date == "2026-03-01")
        #expect(visits.first?.tasks.first?.late == true)
        #expect(unmet.map(\.reason) == ["overdue"] && unmet.first?.scheduled == "2026-03-01")
    }

    @Test func absurdDueTimesAreUnmetNotACrash() {
        var far = Self.task("d1", dueDay: 0)
        far.due = 1e300
        var nan = Self.task("d2", dueDay: 0)
        nan.due = .nan
        let (visits, unmet) = VisitScheduler.schedule([far, nan], now: Self.t0, options: ScheduleOptions())
        #expect(visits.isEmpty)
        #expect(unmet.map(\.reason) == ["no due time", "no due time"])
    }

    @Test func visitsAreOrderedByTheirHighestPriority() {
        let tasks = [
            Self.task("d1", site: "a", dueDay: 0, priority: 30), Self.task("d2", site: "b", dueDay: 3, priority: 90),
        ]
        let (visits, _) = VisitScheduler.schedule(tasks, now: Self.t0, options: ScheduleOptions(horizon: 0))
        #expect(visits.map(\.site) == ["b", "a"])
        #expect(visits.map(\.priority) == [90, 30])
    }

    /// Many tasks at a few sites: the invariants hold for every one.
    @Test func invariantsHoldOnAPseudoRandomWorkload() {
        var seed: UInt64 = 42
        func next(_ n: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(n))
        }
        var tasks: [Report.Task] = []
        for i in 0..<300 {
            tasks.append(
                Self.task("d\(i)", site: "s\(next(4))", dueDay: Double(next(12) - 2), priority: Double(next(100))))
        }
        let options = ScheduleOptions(horizon: 2 * Self.day, maxTasksPerVisit: 5)
        let (visits, unmet) = VisitScheduler.schedule(tasks, now: Self.t0, options: options)
        #expect(Set(visits.map { "\($0.site)|\($0.date)" }).count == visits.count, "one visit per site and day")
        #expect(visits.allSatisfy { $0.tasks.count <= 5 })
        for v in visits {
            for t in v.tasks {
                let dueDate = String(Timestamp.format(t.due).prefix(10))
                #expect(t.late || v.date <= dueDate, "\(t.device) planned \(v.date) after its due day \(dueDate)")
                #expect(v.date >= "2026-03-01")
                #expect(t.site == v.site)
            }
        }
        let planned = visits.flatMap(\.tasks).map(\.device)
        let dropped = unmet.filter { $0.scheduled == nil }.map(\.task.device)
        #expect(Set(planned).count == planned.count)
        #expect(Set(planned + dropped) == Set(tasks.map(\.device)))
        #expect(zip(visits, visits.dropFirst()).allSatisfy { $0.priority >= $1.priority })
    }
}

@Suite struct ScheduleSectionTests {
    static func check(_ files: [String]) -> PolicyCheck {
        PolicyLoader().check(
            sources: files.enumerated().map { (file: "f\($0.offset).yaml", bytes: Array($0.element.utf8)) })
    }

    @Test func theSectionSetsThePolicySchedule() throws {
        let result = Self.check(["fleetrules: 1\npack: p\nschedule: { horizon: 5d, max_tasks_per_visit: 4 }\n"])
        let schedule = try #require(result.policy?.schedule)
        #expect(schedule == ScheduleOptions(horizon: 5 * 86400, maxTasksPerVisit: 4))
    }

    @Test func filesThatDisagreeAreAnError() {
        let result = Self.check([
            "fleetrules: 1\npack: p\nschedule: { horizon: 5d }\n",
            "fleetrules: 1\npack: q\nschedule: { horizon: 2d }\n",
        ])
        #expect(result.policy == nil)
        #expect(result.diagnostics.map(\.code).contains(.conflictingSchedule))
    }

    @Test func badValuesAreLocatedErrors() {
        let result = Self.check(["fleetrules: 1\npack: p\nschedule:\n  max_tasks_per_visit: 0\n  horizn: 2d\n"])
        let codes = result.diagnostics.map(\.code)
        #expect(codes.contains(.invalidValue) && codes.contains(.unknownKey))
        #expect(result.diagnostics.allSatisfy { $0.range.start.line >= 4 })
    }
}

@Suite struct ReportDecoderTests {
    @Test func aReportReadBackWritesTheSameJSON() throws {
        let report = SampleReport.make()
        let text = report.json().serialized(pretty: true)
        let decoded = try Report.decode(json: text)
        #expect(decoded.json().serialized(pretty: true) == text)
        #expect(decoded.alerts.first?.related.first?.rule == "battery-low")
        #expect(decoded.unmet.first?.reason == "overdue")
    }

    @Test func unknownSectionsArePassedThrough() throws {
        var json = SampleReport.make().json()
        guard case .object(var members) = json else { return }
        let move = JSONValue.object([
            ("site", "s"), ("device", "d"), ("from", "g1"), ("to", "g2"), ("rule", "r"), ("group", "plant"),
        ])
        members = members.map { $0.0 == "rebalancing" ? ("rebalancing", .array([move])) : $0 }
        members.append(("zz_future", .object([("x", 1)])))
        json = .object(members)
        let decoded = try Report.decode(json: json.serialized())
        #expect(decoded.json() == json)
        #expect(ReportSections.moves(decoded).map(\.to) == ["g2"])
    }

    @Test func badReportsGiveTheJSONPath() {
        #expect(throws: ReportDecodeError.self) { try Report.decode(json: "{\"format\": 2}") }
        do {
            _ = try Report.decode(
                json:
                    #"{"format":1,"pack":"p","window":{},"input":{"readings":1,"devices":1,"devices_reporting":1,"rejected":{}},"alerts":[{"rule":"r"}],"maintenance":[]}"#
            )
            Issue.record("expected an error")
        } catch let e as ReportDecodeError {
            #expect(e.path == "alerts[0].kind")
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(throws: ReportDecodeError.self) { try Report.decode(json: "[1,") }
    }

    @Test func theParserHandlesEscapesAndRejectsBadInput() throws {
        let v = try JSONValue.parse(#"{"a": "x\"\\\n\u00e9\ud83d\ude00", "b": [1, -2.5e3, true, null], "c": {}}"#)
        #expect(v["a"] == .string("x\"\\\né😀"))
        #expect(v["b"] == [1, -2500, true, .null])
        for bad in [
            "", "{", "[1 2]", "{\"a\" 1}", "\"\\ud800\"", "01x", "[" + String(repeating: "[", count: 300) + "]",
        ] {
            #expect(throws: JSONParseError.self) { try JSONValue.parse(bad) }
        }
    }
}

@Suite struct RendererTests {
    @Test func tableMatchesItsGoldenFile() throws {
        try SampleReport.expectGolden(TableRenderer.render(SampleReport.make()), "report.table.txt")
    }

    @Test func csvMatchesItsGoldenFileWithAStableHeaderPerPart() throws {
        let report = SampleReport.make()
        try SampleReport.expectGolden(CSVRenderer.render(report), "report.csv")
        let parts = CSVRenderer.parts(report)
        #expect(parts.map(\.name) == CSVRenderer.headers.map(\.name))
        for (part, spec) in zip(parts, CSVRenderer.headers) {
            #expect(part.csv.hasPrefix(spec.header.joined(separator: ",") + "\r\n"))
        }
        // Quoting: a comma inside a cell.
        #expect(parts[1].csv.contains("\"lithium pack, 3.6V\""))
    }

    @Test func icalMatchesItsGoldenFileWithOneEventPerVisit() throws {
        let text = ICalendarRenderer.render(SampleReport.make())
        try SampleReport.expectGolden(text, "report.ics")
        #expect(text.components(separatedBy: "BEGIN:VEVENT").count - 1 == 2)
        // Folded at 75 octets with CRLF.
        for line in text.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 75) }
    }

    @Test func htmlIsSelfContainedWithEverySection() throws {
        var report = SampleReport.make()
        let t0 = SampleReport.t0, day = SampleReport.day
        report.forecastSeries = [
            ForecastSeries(
                device: "d-1", rule: "battery-depletion", metric: "battery_pct", range: 0...100, threshold: 5,
                at: t0 + 2 * day, level: 15, crossingAt: t0 + 4 * day, low: t0 + 3.9 * day, high: t0 + 4.1 * day,
                model: .linear,
                history: [.init(t: t0, value: 25), .init(t: t0 + day, value: 20), .init(t: t0 + 2 * day, value: 15)],
                trend: [
                    .init(t: t0, value: 25, lower: nil, upper: nil),
                    .init(t: t0 + 2 * day, value: 15, lower: 15, upper: 15),
                    .init(t: t0 + 4 * day, value: 5, lower: 4, upper: 6),
                ])
        ]
        let html = HTMLRenderer.render(report)
        for id in ["summary", "alerts", "maintenance", "compliance", "forecasts", "input"] {
            #expect(html.contains("<section id=\"\(id)\">"), "missing section \(id)")
        }
        #expect(!html.contains("<section id=\"rebalancing\">") && !html.contains("<section id=\"drift\">"))
        #expect(!html.contains("<script") && !html.contains("http://www.example") && !html.contains("src="))
        #expect(html.contains("&lt;no uplink&gt; &amp; &quot;late&quot;"))  // summaries are escaped
        #expect(!html.contains("<no uplink>"))
        // One forecast plot (one device) and one compliance chart.
        #expect(html.components(separatedBy: "aria-label=\"forecast d-1\"").count == 2)
        #expect(html.contains("aria-label=\"compliance firmware\""))
        // Grouped alerts are shown under their lead alert, not as rows of their own.
        #expect(html.contains("related: battery-low"))
        #expect(html.contains("overdue"))
    }

    @Test func htmlShowsRebalancingAndDriftWhenPresent() throws {
        var report = SampleReport.make()
        report.rebalancing = [
            Report.Move(rule: "balance", group: "plant-b", site: "plant-b", device: "d-9", from: "gw-1", to: "gw-2")
        ]
        report.rebalancingGroups = [
            Report.BalanceGroup(
                rule: "balance", group: "plant-b", site: "plant-b", load: "devices",
                window: (SampleReport.t0, SampleReport.t0 + 3600),
                mean: 20, band: (14, 26), status: "rebalanced", note: nil, moves: 1,
                gateways: [
                    .init(gateway: "gw-1", before: 30, after: 20, capacity: nil, silent: false),
                    .init(gateway: "gw-2", before: 10, after: 20, capacity: nil, silent: false),
                ])
        ]
        report.alerts.append(
            Report.Alert(
                episode: SampleReport.episode(
                    "drift", .drift, "d-3", .warning, since: SampleReport.t0, summary: "drifts",
                    evidence: [("offset", .number(2.5)), ("statistic", .number(9))]),
                site: "plant-a", zone: "", priority: 50))
        let html = HTMLRenderer.render(report)
        #expect(html.contains("<section id=\"rebalancing\">") && html.contains("aria-label=\"gateway loads plant-b\""))
        #expect(html.contains("<section id=\"drift\">") && html.contains("<td>d-3</td><td>plant-a</td><td>drift</td>"))
        #expect(!html.contains("data-plot=\"drift\""), "no series, no plot")
        report.driftSeries = [
            DriftSeries(
                rule: "drift", device: "d-3", metric: "temperature", reference: "peer median",
                onset: SampleReport.t0 - 7200, detectedAt: SampleReport.t0, bucket: 3600,
                points: (0..<6).map {
                    .init(t: SampleReport.t0 - Double(5 - $0) * 3600, device: 20 + Double($0), reference: 20)
                })
        ]
        let plotted = HTMLRenderer.render(report)
        #expect(plotted.contains("aria-label=\"drift d-3\" data-plot=\"drift\""))
        #expect(plotted.contains("data-series=\"device\" data-values=\"20 21 22 23 24 25\""))
        #expect(plotted.contains("data-series=\"reference\" data-values=\"20 20 20 20 20 20\""))
        #expect(plotted.contains("data-role=\"onset\"") && plotted.contains("data-role=\"detected\""))
        let rebalancing = CSVRenderer.parts(report).first { $0.name == "rebalancing" }
        #expect(rebalancing?.csv.contains("plant-b,d-9,gw-1,gw-2,balance") == true)
    }
}

@Suite(.serialized) struct ReportCommandTests {
    @Test func runWritesEveryFormatAndReportRendersTheSavedJSON() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "fleetrules-report-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let json = "\(dir)/report.json"
        let run = try CLI.run([
            "run", "rules/", "--telemetry", "examples/fleet/telemetry.jsonl.gz", "--inventory",
            "examples/fleet/inventory.csv",
            "--format", "json", "--out", json, "--max-tasks-per-visit", "1",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try Report.decode(json: String(contentsOfFile: json, encoding: .utf8))
        #expect(report.schedule.maxTasksPerVisit == 1)
        #expect(report.maintenance.allSatisfy { $0.tasks.count == 1 })
        for (format, marker) in [
            ("html", "<!DOCTYPE html>"), ("ical", "BEGIN:VCALENDAR"), ("table", "ALERTS"), ("csv", "# alerts"),
        ] {
            let out = try CLI.run(["report", json, "--format", format])
            #expect(out.status == 0, "\(format): \(out.stderr)")
            #expect(out.stdout.hasPrefix(marker) || out.stdout.contains(marker), "\(format)")
        }
        let again = try CLI.run(["report", json, "--format", "json"])
        #expect(again.stdout == (try String(contentsOfFile: json, encoding: .utf8)))
        let csv = try CLI.run(["report", json, "--format", "csv", "--out", "\(dir)/csv/"])
        #expect(csv.status == 0)
        #expect(FileManager.default.fileExists(atPath: "\(dir)/csv/maintenance.csv"))
        let bad = try CLI.run(["report", "-", "--format", "html"], stdin: "{\"format\": 1}")
        #expect(bad.status == 1 && bad.stderr.contains("pack: missing field"))
    }
}
