import Foundation

/// How well a run's report matches the simulator's truth, per analysis. docs/SIMULATOR.md
/// ("Scores") defines every number.
public struct Score: Sendable {
    /// An analysis is scored only when the report carries its fields.
    public enum Section<Value: Sendable>: Sendable {
        case scored(Value)
        /// The report does not carry this analysis; the text says which fields are missing.
        case notInReport(String)

        public var value: Value? {
            if case .scored(let v) = self { return v }
            return nil
        }
    }

    public struct Battery: Sendable {
        public struct Horizon: Sendable {
            public var days: Int
            /// Depleting devices whose checkpoint (true crossing − horizon) lies within the data,
            /// after the warm-up.
            public var eligible: Int
            /// Eligible devices with a forecast snapshot in the day before the checkpoint.
            public var withSnapshot: Int
            /// Devices whose snapshot predicts the remaining time within ±10%.
            public var correct: Int
            /// correct / eligible; nil when nothing is eligible.
            public var share: Double?
            /// Batteries left out because their checkpoint falls in the warm-up.
            public var beforeWarmup = 0
        }

        public var horizons: [Horizon]
        /// Devices with at least one alert of kind `forecast`.
        public var alertedDevices: Int
        /// Alerted devices with a forecast alert the truth does not support, sorted.
        public var falseAlarms: [String]
        /// falseAlarms / alertedDevices; nil when no device was alerted.
        public var falseAlarmRate: Double?
        /// The horizons per discharge shape (truth `shape`), in shape name order.
        public var byShape: [(shape: String, horizons: [Horizon])] = []
        /// The horizons per cell type with an abrupt knee (truth `knee_at`), in name order.
        public var byKneeCell: [(cell: String, horizons: [Horizon])] = []
        /// Checkpoints of abrupt-knee cells, all horizons together, by how many batteries of the
        /// same cell type had passed their knee by the checkpoint (empty without such cells).
        public var byPassedKnee: [PassedKnee] = []

        /// Correct / eligible checkpoints when `from` to `to` batteries of the cell type
        /// (inclusive; `to` nil: or more) had passed their knee.
        public struct PassedKnee: Sendable {
            public var from: Int
            public var to: Int?
            public var eligible = 0
            public var correct = 0
        }
        /// Batteries that do not reach 5% within the data and the 30 days after.
        public var healthy = 0
        /// Healthy batteries with a forecast alert the truth does not support.
        public var healthyAlerted = 0
        /// Checkpoints this long after the start of the data or later are scored (seconds).
        public var warmup = 0.0
        public var healthyAlertRate: Double? { healthy == 0 ? nil : Double(healthyAlerted) / Double(healthy) }
    }

    public struct Drift: Sendable {
        /// Devices in truth.drift.
        public var drifting: Int
        /// Drifting devices with a drift alert at or after the onset.
        public var detected: Int
        public var detectionRate: Double?
        /// Devices without drift: truth.firmware devices not in truth.drift, plus alerted devices the truth does not list.
        public var nonDrifting: Int
        /// Non-drifting devices with a drift alert.
        public var falseAlarms: Int
        /// Drifting devices with a drift alert that started before the onset.
        public var earlyAlarms: Int
        /// (falseAlarms + earlyAlarms) / (nonDrifting + drifting).
        public var falsePositiveRate: Double?
        /// Median over detected devices of (first alert at or after the onset − onset), in hours.
        public var medianDelayHours: Double?
        /// Delays counted from the tolerance crossing, when the scorer was given a tolerance.
        public var fromCrossing: Crossing?
    }

    /// Detection delays counted from when a drift's true offset first exceeds a tolerance (for a
    /// ramp, later than its onset), overall and per drift kind.
    public struct Crossing: Sendable {
        public struct Group: Sendable {
            /// All drifts, or one truth `kind` (`ramp`, `step`).
            public var kind: String
            /// Drifting devices whose offset passes the tolerance within the data.
            public var crossed: Int
            /// Of those, devices with a drift alert at or after the onset.
            public var detected: Int
            /// First alert at or after the onset − crossing, in hours (negative: found before
            /// the offset reached the tolerance): median, 90th percentile (nearest rank), maximum.
            public var medianDelayHours: Double?
            public var p90DelayHours: Double?
            public var maxDelayHours: Double?
            /// Detected within 12 and 24 hours of the crossing.
            public var within12h: Int
            public var within24h: Int
        }

        public var tolerance: Double
        /// Drifting devices whose offset stays within the tolerance until the end of the data.
        public var neverCrossed: Int
        public var all: Group
        public var byKind: [Group]
    }

    public struct Firmware: Sendable {
        public struct State: Sendable {
            public var state: String
            /// Truth devices in this state.
            public var truth: Int
            /// Truth devices the report puts in this state.
            public var predicted: Int
            public var correct: Int
            public var precision: Double?
            public var recall: Double?
        }

