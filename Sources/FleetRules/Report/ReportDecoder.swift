import Foundation

/// A saved report that cannot be read back: the JSON path of the problem and what is wrong.
public struct ReportDecodeError: Error, Sendable, CustomStringConvertible {
    /// The JSON path of the problem (`alerts[3].since`); empty for the document.
    public var path: String
    /// What is wrong.
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
        try decode(root, documentOrder: true)
    }

    /// - Parameter documentOrder: whether the document's object keys are in the order they were
    ///   written (false when a decoder that does not keep it read them: evidence then takes the
    ///   order the engine writes it in, `Report.evidenceOrder`).
    static func decode(_ root: JSONValue, documentOrder: Bool) throws -> Report {
        let r = Field(root, "")
        guard case .object(let members) = root else { throw r.error("expected a JSON object at the top level") }
        let format = try r.member("format").number()
        guard format == 1 else {
            throw (r.optional("format") ?? r).error("unsupported report format \(JSONValue.format(format)), expected 1")
        }
        let packs = try r.member("pack").string().split(separator: ",").map(String.init)
        let input = try r.member("input")
        let stats = try inputStats(input, window: r.member("window"))
        let alerts = try r.member("alerts").items().map {
            try alert($0, pack: packs.first ?? "", documentOrder: documentOrder)
        }
        let visits = try r.member("maintenance").items().map(visit)
        let unmet = try (r.optional("maintenance_unmet")?.items() ?? []).map(unmet)
        let compliance = try (r.optional("compliance")?.members() ?? []).map { try complianceRule($0.0, $0.1) }
        let forecasts = try (r.optional("forecasts")?.items() ?? []).map(forecast)
        let curves = try (r.optional("forecast_curves")?.items() ?? []).map(curve)
        var report = Report(
            packs: packs, from: stats.firstTimestamp, to: stats.lastTimestamp, input: stats,
            devices: try input.member("devices").int(), devicesReporting: try input.member("devices_reporting").int(),
            alerts: alerts, maintenance: visits, compliance: compliance, forecasts: forecasts,
            evaluatedKinds: try (r.optional("evaluated")?.items() ?? []).map { try $0.string() },
            notEvaluated: try (r.optional("not_evaluated")?.items() ?? []).map { try $0.string() })
        report.unmet = unmet
        report.schedule = try r.optional("schedule").map(schedule) ?? ScheduleOptions()
        report.forecastCurves = curves
        report.forecastSeries = try decodeForecastSeries(r)
        report.driftSeries = try decodeDriftSeries(r)
        report.rebalancing = try (r.optional("rebalancing")?.items() ?? []).map(move)
        report.rebalancingGroups = try (r.optional("rebalancing_groups")?.items() ?? []).map(balanceGroup)
        report.drift = try (r.optional("drift")?.members() ?? []).map { try drift($0.0, $0.1) }
        report.correlations = try (r.optional("correlations")?.items() ?? []).map(correlation)
        for (key, value) in members where !Report.typedKeys.contains(key) { report.passthrough[key] = value }
        return report
    }

    /// The top-level keys `json()` writes from typed fields; others are passed through.
    static let typedKeys: Set<String> = [
        "format", "pack", "window", "input", "alerts", "maintenance", "maintenance_unmet", "schedule", "rebalancing",
        "compliance", "forecasts", "forecast_curves", "forecast_series", "drift_series", "evaluated", "not_evaluated",
        "rebalancing_groups", "drift",
        "correlations",
    ]

    /// The report's `input` section, with the `window` it was read over.
    static func inputStats(_ input: Field, window: Field?) throws -> InputStats {
        var stats = InputStats()
        stats.readings = try input.member("readings").int()
        stats.firstTimestamp = try window?.optional("from")?.timestamp()
        stats.lastTimestamp = try window?.optional("to")?.timestamp()
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
        return stats
    }

    static func episode(_ a: Field, pack: String, documentOrder: Bool) throws -> AlertEpisode {
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
        var evidence: [(String, JSONValue)] = []
        if let e = a.optional("evidence") {
            guard case .object(let m) = e.value else { throw e.error("expected an object") }
            evidence = documentOrder ? m : Report.engineOrder(m, kind: kind)
        }
        return AlertEpisode(
            rule: try a.member("rule").string(), kind: kind, pack: try a.optional("pack")?.string() ?? pack,
            device: try a.member("device").string(),
            severity: severity, since: try a.member("since").timestamp(),
            until: try a.optional("until")?.timestamp(),
            value: try a.optional("value")?.number(), summary: try a.member("summary").string(), labels: labels,
            evidence: evidence, maintenance: nil)
    }

    static func alert(_ a: Field, pack: String, documentOrder: Bool) throws -> Alert {
        var alert = Alert(
            episode: try episode(a, pack: pack, documentOrder: documentOrder), site: try a.member("site").string(),
            zone: try a.optional("zone")?.string() ?? "", priority: try a.member("priority").number())
        alert.related = try (a.optional("related")?.items() ?? []).map { try ref($0) }
        alert.groupedUnder = try a.optional("grouped_under").map { try ref($0) }
        alert.episode.muted = try a.optional("muted")?.string()
        if let i = a.optional("inhibited_by") {
            alert.episode.inhibitedBy = AlertInhibition(
                rule: try i.member("rule").string(), group: try i.member("group").string())
        }
        return alert
    }

    static func visit(_ v: Field) throws -> Visit {
        let site = try v.member("site").string()
        let tasks = try v.member("tasks").items().map { try task($0, site: site) }
        return Visit(site: site, date: try v.member("date").string(), tasks: tasks)
    }

    static func unmet(_ u: Field) throws -> Unmet {
        Unmet(
            task: try task(u, site: try u.member("site").string()), reason: try u.member("reason").string(),
            scheduled: try u.optional("scheduled")?.string())
    }

    static func complianceRule(_ rule: String, _ body: Field) throws -> Compliance {
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
        return c
    }

    static func forecast(_ f: Field) throws -> ForecastSnapshot {
        let stateText = try f.member("state").string()
        guard let state = ForecastSnapshot.State(rawValue: stateText) else {
            throw (f.optional("state") ?? f).error("unknown state '\(stateText)'")
        }
        var model: RobustTrend.Model?
        if let m = try f.optional("model")?.string() {
            guard let v = RobustTrend.Model(rawValue: m) else {
                throw (f.optional("model") ?? f).error("unknown model '\(m)'")
            }
            model = v
        }
        return ForecastSnapshot(
            device: try f.member("device").string(), rule: try f.optional("rule")?.string() ?? "",
            at: try f.member("at").timestamp(), state: state, level: try f.optional("level")?.number(),
            slopePerDay: try f.optional("slope_per_day")?.number(),
            crossingAt: try f.optional("crossing_at")?.timestamp(),
            low: try f.optional("low")?.timestamp(), high: try f.optional("high")?.timestamp(),
            points: try f.optional("points")?.int() ?? 0, model: model)
    }

    static func curve(_ c: Field) throws -> ForecastCurve {
        ForecastCurve(
            rules: try c.member("rules").items().map { try $0.string() },
            metric: try c.member("metric").string(),
            by: try c.member("by").items().map { try $0.string() },
            cohort: try c.member("cohort").items().map { try $0.string() },
            bands: try c.member("bands").items().map(band))
    }

    static func band(_ b: Field) throws -> ForecastCurve.Band {
        ForecastCurve.Band(
            from: try b.member("from").number(), to: try b.member("to").number(),
            multiplier: try b.member("multiplier").number(), ratios: try b.member("ratios").int())
    }

    static func schedule(_ s: Field) throws -> ScheduleOptions {
        var schedule = ScheduleOptions()
        if let h = s.optional("horizon") {
            let text = try h.string()
            guard let seconds = DurationText.seconds(text) else { throw h.error("not a duration: '\(text)'") }
            schedule.horizon = seconds
        }
        if let m = s.optional("max_tasks_per_visit") { schedule.maxTasksPerVisit = try m.int() }
        return schedule
    }

    static func move(_ m: Field) throws -> Move {
        Move(
            rule: try m.member("rule").string(), group: try m.optional("group")?.string() ?? "",
            site: try m.member("site").string(), device: try m.member("device").string(),
            from: try m.member("from").string(), to: try m.member("to").string())
    }

    static func balanceGroup(_ g: Field) throws -> BalanceGroup {
        let window = try g.member("window")
        var band: (low: Int, high: Int)?
        if let b = try g.optional("band")?.items() {
            guard b.count == 2 else { throw (g.optional("band") ?? g).error("expected [low, high]") }
            band = (try b[0].int(), try b[1].int())
        }
        return BalanceGroup(
            rule: try g.member("rule").string(), group: try g.member("group").string(),
            site: try g.member("site").string(), load: try g.member("load").string(),
            window: (try window.member("from").timestamp(), try window.member("to").timestamp()),
            mean: try g.member("mean").number(), band: band, status: try g.member("status").string(),
            note: try g.optional("note")?.string(), moves: try g.member("moves").int(),
            silentAfter: try g.optional("silent_after_seconds")?.number(),
            gateways: try g.member("gateways").items().map { gw in
                BalanceGroup.Gateway(
                    gateway: try gw.member("gateway").string(), before: try gw.member("before").number(),
                    after: try gw.member("after").number(), capacity: try gw.optional("capacity")?.int(),
                    silent: try gw.optional("silent")?.bool() ?? false,
                    silentDevices: try (gw.optional("silent_devices")?.items() ?? []).map { try $0.string() })
            })
    }

    static func drift(_ rule: String, _ d: Field) throws -> Drift {
        Drift(
            rule: rule, method: try d.member("method").string(), tested: try d.member("tested").int(),
            findings: try d.member("findings").int(), transientBuckets: try d.optional("transient_buckets")?.int() ?? 0,
            unverifiable: try (d.optional("unverifiable")?.items() ?? []).map { u in
                (try u.member("device").string(), try u.member("reason").string())
            })
    }

    static func correlation(_ c: Field) throws -> Correlation {
        Correlation(
            rule: try c.member("rule").string(), group: try c.member("group").string(),
            method: try c.member("method").string(), n: try c.member("n").int(),
            coefficient: try c.optional("coefficient")?.number(), pValue: try c.optional("p_value")?.number(),
            adjustedP: try c.optional("adjusted_p")?.number(), significant: try c.member("significant").bool(),
            note: try c.optional("note")?.string())
    }

    static func ref(_ f: Field) throws -> AlertRef {
        AlertRef(
            rule: try f.member("rule").string(), kind: try f.member("kind").string(),
            severity: try f.member("severity").string(),
            since: try f.member("since").timestamp(), priority: try f.member("priority").number())
    }

    static func task(_ t: Field, site: String) throws -> Task {
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
