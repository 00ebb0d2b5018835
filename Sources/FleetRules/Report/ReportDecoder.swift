import Foundation

/// A saved report that cannot be read back: the JSON path of the problem and what is wrong.
public struct ReportDecodeError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

extension Report {
    /// Reads a report written by `fleetrules run` (`"format": 1`) back, so it can be rendered
    /// again without re-running. Sections this version does not know are kept in `passthrough`
    /// and written back verbatim by `json()`.
    /// - Throws: `ReportDecodeError`.
    public static func decode(json text: String) throws -> Report {
        let root: JSONValue
        do {
            root = try JSONValue.parse(text)
        } catch {
            throw ReportDecodeError(path: "", message: "not valid JSON (\(error.description))")
        }
        return try decode(root)
    }

    /// - Throws: `ReportDecodeError`.
    public static func decode(_ root: JSONValue) throws -> Report {
        let r = Field(root, "")
        guard case .object(let members) = root else { throw r.error("expected a JSON object at the top level") }
        let format = try r.member("format").number()
        guard format == 1 else {
            throw (r.optional("format") ?? r).error("unsupported report format \(JSONValue.format(format)), expected 1")
        }
        let packs = try r.member("pack").string().split(separator: ",").map(String.init)
        let window = try r.member("window")
        let input = try r.member("input")
        var stats = InputStats()
        stats.readings = try input.member("readings").int()
        stats.firstTimestamp = try window.optional("from")?.timestamp()
        stats.lastTimestamp = try window.optional("to")?.timestamp()
        for (key, value) in try input.member("rejected").members() {
            guard let reason = RejectReason(rawValue: key) else { throw value.error("unknown reject reason '\(key)'") }
            stats.rejected[reason] = try value.int()
        }
        for (key, value) in try input.optional("dropped_values")?.members() ?? [] {
            guard let reason = RejectReason(rawValue: key) else { throw value.error("unknown reject reason '\(key)'") }
            stats.droppedValues[reason] = try value.int()
        }
        for e in try input.optional("examples")?.items() ?? [] {
            let reasonText = try e.member("reason").string()
            guard let reason = RejectReason(rawValue: reasonText) else {
                throw e.error("unknown reject reason '\(reasonText)'")
            }
            var origin: ReadingOrigin?
            if let file = try e.optional("file")?.string() {
                origin = ReadingOrigin(file: file, line: try e.member("line").int())
            }
            stats.examples.append(.init(reason: reason, origin: origin, message: try e.member("message").string()))
        }
        var alerts: [Alert] = []
        for a in try r.member("alerts").items() {
            let kindText = try a.member("kind").string()
            guard let kind = RuleKind(rawValue: kindText) else {
                throw (a.optional("kind") ?? a).error("unknown rule kind '\(kindText)'")
            }
            let severityText = try a.member("severity").string()
            guard let severity = AlertSeverity(rawValue: severityText) else {
                throw (a.optional("severity") ?? a).error("unknown severity '\(severityText)'")
            }
            var labels: [String: String] = [:]
            for (k, v) in try a.optional("labels")?.members() ?? [] { labels[k] = try v.string() }
            let evidence: [(String, JSONValue)]
            if let e = a.optional("evidence") {
                guard case .object(let m) = e.value else { throw e.error("expected an object") }
                evidence = m
            } else {
                evidence = []
            }
            var episode = AlertEpisode(
                rule: try a.member("rule").string(), kind: kind, pack: packs.first ?? "",
                device: try a.member("device").string(),
                severity: severity, since: try a.member("since").timestamp(),
                until: try a.optional("until")?.timestamp(),
                value: try a.optional("value")?.number(), summary: try a.member("summary").string(), labels: labels,
                evidence: evidence, maintenance: nil)
            episode.muted = try a.optional("muted")?.string()
            var alert = Alert(
                episode: episode, site: try a.member("site").string(), zone: try a.optional("zone")?.string() ?? "",
                priority: try a.member("priority").number())
            alert.related = try (a.optional("related")?.items() ?? []).map { try ref($0) }
            alert.groupedUnder = try a.optional("grouped_under").map { try ref($0) }
            alerts.append(alert)
        }
        var visits: [Visit] = []
        for v in try r.member("maintenance").items() {
            let site = try v.member("site").string()
            let tasks = try v.member("tasks").items().map { try task($0, site: site) }
            visits.append(Visit(site: site, date: try v.member("date").string(), tasks: tasks))
        }
        let unmet = try (r.optional("maintenance_unmet")?.items() ?? []).map { u in
            Unmet(
                task: try task(u, site: try u.member("site").string()), reason: try u.member("reason").string(),
                scheduled: try u.optional("scheduled")?.string())
        }
        var compliance: [Compliance] = []
        for (rule, body) in try r.optional("compliance")?.members() ?? [] {
            var c = Compliance(
                rule: rule, counts: try counts(body.member("counts")), sites: [:], devices: [], inconsistent: [])
            for (site, n) in try body.optional("sites")?.members() ?? [] { c.sites[site] = try counts(n) }
            for g in try body.optional("inconsistent")?.items() ?? [] {
                c.inconsistent.append(
                    (
                        try g.member("site").string(), try g.member("type").string(),
                        try g.member("versions").items().map { try $0.string() }
                    ))
            }
            for (device, state) in try body.optional("devices")?.members() ?? [] {
                let text = try state.string()
                guard let s = ComplianceState(rawValue: text) else {
                    throw state.error("unknown compliance state '\(text)'")
                }
                c.devices.append((device, s))
            }
            compliance.append(c)
        }
        var forecasts: [ForecastSnapshot] = []
        for f in try r.optional("forecasts")?.items() ?? [] {
            let stateText = try f.member("state").string()
            guard let state = ForecastSnapshot.State(rawValue: stateText) else {
                throw (f.optional("state") ?? f).error("unknown state '\(stateText)'")
            }
            let modelText = try f.optional("model")?.string()
            var model: RobustTrend.Model?
            if let m = modelText {
                guard let v = RobustTrend.Model(rawValue: m) else {
                    throw (f.optional("model") ?? f).error("unknown model '\(m)'")
                }
                model = v
            }
            forecasts.append(
                ForecastSnapshot(
                    device: try f.member("device").string(), rule: try f.optional("rule")?.string() ?? "",
                    at: try f.member("at").timestamp(), state: state, level: try f.optional("level")?.number(),
                    slopePerDay: try f.optional("slope_per_day")?.number(),
                    crossingAt: try f.optional("crossing_at")?.timestamp(),
                    low: try f.optional("low")?.timestamp(), high: try f.optional("high")?.timestamp(),
                    points: try f.optional("points")?.int() ?? 0, model: model))
        }
        var curves: [ForecastCurve] = []
        for c in try r.optional("forecast_curves")?.items() ?? [] {
            curves.append(
                ForecastCurve(
                    rules: try c.member("rules").items().map { try $0.string() },
                    metric: try c.member("metric").string(),
                    by: try c.member("by").items().map { try $0.string() },
                    cohort: try c.member("cohort").items().map { try $0.string() },
                    bands: try c.member("bands").items().map { b in
                        ForecastCurve.Band(
                            from: try b.member("from").number(), to: try b.member("to").number(),
                            multiplier: try b.member("multiplier").number(), ratios: try b.member("ratios").int())
                    }))
        }
        var schedule = ScheduleOptions()
        if let s = r.optional("schedule") {
            if let h = s.optional("horizon") {
                let text = try h.string()
                guard let seconds = DurationText.seconds(text) else { throw h.error("not a duration: '\(text)'") }
                schedule.horizon = seconds
            }
            if let m = s.optional("max_tasks_per_visit") { schedule.maxTasksPerVisit = try m.int() }
        }
        var report = Report(
            packs: packs, from: stats.firstTimestamp, to: stats.lastTimestamp, input: stats,
            devices: try input.member("devices").int(), devicesReporting: try input.member("devices_reporting").int(),
            alerts: alerts, maintenance: visits, compliance: compliance, forecasts: forecasts,
            evaluatedKinds: try (r.optional("evaluated")?.items() ?? []).map { try $0.string() },
            notEvaluated: try (r.optional("not_evaluated")?.items() ?? []).map { try $0.string() })
        report.unmet = unmet
        report.schedule = schedule
        report.forecastCurves = curves
        for (key, value) in members where !Report.typedKeys.contains(key) { report.passthrough[key] = value }
        // Sections written from typed fields the decoder does not rebuild: kept as read, and
        // written back in their place by `json()`.
        for key in ["rebalancing", "rebalancing_groups", "drift", "correlations"] {
            if let value = root[key] { report.passthrough[key] = value }
        }
        return report
    }