        public var rule: String
        public var states: [State]
        /// Devices in truth.firmware.
        public var devices: Int
        /// Truth devices absent from the report's `devices` map.
        public var missing: Int
        public var correct: Int
        public var accuracy: Double?
    }

    public struct Gateway: Sendable {
        public struct Site: Sendable {
            public var site: String
            public var imbalanced: Bool
            public var flagged: Bool
            public var moves: Int
            /// Max over the site's gateways of |load − mean| / mean, before and after the moves.
            public var before: Double
            public var after: Double
            public var withinAfter: Bool
        }

        public var imbalanced: Int
        public var flagged: Int
        public var found: Int
        public var precision: Double?
        public var recall: Double?
        public var sites: [Site]
        public var moves: Int
        /// Moves that could not be applied (unknown site or gateway, or nothing left to move).
        public var skippedMoves: Int
        /// Every gateway of every site within 30% of its site's mean after the moves.
        public var allWithinAfter: Bool
    }

    public struct Environment: Sendable {
        public struct Metric: Sendable {
            public var metric: String
            public var total: Int
            public var found: Int
        }

        public var total: Int
        public var found: Int
        public var share: Double?
        public var metrics: [Metric]
        /// Excursions no alert overlaps, in truth order.
        public var missed: [SimulationTruth.Excursion]
    }

    public var battery: Section<Battery>
    public var drift: Section<Drift>
    public var firmware: Section<Firmware>
    public var gateway: Section<Gateway>
    public var environment: Section<Environment>
}

/// Compares a report with the simulator's truth.
public enum Scorer {
    public struct Options: Sendable {
        /// The compliance rule whose `devices` map is scored; nil takes the first in name order that has one.
        public var complianceRule: String?
        /// Battery checkpoints earlier than this after the start of the data are not scored
        /// (seconds). Default one day: a forecast needs 24 buckets (a day when hourly) before it
        /// predicts anything, so a checkpoint in the first hours has nothing to score. 0 scores
        /// from the first reading.
        public var warmup: Double
        /// Drift delays are also counted from when the true offset first exceeds this (the
        /// rule's tolerance, in the metric's unit); nil: from the onset only.
        public var driftTolerance: Double?

        public init(
            complianceRule: String? = nil, warmup: Double = Scorer.defaultWarmup, driftTolerance: Double? = nil
        ) {
            self.complianceRule = complianceRule
            self.warmup = warmup
            self.driftTolerance = driftTolerance
        }
    }

    public static let defaultWarmup = 86400.0
    /// Horizons of the battery score, in days.
    public static let horizonDays = [30, 14, 7, 3]
    /// A prediction is correct when its remaining time is within 1/10 (10%) of the true one.
    static let toleranceDivisor = 10.0
    /// A forecast alert is a false alarm when the true crossing is later than this after it.
    public static let falseAlarmDays = 60.0
    /// Bins of the number of batteries of a cell type that had passed their knee at a checkpoint.
    public static let passedKneeBins: [(from: Int, to: Int?)] = [(0, 0), (1, 4), (5, 9), (10, 19), (20, 39), (40, nil)]
    /// A gateway is balanced when |load − mean| / mean is at most this.
    public static let balanceLimit = 0.30

    public static func score(truth: SimulationTruth, report: ScoredReport, options: Options = Options()) -> Score {
        Score(
            battery: battery(truth, report, warmup: options.warmup),
            drift: drift(truth, report, tolerance: options.driftTolerance),
            firmware: firmware(truth, report, rule: options.complianceRule), gateway: gateway(truth, report),
            environment: environment(truth, report))
    }

    /// The first entry per device, in truth order.
    static func unique<T>(_ items: [T], _ key: (T) -> String) -> [T] {
        var seen: Set<String> = []
        return items.filter { seen.insert(key($0)).inserted }
    }

    static func ratio(_ a: Int, _ b: Int) -> Double? { b == 0 ? nil : Double(a) / Double(b) }

