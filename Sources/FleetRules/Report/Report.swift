/// The result of a run: input statistics, prioritized alerts, maintenance, rebalancing and
/// compliance, serialised as the stable JSON report (`"format": 1`).
public struct Report: Sendable {
    /// An alert episode with the device's place and its priority.
    public struct Alert: Sendable {
        public var episode: AlertEpisode
        public var site: String
        public var zone: String
        public var priority: Double
        /// Overlapping findings about the same device grouped under this one (lower priority).
        public var related: [AlertRef] = []
        /// The alert this one is grouped under, when a higher-priority finding about the same
        /// device overlaps it. It stays in `alerts`: grouped, not lost.
        public var groupedUnder: AlertRef? = nil

        public init(episode: AlertEpisode, site: String, zone: String, priority: Double) {
            self.episode = episode
            self.site = site
            self.zone = zone
            self.priority = priority
        }
    }

    /// Which alert another one points at: rule, device and start identify an episode.
    public struct AlertRef: Sendable, Hashable {
        public var rule: String
        public var kind: String
        public var severity: String
        public var since: Double
        public var priority: Double

        public init(rule: String, kind: String, severity: String, since: Double, priority: Double) {
            self.rule = rule
            self.kind = kind
            self.severity = severity
            self.since = since
            self.priority = priority
        }

        init(_ a: Alert) {
            self.init(
                rule: a.episode.rule, kind: a.episode.kind.rawValue, severity: a.episode.severity.rawValue,
                since: a.episode.since, priority: a.priority)
        }

        func json() -> JSONValue {
            .object([
                ("rule", .string(rule)), ("kind", .string(kind)), ("severity", .string(severity)),
                ("since", .string(Timestamp.format(since))), ("priority", .number(priority)),
            ])
        }
    }

    /// A maintenance task from an open finding.
    public struct Task: Sendable, Hashable {
        public var device: String
        public var site: String
        public var zone: String
        public var task: String
        public var due: Double
        public var rule: String
        public var parts: [String]
        /// The priority of the alert the task comes from.
        public var priority: Double
        /// Due before the schedule starts: planned on the first day, but already late.
        public var late = false

        public init(
            device: String, site: String, zone: String, task: String, due: Double, rule: String, parts: [String],
            priority: Double, late: Bool = false
        ) {
            self.device = device
            self.site = site
            self.zone = zone
            self.task = task
            self.due = due
            self.rule = rule
            self.parts = parts
            self.priority = priority
            self.late = late
        }

        func json() -> JSONValue {
            .object([
                ("device", .string(device)), ("zone", .string(zone)), ("task", .string(task)),
                ("due", .string(Timestamp.format(due))), ("rule", .string(rule)),
                ("parts", .array(parts.map { .string($0) })), ("priority", .number(priority)), ("late", .bool(late)),
            ])
        }
    }

    /// One site visit on one day.
    public struct Visit: Sendable, Hashable {
        public var site: String
        public var date: String
        public var tasks: [Task]
        /// The highest priority of its tasks.
        public var priority: Double { tasks.map(\.priority).max() ?? 0 }

        public init(site: String, date: String, tasks: [Task]) {
            self.site = site
            self.date = date
            self.tasks = tasks
        }
    }

    /// A task that cannot be done by its due time: `overdue` (due before the schedule starts;
    /// `scheduled` says when it is planned) or `no capacity` (not planned).
    public struct Unmet: Sendable, Hashable {
        public var task: Task
        public var reason: String
        public var scheduled: String?

        public init(task: Task, reason: String, scheduled: String?) {
            self.task = task
            self.reason = reason
            self.scheduled = scheduled
        }
    }

    /// One compliance rule's states at the end of the data.
    public struct Compliance: Sendable {
        public var rule: String
        public var counts: [ComplianceState: Int]
        public var sites: [String: [ComplianceState: Int]]
        public var devices: [(device: String, state: ComplianceState)]
        /// (site, type) groups on more distinct versions than the rule's `max_versions`.
        public var inconsistent: [(site: String, type: String, versions: [String])]
    }