    /// The top-level keys `json()` writes from typed fields; others are passed through.
    static let typedKeys: Set<String> = [
        "format", "pack", "window", "input", "alerts", "maintenance", "maintenance_unmet", "schedule", "rebalancing",
        "compliance", "forecasts", "forecast_curves", "evaluated", "not_evaluated", "rebalancing_groups", "drift",
        "correlations",
    ]

    private static func ref(_ f: Field) throws -> AlertRef {
        AlertRef(
            rule: try f.member("rule").string(), kind: try f.member("kind").string(),
            severity: try f.member("severity").string(),
            since: try f.member("since").timestamp(), priority: try f.member("priority").number())
    }

    private static func task(_ t: Field, site: String) throws -> Task {
        Task(
            device: try t.member("device").string(), site: site, zone: try t.optional("zone")?.string() ?? "",
            task: try t.member("task").string(), due: try t.member("due").timestamp(),
            rule: try t.member("rule").string(),
            parts: try (t.optional("parts")?.items() ?? []).map { try $0.string() },
            priority: try t.optional("priority")?.number() ?? 0, late: try t.optional("late")?.bool() ?? false)
    }

    private static func counts(_ f: Field) throws -> [ComplianceState: Int] {
        var out: [ComplianceState: Int] = [:]
        for (k, v) in try f.members() {
            guard let s = ComplianceState(rawValue: k) else { throw v.error("unknown compliance state '\(k)'") }
            let n = try v.int()
            if n != 0 { out[s] = n }
        }
        return out
    }