    static func battery(_ truth: SimulationTruth, _ report: ScoredReport, warmup: Double)
        -> Score.Section<Score.Battery>
    {
        guard let forecasts = report.forecasts ?? (report.evaluated?.contains("forecast") == true ? [] : nil) else {
            return .notInReport("no `forecasts` in the report")
        }
        var snapshots: [String: [ScoredReport.Forecast]] = [:]
        for f in forecasts { snapshots[f.device, default: []].append(f) }
        for (device, list) in snapshots { snapshots[device] = list.sorted { ($0.at, $0.rule) < ($1.at, $1.rule) } }
        let batteries = unique(truth.battery, \.device)
        /// The crossing a battery's checkpoint at horizon `h` is scored against, when it lies
        /// between `first` and the end of the data. A replaced battery's earlier forecasts are
        /// about the cell it replaced, scored against that cell's own crossing (had it stayed in);
        /// the later ones against the new cell's.
        func crossing(_ b: SimulationTruth.Battery, _ h: Double, checkpointFrom first: Double) -> Double? {
            func inData(_ t: Double) -> Bool { t >= first && t <= truth.end }
            if let c = b.crossesAt, inData(c - h), b.replacedAt.map({ c - h >= $0 }) ?? true { return c }
            if let r = b.replacedAt, let c = b.replacedBatteryCrossesAt, inData(c - h), c - h < r { return c }
            return nil
        }
        /// An eligible checkpoint and its snapshot's verdict (nil: no snapshot or no prediction).
        func check(_ b: SimulationTruth.Battery, _ h: Double) -> (checkpoint: Double, snapshot: Bool, correct: Bool)? {
            guard let crossing = crossing(b, h, checkpointFrom: truth.start + warmup) else { return nil }
            let checkpoint = crossing - h
            guard let snap = snapshots[b.device]?.last(where: { $0.at <= checkpoint && $0.at >= checkpoint - 86400 })
            else { return (checkpoint, false, false) }
            guard let predicted = snap.crossingAt else { return (checkpoint, true, false) }
            // |predicted remaining − true remaining| ≤ 10% of the true remaining, in exact arithmetic
            // for whole seconds: |predicted − crossing| · 10 ≤ crossing − at.
            return (checkpoint, true, abs(predicted - crossing) * toleranceDivisor <= crossing - snap.at)
        }
        func horizons(_ batteries: [SimulationTruth.Battery]) -> [Score.Battery.Horizon] {
            horizonDays.map { days -> Score.Battery.Horizon in
                let h = Double(days) * 86400
                var eligible = 0
                var beforeWarmup = 0
                var withSnapshot = 0
                var correct = 0
                for b in batteries {
                    guard let c = check(b, h) else {
                        if warmup > 0, crossing(b, h, checkpointFrom: truth.start) != nil { beforeWarmup += 1 }
                        continue
                    }
                    eligible += 1
                    if c.snapshot { withSnapshot += 1 }
                    if c.correct { correct += 1 }
                }
                return .init(
                    days: days, eligible: eligible, withSnapshot: withSnapshot, correct: correct,
                    share: ratio(correct, eligible), beforeWarmup: beforeWarmup)
            }
        }
        let all = horizons(batteries)
        let shapes = Set(batteries.map(\.shape)).sorted()
        let byShape = shapes.map { shape in (shape, horizons(batteries.filter { $0.shape == shape })) }
        // Cells with an abrupt knee: per cell type, and by how many of the type had passed it.
        let kneeBatteries = batteries.filter { $0.kneeAt != nil }
        let kneeCells = Set(kneeBatteries.map(\.cell)).sorted()
        let byKneeCell = kneeCells.map { cell in (cell, horizons(kneeBatteries.filter { $0.cell == cell })) }
        var passed: [String: [Double]] = [:]
        for b in kneeBatteries { if let k = b.kneeAt { passed[b.cell, default: []].append(k) } }
        var byPassedKnee: [Score.Battery.PassedKnee] = []
        if !kneeBatteries.isEmpty {
            byPassedKnee = passedKneeBins.map { Score.Battery.PassedKnee(from: $0.from, to: $0.to) }
            for b in kneeBatteries {
                for days in horizonDays {
                    guard let c = check(b, Double(days) * 86400) else { continue }
                    let count = (passed[b.cell] ?? []).count { $0 <= c.checkpoint }
                    guard let k = byPassedKnee.firstIndex(where: { count >= $0.from && count <= ($0.to ?? .max) })
                    else { continue }
                    byPassedKnee[k].eligible += 1
                    if c.correct { byPassedKnee[k].correct += 1 }
                }
            }
        }
        let byDevice = Dictionary(batteries.map { ($0.device, $0) }, uniquingKeysWith: { a, _ in a })
        var alerted: Set<String> = []
        var falseAlarms: Set<String> = []
        // Gauge findings (flat, erratic, silent) say "no prediction": not forecast alarms.
        for a in report.alerts where a.kind == "forecast" && (a.evidence["state"] ?? "depleting") == "depleting" {
            alerted.insert(a.device)
            let b = byDevice[a.device]
            // A battery replaced later was running down when the alert started: not a false alarm.
            if let replaced = b?.replacedAt, a.since < replaced { continue }
            if let crossing = b?.crossesAt, crossing <= a.since + falseAlarmDays * 86400 { continue }
            falseAlarms.insert(a.device)
        }
        let healthy = batteries.filter { b in b.crossesAt.map { $0 > truth.end + 30 * 86400 } ?? true }
        let healthyAlerted = healthy.count { falseAlarms.contains($0.device) }
        return .scored(
            .init(
                horizons: all, alertedDevices: alerted.count, falseAlarms: falseAlarms.sorted(),
                falseAlarmRate: ratio(falseAlarms.count, alerted.count), byShape: byShape, byKneeCell: byKneeCell,
                byPassedKnee: byPassedKnee, healthy: healthy.count, healthyAlerted: healthyAlerted, warmup: warmup))
    }