    public var packs: [String]
    public var from: Double?
    public var to: Double?
    public var input: InputStats
    public var devices: Int
    public var devicesReporting: Int
    public var alerts: [Alert]
    public var maintenance: [Visit]
    /// Tasks that cannot be met in time.
    public var unmet: [Unmet] = []
    /// The scheduler's settings for `maintenance`.
    public var schedule = ScheduleOptions()
    /// Report sections this version does not type (e.g. `rebalancing` from a newer engine, when
    /// a saved report is read back): written back verbatim and shown by the renderers that know them.
    public var passthrough: [String: JSONValue] = [:]
    public var compliance: [Compliance] = []
    /// Forecast snapshots: each device's latest, and a daily history with `Engine.forecastHistory`.
    public var forecasts: [ForecastSnapshot] = []
    /// Discharge curves learned by forecast rules with `curve_by`, one per cohort.
    public var forecastCurves: [ForecastCurve] = []
    /// Device moves proposed by balance rules, and per group the loads before and after them.
    public var rebalancing: [Move] = []
    public var rebalancingGroups: [BalanceGroup] = []
    /// Drift rules: devices tested and unverifiable (Report+Statistics.swift).
    public var drift: [Drift] = []
    /// Correlation rules: every group tested, significant or not (Report+Statistics.swift).
    public var correlations: [Correlation] = []
    /// Rule kinds the engine evaluated (so "no findings" means none, not "not looked").
    public var evaluatedKinds: [String] = []
    /// Rules compiled but not evaluated by this version of the engine.
    public var notEvaluated: [String]

    static func counts(_ c: [ComplianceState: Int]) -> JSONValue {
        .object(ComplianceState.allCases.map { ($0.rawValue, .number(Double(c[$0] ?? 0))) })
    }

    static func json(_ c: Compliance) -> JSONValue {
        .object([
            ("counts", counts(c.counts)),
            ("sites", .object(c.sites.sorted { $0.key < $1.key }.map { ($0.key, counts($0.value)) })),
            (
                "inconsistent",
                .array(
                    c.inconsistent.map { g in
                        .object([
                            ("site", .string(g.site)), ("type", .string(g.type)),
                            ("versions", .array(g.versions.map { .string($0) })),
                        ])
                    })
            ),
            ("devices", .object(c.devices.map { ($0.device, .string($0.state.rawValue)) })),
        ])
    }