    /// A value in the document with its path, for located errors.
    struct Field {
        let value: JSONValue
        let path: String

        init(_ value: JSONValue, _ path: String) {
            self.value = value
            self.path = path
        }

        func error(_ message: String) -> ReportDecodeError { ReportDecodeError(path: path, message: message) }

        private func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

        func member(_ key: String) throws -> Field {
            guard case .object(let m) = value else { throw error("expected an object") }
            guard let v = m.first(where: { $0.0 == key })?.1 else {
                throw Field(.null, child(key)).error("missing field")
            }
            return Field(v, child(key))
        }

        /// Absent or null: nil.
        func optional(_ key: String) -> Field? {
            guard case .object(let m) = value, let v = m.first(where: { $0.0 == key })?.1, v != .null else {
                return nil
            }
            return Field(v, child(key))
        }

        func members() throws -> [(String, Field)] {
            guard case .object(let m) = value else { throw error("expected an object") }
            return m.map { ($0.0, Field($0.1, child($0.0))) }
        }

        func items() throws -> [Field] {
            guard case .array(let a) = value else { throw error("expected an array") }
            return a.enumerated().map { Field($0.element, "\(path)[\($0.offset)]") }
        }

        func string() throws -> String {
            guard case .string(let s) = value else { throw error("expected a string") }
            return s
        }

        func number() throws -> Double {
            guard case .number(let n) = value else { throw error("expected a number") }
            return n
        }

        func int() throws -> Int {
            let n = try number()
            guard n == n.rounded(), abs(n) < 1e15 else { throw error("expected a whole number") }
            return Int(n)
        }

        func bool() throws -> Bool {
            guard case .bool(let b) = value else { throw error("expected true or false") }
            return b
        }

        func timestamp() throws -> Double {
            let s = try string()
            guard let t = Timestamp.parse(s) else { throw error("not an RFC 3339 timestamp: '\(s)'") }
            return t
        }
    }
}