    static func drift(
        _ truth: SimulationTruth, _ report: ScoredReport, tolerance: Double? = nil
    ) -> Score.Section<Score.Drift> {
        let alerts = report.alerts.filter { $0.kind == "drift" }
        guard !alerts.isEmpty || report.evaluated?.contains("drift") == true else {
            return .notInReport("no alerts of kind `drift` in the report")
        }
        var since: [String: [Double]] = [:]
        for a in alerts { since[a.device, default: []].append(a.since) }
        let drifting = unique(truth.drift, \.device)
        let onsets = Dictionary(drifting.map { ($0.device, $0.onset) }, uniquingKeysWith: { a, _ in a })
        var delays: [Double] = []
        var early = 0
        // Per crossing drift: its kind and its delay from the crossing (nil: not detected).
        var crossed: [(kind: String, delay: Double?)] = []
        var neverCrossed = 0
        for d in drifting {
            let starts = since[d.device] ?? []
            let first = starts.filter({ $0 >= d.onset }).min()
            if let first { delays.append((first - d.onset) / 3600) }
            if starts.contains(where: { $0 < d.onset }) { early += 1 }
            if let tolerance {
                if let at = d.crossing(tolerance: tolerance, end: truth.end) {
                    crossed.append((d.kind, first.map { ($0 - at) / 3600 }))
                } else {
                    neverCrossed += 1
                }
            }
        }
        var fromCrossing: Score.Crossing?
        if let tolerance {
            func group(_ kind: String, _ items: [(kind: String, delay: Double?)]) -> Score.Crossing.Group {
                let found = items.compactMap(\.delay).sorted()
                return .init(
                    kind: kind, crossed: items.count, detected: found.count,
                    medianDelayHours: RobustStatistics.median(found),
                    p90DelayHours: found.isEmpty
                        ? nil : found[max(0, Int((0.9 * Double(found.count)).rounded(.up)) - 1)],
                    maxDelayHours: found.last, within12h: found.count { $0 <= 12 }, within24h: found.count { $0 <= 24 })
            }
            let kinds = Set(crossed.map(\.kind)).sorted()
            fromCrossing = .init(
                tolerance: tolerance, neverCrossed: neverCrossed, all: group("all", crossed),
                byKind: kinds.map { k in group(k, crossed.filter { $0.kind == k }) })
        }
        var negatives = Set(truth.firmware.map(\.device)).subtracting(onsets.keys)
        negatives.formUnion(since.keys.filter { onsets[$0] == nil })
        let falseAlarms = negatives.count { since[$0] != nil }
        return .scored(
            .init(
                drifting: drifting.count, detected: delays.count, detectionRate: ratio(delays.count, drifting.count),
                nonDrifting: negatives.count, falseAlarms: falseAlarms, earlyAlarms: early,
                falsePositiveRate: ratio(falseAlarms + early, negatives.count + drifting.count),
                medianDelayHours: RobustStatistics.median(delays), fromCrossing: fromCrossing))
    }

    static func firmware(_ truth: SimulationTruth, _ report: ScoredReport, rule: String?)
        -> Score.Section<Score.Firmware>
    {
        let chosen: (rule: String, devices: [String: String])
        if let rule {
            guard let entry = report.compliance.first(where: { $0.rule == rule }) else {
                return .notInReport("no compliance rule `\(rule)` in the report")
            }
            guard let devices = entry.devices else {
                return .notInReport("no `compliance.\(rule).devices` in the report")
            }
            chosen = (rule, devices)
        } else {
            guard let entry = report.compliance.first(where: { $0.devices != nil }), let devices = entry.devices else {
                return .notInReport("no compliance rule with `devices` in the report")
            }
            chosen = (entry.rule, devices)
        }
        let devices = unique(truth.firmware, \.device)
        var truthCount: [String: Int] = [:]
        var predictedCount: [String: Int] = [:]
        var correctCount: [String: Int] = [:]
        var missing = 0
        for d in devices {
            truthCount[d.state, default: 0] += 1
            guard let predicted = chosen.devices[d.device] else {
                missing += 1
                continue
            }
            predictedCount[predicted, default: 0] += 1
            if predicted == d.state { correctCount[d.state, default: 0] += 1 }
        }
        let known = ComplianceState.allCases.map(\.rawValue)
        let extra = Set(truthCount.keys).union(predictedCount.keys).subtracting(known).sorted()
        let states = (known + extra).map { s in
            let correct = correctCount[s] ?? 0
            return Score.Firmware.State(
                state: s, truth: truthCount[s] ?? 0, predicted: predictedCount[s] ?? 0, correct: correct,
                precision: ratio(correct, predictedCount[s] ?? 0), recall: ratio(correct, truthCount[s] ?? 0))
        }
        let correct = correctCount.values.reduce(0, +)
        return .scored(
            .init(
                rule: chosen.rule, states: states, devices: devices.count, missing: missing, correct: correct,
                accuracy: ratio(correct, devices.count)))
    }