    /// The JSON report; byte-identical for identical inputs.
    public func json() -> JSONValue {
        var rejected: [(String, JSONValue)] = []
        for reason in RejectReason.allCases.sorted() {
            if let n = input.rejected[reason] { rejected.append((reason.rawValue, .number(Double(n)))) }
        }
        let examples: [JSONValue] = input.examples.map { e in
            var m: [(String, JSONValue)] = [("reason", .string(e.reason.rawValue))]
            if let o = e.origin {
                m.append(("file", .string(o.file)))
                m.append(("line", .number(Double(o.line))))
            }
            m.append(("message", .string(e.message)))
            return .object(m)
        }
        let alertsJSON: [JSONValue] = alerts.map { a in
            let e = a.episode
            var fields: [(String, JSONValue)] = [
                ("rule", .string(e.rule)), ("kind", .string(e.kind.rawValue)), ("device", .string(e.device)),
                ("site", .string(a.site)), ("zone", .string(a.zone)), ("severity", .string(e.severity.rawValue)),
                ("priority", .number(a.priority)), ("since", .string(Timestamp.format(e.since))),
                ("until", e.until.map { .string(Timestamp.format($0)) } ?? .null),
                ("value", e.value.map { .number($0) } ?? .null), ("summary", .string(e.summary)),
                ("labels", .object(e.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
                ("evidence", .object(e.evidence)),
                ("related", .array(a.related.map { $0.json() })),
                ("grouped_under", a.groupedUnder.map { $0.json() } ?? .null),
            ]
            // Present only on muted alerts, so reports of rules without `mute_during` keep their shape.
            if let muted = e.muted { fields.append(("muted", .string(muted))) }
            return .object(fields)
        }
        let maintenanceJSON: [JSONValue] = maintenance.map { v in
            .object([
                ("site", .string(v.site)), ("date", .string(v.date)), ("priority", .number(v.priority)),
                ("tasks", .array(v.tasks.map { $0.json() })),
            ])
        }
        // Sections a decoded report carries as read (the decoder does not rebuild them).
        let rebalancingJSON: JSONValue =
            rebalancing.isEmpty ? passthrough["rebalancing"] ?? .array([]) : .array(rebalancing.map(\.json))
        let rebalancingGroupsJSON: JSONValue =
            rebalancingGroups.isEmpty
            ? passthrough["rebalancing_groups"] ?? .array([]) : .array(rebalancingGroups.map(\.json))
        var statistics = statisticsSections
        if statistics.isEmpty {
            for key in ["drift", "correlations"] { if let v = passthrough[key] { statistics.append((key, v)) } }
        }
        let unmetJSON: [JSONValue] = unmet.map { u in
            var m: [(String, JSONValue)] = [("site", .string(u.task.site))]
            if case .object(let fields) = u.task.json() { m += fields }
            m += [("reason", .string(u.reason)), ("scheduled", .string(u.scheduled))]
            return .object(m)
        }
        return .object(
            [
                ("format", 1),
                ("pack", .string(packs.joined(separator: ","))),
                (
                    "window",
                    .object([("from", .string(from.map(Timestamp.format))), ("to", .string(to.map(Timestamp.format)))])
                ),
                (
                    "input",
                    .object([
                        ("readings", .number(Double(input.readings))), ("devices", .number(Double(devices))),
                        ("devices_reporting", .number(Double(devicesReporting))), ("rejected", .object(rejected)),
                        (
                            "dropped_values",
                            .object(
                                RejectReason.allCases.sorted().compactMap { r in
                                    input.droppedValues[r].map { (r.rawValue, .number(Double($0))) }
                                })
                        ),
                        ("examples", .array(examples)),
                    ])
                ),
                ("alerts", .array(alertsJSON)),
                ("maintenance", .array(maintenanceJSON)),
                ("maintenance_unmet", .array(unmetJSON)),
                (
                    "schedule",
                    .object([
                        ("horizon", .string(DurationText.format(schedule.horizon))),
                        ("max_tasks_per_visit", .number(Double(schedule.maxTasksPerVisit))),
                    ])
                ),
                ("rebalancing", rebalancingJSON),
                ("rebalancing_groups", rebalancingGroupsJSON),
                ("compliance", .object(compliance.map { c in (c.rule, Self.json(c)) })),
                (
                    "forecasts",
                    .array(
                        forecasts.sorted { ($0.device, $0.at, $0.rule) < ($1.device, $1.at, $1.rule) }.map { $0.json() }
                    )
                ),
                ("forecast_curves", .array(forecastCurves.map { $0.json() })),
            ] + statistics + [
                ("evaluated", .array(evaluatedKinds.map { .string($0) })),
                ("not_evaluated", .array(notEvaluated.map { .string($0) })),
            ] + extraSections())
    }

    /// Passed-through sections (read back from a saved report) in key order.
    private func extraSections() -> [(String, JSONValue)] {
        passthrough.filter { !Self.typedKeys.contains($0.key) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

extension Report {
    /// Assembles the report from what the engine produced: alerts with their priorities, zone
    /// and version-sprawl findings, the visit schedule, compliance counts and the analyses'
    /// sections.
    /// - Parameter schedule: the visit scheduler's settings; nil: the pack's `schedule:` section,
    ///   else the defaults.
    public init(assembling output: EngineOutput, schedule: ScheduleOptions? = nil) {
        // Devices (not episodes) of each site with each rule still firing.
        var openBySiteRule: [String: Set<String>] = [:]
        for e in output.episodes where e.until == nil {
            openBySiteRule["\(output.attribute("site", device: e.device))|\(e.rule)", default: []].insert(e.device)
        }
        // How long a pending rollout is overdue is measured at the end of the data, not when it opened.
        let end = output.stats.lastTimestamp ?? 0
        var alerts: [Report.Alert] = output.episodes.map { original in
            var e = original
            if e.until == nil, let i = e.evidence.firstIndex(where: { $0.0 == "overdue_seconds" }) {
                e.evidence[i].1 = .number(max(0, end - e.since))
            }
            let site = e.site ?? output.attribute("site", device: e.device)
            let open = openBySiteRule["\(site)|\(e.rule)"]
            let others = (open?.count ?? 0) - (open?.contains(e.device) == true ? 1 : 0)
            let p = Priority.score(
                severity: e.severity, criticality: output.attribute("criticality", device: e.device),
                timeLeft: Priority.timeLeft(e, now: end), sameSiteOthers: others)
            return Report.Alert(episode: e, site: site, zone: output.attribute("zone", device: e.device), priority: p)
        }
        // A limit breached across one zone is one zone-level alert listing its devices.
        alerts = Report.groupZoneExcursions(alerts)
        let notEvaluated = output.plan.operators.compactMap { op -> String? in
            if case .notEvaluated = op.evaluation { return op.rule.id }
            return nil
        }
        var compliance: [Report.Compliance] = []
        for (rule, states) in output.compliance {
            var counts: [ComplianceState: Int] = [:]
            var sites: [String: [ComplianceState: Int]] = [:]
            var groups: [String: Set<String>] = [:]
            for (d, state) in states {
                counts[state, default: 0] += 1
                let device = output.inventory.rows[d][0]
                sites[output.attribute("site", device: device), default: [:]][state, default: 0] += 1
                if let v = output.complianceVersion(rule: rule, device: d) {
                    groups[
                        "\(output.attribute("site", device: device))\u{1F}\(output.attribute("type", device: device))",
                        default: []
                    ].insert(v)
                }
            }
            var inconsistent: [(site: String, type: String, versions: [String])] = []
            if let op = output.plan.operators.first(where: { $0.rule.id == rule }),
                case .compliance(let c) = op.rule.body,
                let limit = c.maxVersions
            {
                for (key, versions) in groups.sorted(by: { $0.key < $1.key }) where versions.count > limit {
                    let parts = key.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
                    inconsistent.append((parts.first ?? "", parts.count > 1 ? parts[1] : "", versions.sorted()))
                }
            }
            compliance.append(
                Report.Compliance(
                    rule: rule, counts: counts, sites: sites,
                    devices: states.map { (output.inventory.rows[$0.device][0], $0.state) }.sorted { $0.0 < $1.0 },
                    inconsistent: inconsistent))
            // Version sprawl is an info finding of the site, not of one device.
            if let op = output.plan.operators.first(where: { $0.rule.id == rule }),
                case .compliance(let c) = op.rule.body
            {
                for g in inconsistent {
                    let episode = AlertEpisode(
                        rule: rule, kind: .compliance, pack: op.rule.pack, device: "", severity: .info, since: end,
                        until: nil, value: Double(g.versions.count),
                        summary:
                            "\(g.site): \(g.versions.count) \(g.type) \(c.attribute) versions (\(g.versions.joined(separator: ", "))), more than \(c.maxVersions ?? 0)",
                        labels: op.rule.labels,
                        evidence: [
                            ("state", "inconsistent"), ("type", .string(g.type)),
                            ("versions", .array(g.versions.map { .string($0) })),
                            ("max_versions", .number(Double(c.maxVersions ?? 0))),
                        ], maintenance: nil)
                    alerts.append(
                        Report.Alert(
                            episode: episode, site: g.site, zone: "",
                            priority: Priority.score(severity: .info, criticality: "", timeLeft: 0, sameSiteOthers: 0)))
                }
            }
        }
        alerts.sort { a, b in
            if a.priority != b.priority { return a.priority > b.priority }
            if a.episode.since != b.episode.since { return a.episode.since < b.episode.since }
            if a.episode.rule != b.episode.rule { return a.episode.rule < b.episode.rule }
            if a.episode.device != b.episode.device { return a.episode.device < b.episode.device }
            return a.site < b.site
        }
        AlertGrouping.group(&alerts, subjects: AlertGrouping.subjects(output.plan), now: end)
        let options = schedule ?? output.plan.policy.schedule ?? ScheduleOptions()
        let (visits, unmet) = VisitScheduler.schedule(
            VisitScheduler.tasks(from: alerts, now: end), now: end, options: options)
        var evaluated: Set<String> = []
        for op in output.plan.operators {
            if case .notEvaluated = op.evaluation { continue }
            evaluated.insert(op.rule.kind.rawValue)
        }
        var report = Report(
            packs: output.plan.policy.packs.map(\.name), from: output.stats.firstTimestamp,
            to: output.stats.lastTimestamp, input: output.stats,
            devices: output.inventory.count, devicesReporting: output.devicesSeen, alerts: alerts, maintenance: visits,
            compliance: compliance, evaluatedKinds: evaluated.sorted(), notEvaluated: notEvaluated)
        report.unmet = unmet
        report.schedule = options
        report.forecasts = output.analyses.forecasts
        report.forecastCurves = output.analyses.forecastCurves
        report.rebalancing = output.analyses.rebalancing
        report.rebalancingGroups = output.analyses.rebalancingGroups
        report.drift = output.analyses.drift
        report.correlations = output.analyses.correlations
        self = report
    }
}

/// A discharge curve a forecast rule learned for one cohort (`curve_by`): per band of the
/// metric's range, the rate there relative to the rate at the top of the range (to three
/// decimals), and how many device ratios taught it. Bands no ratio came from are left out (they
/// take the multiplier of the band above).
public struct ForecastCurve: Sendable, Equatable {
    public struct Band: Sendable, Equatable {
        public var from: Double
        public var to: Double
        public var multiplier: Double
        public var ratios: Int

        public init(from: Double, to: Double, multiplier: Double, ratios: Int) {
            self.from = from
            self.to = to
            self.multiplier = multiplier
            self.ratios = ratios
        }
    }

    /// The rules sharing the curve, the metric, the `curve_by` attributes and the cohort's values of them.
    public var rules: [String]
    public var metric: String
    public var by: [String]
    public var cohort: [String]
    public var bands: [Band]

    public init(rules: [String], metric: String, by: [String], cohort: [String], bands: [Band]) {
        self.rules = rules
        self.metric = metric
        self.by = by
        self.cohort = cohort
        self.bands = bands
    }

    func json() -> JSONValue {
        .object([
            ("rules", .array(rules.map { .string($0) })), ("metric", .string(metric)),
            ("by", .array(by.map { .string($0) })),
            ("cohort", .array(cohort.map { .string($0) })),
            (
                "bands",
                .array(
                    bands.map { b in
                        .object([
                            ("from", .number(b.from)), ("to", .number(b.to)),
                            ("multiplier", .number(b.multiplier)), ("ratios", .number(Double(b.ratios))),
                        ])
                    })
            ),
        ])
    }
}