    /// The site a balance alert names: evidence `site`, evidence `group`, label `site`, then the alert's own `site`.
    static func balanceSite(_ a: ScoredReport.Alert) -> String? {
        a.evidence["site"] ?? a.evidence["group"] ?? a.labels["site"] ?? a.site
    }

    /// Max over gateways of |load − mean| / mean; 0 for an empty or unloaded site.
    public static func imbalance(_ loads: [Double]) -> Double {
        guard !loads.isEmpty else { return 0 }
        let mean = loads.reduce(0, +) / Double(loads.count)
        guard mean > 0 else { return 0 }
        return loads.map { abs($0 - mean) / mean }.max() ?? 0
    }

    static func gateway(_ truth: SimulationTruth, _ report: ScoredReport) -> Score.Section<Score.Gateway> {
        let alerts = report.alerts.filter { $0.kind == "balance" }
        let moves = report.rebalancing ?? []
        guard !alerts.isEmpty || !moves.isEmpty || report.evaluated?.contains("balance") == true else {
            return .notInReport("no alerts of kind `balance` and no `rebalancing` moves in the report")
        }
        let groups = unique(truth.gateways, \.site)
        // A silent gateway is a finding of its own, not a verdict on the site's balance.
        let flagged = Set(alerts.filter { $0.evidence["finding"] != "silent" }.compactMap(balanceSite))
        let imbalanced = Set(groups.filter(\.imbalanced).map(\.site))
        let found = flagged.intersection(imbalanced).count
        var loads: [String: [String: Double]] = [:]
        for g in groups {
            loads[g.site] = Dictionary(g.loads.map { ($0.gateway, $0.devices) }, uniquingKeysWith: { a, _ in a })
        }
        var movesPerSite: [String: Int] = [:]
        var skipped = 0
        for m in moves {
            guard var site = loads[m.site], m.from != m.to, let from = site[m.from], from >= 1, let to = site[m.to]
            else {
                skipped += 1
                continue
            }
            site[m.from] = from - 1
            site[m.to] = to + 1
            loads[m.site] = site
            movesPerSite[m.site, default: 0] += 1
        }
        let sites = groups.map { g in
            let after = imbalance(g.loads.map { loads[g.site]?[$0.gateway] ?? 0 })
            return Score.Gateway.Site(
                site: g.site, imbalanced: g.imbalanced, flagged: flagged.contains(g.site),
                moves: movesPerSite[g.site] ?? 0,
                before: imbalance(g.loads.map(\.devices)), after: after, withinAfter: after <= balanceLimit + 1e-9)
        }
        return .scored(
            .init(
                imbalanced: imbalanced.count, flagged: flagged.count, found: found,
                precision: ratio(found, flagged.count),
                recall: ratio(found, imbalanced.count), sites: sites, moves: moves.count - skipped,
                skippedMoves: skipped,
                allWithinAfter: sites.allSatisfy(\.withinAfter)))
    }

    static func environment(_ truth: SimulationTruth, _ report: ScoredReport) -> Score.Section<Score.Environment> {
        let alerts = report.alerts.filter { $0.kind == "limit" || $0.kind == "alert" }
        guard !alerts.isEmpty || report.evaluated.map({ $0.contains("limit") || $0.contains("alert") }) == true else {
            return .notInReport("no alerts of kind `limit` or `alert` in the report")
        }
        var byZone: [String: [ScoredReport.Alert]] = [:]
        for a in alerts {
            guard let site = a.site, let zone = a.zone else { continue }
            byZone["\(site)\u{1F}\(zone)", default: []].append(a)
        }
        var missed: [SimulationTruth.Excursion] = []
        var perMetric: [String: (total: Int, found: Int)] = [:]
        for e in truth.excursions {
            // Closed intervals: an alert that ends exactly when the excursion starts still overlaps it.
            let hit =
                byZone["\(e.site)\u{1F}\(e.zone)"]?.contains { $0.since <= e.end && ($0.until ?? .infinity) >= e.start }
                ?? false
            perMetric[e.metric, default: (0, 0)].total += 1
            if hit { perMetric[e.metric, default: (0, 0)].found += 1 } else { missed.append(e) }
        }
        let found = truth.excursions.count - missed.count
        return .scored(
            .init(
                total: truth.excursions.count, found: found, share: ratio(found, truth.excursions.count),
                metrics: perMetric.sorted { $0.key < $1.key }.map {
                    .init(metric: $0.key, total: $0.value.total, found: $0.value.found)
                },
                missed: missed))
    }
}

// MARK: - Output

extension Score {
    /// The score as JSON with a stable key order; shares are fractions (0…1), null when undefined.
    public func json() -> JSONValue {
        func num(_ d: Double?) -> JSONValue { d.map { .number($0) } ?? .null }
        func int(_ n: Int) -> JSONValue { .number(Double(n)) }
        func section<V>(_ s: Section<V>, _ body: (V) -> [(String, JSONValue)]) -> JSONValue {
            switch s {
            case .scored(let v): .object([("status", "scored")] + body(v))
            case .notInReport(let why): .object([("status", "not in report"), ("reason", .string(why))])
            }
        }
        return .object([
            ("format", 1),
            (
                "battery",
                section(battery) { b in
                    [
                        ("warmup_seconds", .number(b.warmup)),
                        (
                            "horizons",
                            .array(
                                b.horizons.map { h in
                                    .object([
                                        ("days", int(h.days)), ("eligible", int(h.eligible)),
                                        ("with_snapshot", int(h.withSnapshot)),
                                        ("correct", int(h.correct)), ("share", num(h.share)),
                                        ("before_warmup", int(h.beforeWarmup)),
                                    ])
                                })
                        ),
                        (
                            "false_alarms",
                            .object([
                                ("alerted_devices", int(b.alertedDevices)), ("false_alarms", int(b.falseAlarms.count)),
                                ("rate", num(b.falseAlarmRate)), ("devices", .array(b.falseAlarms.map { .string($0) })),
                                ("healthy", int(b.healthy)), ("healthy_alerted", int(b.healthyAlerted)),
                                ("healthy_rate", num(b.healthyAlertRate)),
                            ])
                        ),
                        (
                            "shapes",
                            .object(
                                b.byShape.map { entry in
                                    (
                                        entry.shape,
                                        .array(
                                            entry.horizons.map { h in
                                                .object([
                                                    ("days", int(h.days)), ("eligible", int(h.eligible)),
                                                    ("correct", int(h.correct)), ("share", num(h.share)),
                                                ])
                                            })
                                    )
                                })
                        ),
                    ] + (b.byPassedKnee.isEmpty ? [] : Self.kneeJSON(b))
                }
            ),
            (
                "drift",
                section(drift) { d in
                    [
                        ("drifting", int(d.drifting)), ("detected", int(d.detected)),
                        ("detection_rate", num(d.detectionRate)),
                        ("non_drifting", int(d.nonDrifting)), ("false_alarms", int(d.falseAlarms)),
                        ("early_alarms", int(d.earlyAlarms)), ("false_positive_rate", num(d.falsePositiveRate)),
                        ("median_delay_hours", num(d.medianDelayHours)),
                    ] + Self.crossingJSON(d.fromCrossing)
                }
            ),
            (
                "firmware",
                section(firmware) { f in
                    [
                        ("rule", .string(f.rule)),
                        (
                            "states",
                            .array(
                                f.states.map { s in
                                    .object([
                                        ("state", .string(s.state)), ("truth", int(s.truth)),
                                        ("predicted", int(s.predicted)),
                                        ("correct", int(s.correct)), ("precision", num(s.precision)),
                                        ("recall", num(s.recall)),
                                    ])
                                })
                        ),
                        ("devices", int(f.devices)), ("missing", int(f.missing)), ("correct", int(f.correct)),
                        ("accuracy", num(f.accuracy)),
                    ]
                }
            ),
            (
                "gateway",
                section(gateway) { g in
                    [
                        ("imbalanced", int(g.imbalanced)), ("flagged", int(g.flagged)), ("found", int(g.found)),
                        ("precision", num(g.precision)), ("recall", num(g.recall)), ("moves", int(g.moves)),
                        ("skipped_moves", int(g.skippedMoves)), ("all_within_after", .bool(g.allWithinAfter)),
                        (
                            "sites",
                            .array(
                                g.sites.map { s in
                                    .object([
                                        ("site", .string(s.site)), ("imbalanced", .bool(s.imbalanced)),
                                        ("flagged", .bool(s.flagged)),
                                        ("moves", int(s.moves)), ("before", .number(s.before)),
                                        ("after", .number(s.after)),
                                        ("within_after", .bool(s.withinAfter)),
                                    ])
                                })
                        ),
                    ]
                }
            ),
            (
                "environment",
                section(environment) { e in
                    [
                        ("total", int(e.total)), ("found", int(e.found)), ("share", num(e.share)),
                        (
                            "metrics",
                            .array(
                                e.metrics.map { m in
                                    .object([
                                        ("metric", .string(m.metric)), ("total", int(m.total)), ("found", int(m.found)),
                                    ])
                                })
                        ),
                        (
                            "missed",
                            .array(
                                e.missed.map { x in
                                    .object([
                                        ("site", .string(x.site)), ("zone", .string(x.zone)),
                                        ("metric", .string(x.metric)),
                                        ("start", .string(Timestamp.format(x.start))),
                                        ("end", .string(Timestamp.format(x.end))),
                                    ])
                                })
                        ),
                    ]
                }
            ),
        ])
    }

    /// The abrupt-knee cells' entries of the battery score (only when the truth has such cells).
    static func kneeJSON(_ b: Battery) -> [(String, JSONValue)] {
        func num(_ v: Double?) -> JSONValue { v.map { .number($0) } ?? .null }
        func int(_ v: Int) -> JSONValue { .number(Double(v)) }
        return [
            (
                "knee_cells",
                .object(
                    b.byKneeCell.map { entry in
                        (
                            entry.cell,
                            .array(
                                entry.horizons.map { h in
                                    .object([
                                        ("days", int(h.days)), ("eligible", int(h.eligible)),
                                        ("correct", int(h.correct)), ("share", num(h.share)),
                                    ])
                                })
                        )
                    })
            ),
            (
                "passed_knee",
                .array(
                    b.byPassedKnee.map { p in
                        .object([
                            ("from", int(p.from)), ("to", p.to.map(int) ?? .null), ("eligible", int(p.eligible)),
                            ("correct", int(p.correct)),
                        ])
                    })
            ),
        ]
    }

    /// A compact table per analysis for a person to read.
    public func text() -> String {
        var out = ""
        func percent(_ d: Double?) -> String { d.map { String(format: "%.1f%%", $0 * 100) } ?? "-" }
        func of(_ a: Int, _ b: Int, _ share: Double?) -> String { "\(a) of \(b) (\(percent(share)))" }
        func header<V>(_ name: String, _ s: Section<V>) -> V? {
            if !out.isEmpty { out += "\n" }
            switch s {
            case .scored(let v):
                out += name + "\n"
                return v
            case .notInReport(let why):
                out += "\(name): not in report (\(why))\n"
                return nil
            }
        }
        if let b = header("battery", battery) {
            let warm = b.warmup > 0
            if warm {
                out += "  checkpoints from \(DurationText.format(b.warmup)) after the start of the data (--warmup)\n"
            }
            out += Self.table(
                ["horizon", "eligible", "snapshot", "within 10%", "share"] + (warm ? ["in warm-up"] : []),
                b.horizons.map {
                    ["\($0.days)d", "\($0.eligible)", "\($0.withSnapshot)", "\($0.correct)", percent($0.share)]
                        + (warm ? ["\($0.beforeWarmup)"] : [])
                })
            if !b.byShape.isEmpty {
                out += Self.table(
                    ["shape"] + Scorer.horizonDays.map { "\($0)d" },
                    b.byShape.map { entry in
                        [entry.shape] + entry.horizons.map { "\($0.correct)/\($0.eligible)" }
                    })
            }
            if !b.byKneeCell.isEmpty {
                out += Self.table(
                    ["abrupt knee"] + Scorer.horizonDays.map { "\($0)d" },
                    b.byKneeCell.map { entry in
                        [entry.cell] + entry.horizons.map { "\($0.correct)/\($0.eligible)" }
                    })
                out += Self.table(
                    ["cells past their knee", "checkpoints", "within 10%", "share"],
                    b.byPassedKnee.map { p -> [String] in
                        let bin = p.to == p.from ? "\(p.from)" : p.to.map { "\(p.from)–\($0)" } ?? "\(p.from)+"
                        return [bin, "\(p.eligible)", "\(p.correct)", percent(Scorer.ratio(p.correct, p.eligible))]
                    })
            }
            out += "  false alarms: \(of(b.falseAlarms.count, b.alertedDevices, b.falseAlarmRate)) alerted devices"
            if !b.falseAlarms.isEmpty {
                out +=
                    " (" + b.falseAlarms.prefix(5).joined(separator: ", ") + (b.falseAlarms.count > 5 ? ", …" : "")
                    + ")"
            }
            out += "\n"
            out += "  healthy batteries alerted: \(of(b.healthyAlerted, b.healthy, b.healthyAlertRate))\n"
        }
        if let d = header("drift", drift) {
            out += "  detected: \(of(d.detected, d.drifting, d.detectionRate)) drifting devices"
            out += ", median delay \(d.medianDelayHours.map { String(format: "%.1fh", $0) } ?? "-")\n"
            out +=
                "  false positives: \(of(d.falseAlarms + d.earlyAlarms, d.nonDrifting + d.drifting, d.falsePositiveRate)) devices"
            out += " (\(d.falseAlarms) without drift, \(d.earlyAlarms) before the onset)\n"
            if let c = d.fromCrossing {
                out +=
                    "  from the offset passing \(JSONValue.format(c.tolerance)) (\(c.neverCrossed) drifts never do):\n"
                func hours(_ v: Double?) -> String { v.map { String(format: "%.1fh", $0) } ?? "-" }
                out += Self.table(
                    ["drifts", "crossed", "detected", "median", "90th", "max", "within 12h", "within 24h"],
                    ([c.all] + c.byKind).map {
                        [
                            $0.kind, "\($0.crossed)", "\($0.detected)", hours($0.medianDelayHours),
                            hours($0.p90DelayHours),
                            hours($0.maxDelayHours), "\($0.within12h)", "\($0.within24h)",
                        ]
                    })
            }
        }
        if let f = header("firmware", firmware) {
            out += "  rule \(f.rule): accuracy \(of(f.correct, f.devices, f.accuracy))"
            out += f.missing > 0 ? ", \(f.missing) missing from the report\n" : "\n"
            out += Self.table(
                ["state", "truth", "report", "correct", "precision", "recall"],
                f.states.map {
                    [
                        "\($0.state)", "\($0.truth)", "\($0.predicted)", "\($0.correct)", percent($0.precision),
                        percent($0.recall),
                    ]
                })
        }
        if let g = header("gateway", gateway) {
            out += "  imbalanced sites found: \(g.found) of \(g.imbalanced), \(g.flagged) flagged"
            out += " (precision \(percent(g.precision)), recall \(percent(g.recall)))\n"
            out += Self.table(
                ["site", "imbalanced", "flagged", "moves", "before", "after", "within 30%"],
                g.sites.map {
                    [
                        $0.site, $0.imbalanced ? "yes" : "no", $0.flagged ? "yes" : "no", "\($0.moves)",
                        percent($0.before),
                        percent($0.after), $0.withinAfter ? "yes" : "no",
                    ]
                })
            out += "  after \(g.moves) moves"
            out += g.skippedMoves > 0 ? " (\(g.skippedMoves) skipped)" : ""
            out += ": every gateway within 30%: \(g.allWithinAfter ? "yes" : "no")\n"
        }
        if let e = header("environment", environment) {
            out += "  excursions found: \(of(e.found, e.total, e.share))\n"
            out += Self.table(
                ["metric", "found", "total"], e.metrics.map { [$0.metric, "\($0.found)", "\($0.total)"] })
            for m in e.missed.prefix(5) {
                out +=
                    "  missed: \(m.site)/\(m.zone) \(m.metric) \(Timestamp.format(m.start)) → \(Timestamp.format(m.end))\n"
            }
            if e.missed.count > 5 { out += "  … \(e.missed.count - 5) more missed\n" }
        }
        return out
    }

    /// Indented columns: the first left-aligned, the others right-aligned.
    /// The drift section's `from_crossing` member, when the scorer was given a tolerance.
    static func crossingJSON(_ crossing: Crossing?) -> [(String, JSONValue)] {
        guard let c = crossing else { return [] }
        func num(_ d: Double?) -> JSONValue { d.map { .number($0) } ?? .null }
        func int(_ n: Int) -> JSONValue { .number(Double(n)) }
        func group(_ g: Crossing.Group) -> JSONValue {
            .object([
                ("kind", .string(g.kind)), ("crossed", int(g.crossed)), ("detected", int(g.detected)),
                ("median_delay_hours", num(g.medianDelayHours)), ("p90_delay_hours", num(g.p90DelayHours)),
                ("max_delay_hours", num(g.maxDelayHours)), ("within_12h", int(g.within12h)),
                ("within_24h", int(g.within24h)),
            ])
        }
        return [
            (
                "from_crossing",
                .object([
                    ("tolerance", .number(c.tolerance)), ("never_crossed", int(c.neverCrossed)), ("all", group(c.all)),
                    ("by_kind", .array(c.byKind.map(group))),
                ])
            )
        ]
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { i, c in
                let pad = String(repeating: " ", count: max(0, widths[i] - c.count))
                return i == 0 ? c + pad : pad + c
            }
            return "  " + padded.joined(separator: "  ") + "\n"
        }
        return line(header) + rows.map(line).joined()
    }
}
