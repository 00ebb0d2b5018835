/// Drives the compliance rules: one tracker per rule classifies each device's reported version
/// (baseline, deny list, staleness, rollout, consistency), opens and closes its findings, and
/// arms the timer of the next time-driven change.
struct ComplianceDriver: Sendable {
    private(set) var trackers: [ComplianceTracker] = []
    /// Per tracker, its rollout's health gate (nil: no `rollout.abort`).
    private var gates: [RolloutGate?] = []
    /// Per operator, its index in `trackers` (-1 for other kinds).
    private var index: [Int]
    /// The time of the first event: staleness counts from it for devices that never reported.
    private(set) var dataStart: Double?
    private let typeSlot: Int?
    private let devices: Int

    init(operators: Int, devices: Int, typeSlot: Int?) {
        index = Array(repeating: -1, count: operators)
        self.devices = devices
        self.typeSlot = typeSlot
    }

    var isEmpty: Bool { trackers.isEmpty }

    mutating func add(_ tracker: ComplianceTracker) {
        index[tracker.operatorIndex] = trackers.count
        trackers.append(tracker)
        gates.append(tracker.rule.rollout?.abort.map { RolloutGate(abort: $0, devices: devices) })
    }

    /// The tracker of operator `o`, -1 when it is not a compliance rule.
    @inline(__always) func tracker(operator o: Int) -> Int { index[o] }

    private func deviceType(_ row: [String]) -> String { typeSlot.map { row[$0] } ?? "" }

    /// The first event, at `t`. Each device's state at the first timestamp is settled once every
    /// reading at that timestamp has been seen: a timer at `t` fires only after them, so a
    /// device whose inventory has no version but whose first report carries one never opens a
    /// finding that closes at the same instant.
    mutating func start(at t: Double, timers: inout TimerQueue) {
        dataStart = t
        for c in trackers.indices {
            for d in 0..<devices where trackers[c].applies[d] {
                timers.schedule(at: t, device: d, op: trackers[c].operatorIndex)
                trackers[c].armed[d] = t
            }
        }
    }

    /// Tracker `c`'s timer for device `d` fired at `t`: it is no longer armed for it.
    mutating func timerFired(_ c: Int, device d: Int, at t: Double) {
        if trackers[c].armed[d] == t { trackers[c].armed[d] = -.infinity }
    }

    /// A device reported `value` for attribute `slot` at `t`: every tracker of that attribute
    /// that applies to the device takes it and re-classifies the device.
    mutating func observe(
        slot: Int, value: String, device d: Int, at t: Double, row: [String], text: AlertText, log: inout EpisodeLog,
        timers: inout TimerQueue
    ) {
        for c in trackers.indices where trackers[c].attributeSlot == slot && trackers[c].applies[d] {
            trackers[c].observe(d, value, at: t, type: deviceType(row))
            update(c, device: d, at: t, row: row, text: text, log: &log, timers: &timers)
        }
    }

    /// Re-classifies a device under a compliance rule; opens or closes its finding when the state
    /// changes, and arms the timer of the next time-driven change (stale, rollout start or deadline).
    mutating func update(
        _ c: Int, device d: Int, at t: Double, row: [String], text: AlertText, log: inout EpisodeLog,
        timers: inout TimerQueue
    ) {
        // Fields are read through `trackers[c]` rather than a copy of the tracker: a live copy
        // would make every write below copy the tracker's per-device arrays.
        let type = deviceType(row)
        let result = trackers[c].classify(d, at: t, type: type, dataStart: dataStart ?? t)
        let finding = ComplianceTracker.isFinding(result.state, overdue: result.overdue)
        if trackers[c].state[d] != result.state || trackers[c].alerting[d] != finding {
            let open = Int(trackers[c].episode[d])
            if open >= 0 {
                log.resolve(open, at: t)
                trackers[c].episode[d] = -1
            }
            trackers[c].state[d] = result.state
            trackers[c].alerting[d] = finding
            if finding { openFinding(c, device: d, result, at: t, row: row, text: text, log: &log) }
        }
        if gates[c] != nil, let rollout = trackers[c].rule.rollout, trackers[c].target(for: type) != nil {
            gate(c, device: d, at: t, stale: result.state == .stale, started: rollout.started, text: text, log: &log)
        }
        var next = Double.infinity
        if let stale = trackers[c].rule.stale {
            let reported = trackers[c].reportedAt[d]
            let last = reported.isFinite ? reported : (dataStart ?? t)
            if last + stale > t { next = last + stale }
        }
        if let rollout = trackers[c].rule.rollout, trackers[c].target(for: type) != nil {
            if t < rollout.started { next = min(next, rollout.started) }
            if result.state == .rolloutPending, result.overdue == nil {
                next = min(next, rollout.started + rollout.deadline)
            }
        }
        // Due times only move later; an earlier armed timer re-arms when it fires.
        let armed = trackers[c].armed[d]
        if next.isFinite, next > t, !(armed > t && armed <= next) {
            timers.schedule(at: next, device: d, op: trackers[c].operatorIndex)
            trackers[c].armed[d] = next
        }
    }

    /// Notes a device under the rollout's health gate; opens the campaign's critical alert when
    /// the failed share reaches the gate, and keeps its counts current once open.
    private mutating func gate(
        _ c: Int, device d: Int, at t: Double, stale: Bool, started: Double, text: AlertText, log: inout EpisodeLog
    ) {
        guard var gate = gates[c] else { return }
        let failedNow = gate.note(
            d, at: t, started: started, reachedTarget: trackers[c].reachedTarget[d],
            fallbacks: trackers[c].fallbacks[d], reportedAt: trackers[c].reportedAt[d], stale: trackers[c].rule.stale,
            isStale: stale)
        defer { gates[c] = gate }
        guard gate.episode >= 0 || gate.tripped else { return }
        guard gate.episode < 0 || failedNow else { return }
        let rule = text.plan.operators[trackers[c].operatorIndex].rule
        let names = gate.firstFailed.map { text.inventory.rows[$0][0] }
        let share = JSONValue.format((Double(gate.failures) / Double(max(gate.took, 1)) * 1000).rounded() / 10)
        let summary =
            "rollout of \(rule.id) aborted: \(gate.failures) of \(gate.took) devices that took the target failed "
            + "(\(share)%, gate \(JSONValue.format(gate.abort.failed * 100))%); first failed: "
            + names.joined(separator: ", ")
        let evidence = gate.evidence { text.inventory.rows[$0][0] }
        if gate.episode >= 0 {
            log.revise(
                Int(gate.episode), severity: .critical, value: Double(gate.failures), summary: summary,
                evidence: evidence, maintenance: nil, due: nil, at: t)
            return
        }
        let episode = AlertEpisode(
            rule: rule.id, kind: .compliance, pack: rule.pack, device: "", severity: .critical, since: t, until: nil,
            value: Double(gate.failures), summary: summary, labels: rule.labels, evidence: evidence, maintenance: nil,
            site: RolloutGate.site)
        gate.episode = log.open(episode, at: t)
    }

    private mutating func openFinding(
        _ c: Int, device d: Int,
        _ r: (state: ComplianceState, deny: ComplianceRule.Deny?, since: Double?, overdue: Double?), at t: Double,
        row: [String], text alertText: AlertText, log: inout EpisodeLog
    ) {
        let (evidence, extra, severity, maintenance, rule, attribute, version) = evidence(
            c, device: d, r, type: deviceType(row), plan: alertText.plan)
        var text = alertText.summary(
            op: trackers[c].operatorIndex, device: d, row: row, value: nil, duration: false, extra: extra)
        if rule.summary == nil {
            text =
                "\(alertText.inventory.rows[d][0]): \(attribute) \(version ?? "not reported") is \(r.state.rawValue)"
                + (r.deny?.advisory.map { " (\($0))" } ?? "")
                + (r.overdue != nil ? ", past the rollout deadline \(Timestamp.format(r.since ?? t))" : "")
        }
        let since = min(r.since ?? t, t)
        let episode = AlertEpisode(
            rule: rule.id, kind: .compliance, pack: rule.pack, device: alertText.inventory.rows[d][0],
            severity: severity,
            since: since, until: nil, value: nil, summary: text, labels: rule.labels, evidence: evidence,
            maintenance: maintenance)
        trackers[c].episode[d] = log.open(episode, at: since)
    }

    /// What a compliance finding says: evidence, summary placeholders, severity and visit.
    private func evidence(
        _ c: Int, device d: Int,
        _ r: (state: ComplianceState, deny: ComplianceRule.Deny?, since: Double?, overdue: Double?), type: String,
        plan: EvaluationPlan
    ) -> (
        [(String, JSONValue)], [String: String], AlertSeverity, MaintenanceSpec?, Rule, String, String?
    ) {
        let tracker = trackers[c]
        let rule = plan.operators[tracker.operatorIndex].rule
        let version = tracker.version[d]
        var evidence: [(String, JSONValue)] = [
            ("state", .string(r.state.rawValue)), ("attribute", .string(tracker.rule.attribute)),
            ("version", .string(version)),
            ("reported_at", tracker.reportedAt[d].isFinite ? .string(Timestamp.format(tracker.reportedAt[d])) : .null),
        ]
        if let deny = r.deny {
            evidence.append(("advisory", .string(deny.advisory)))
            evidence.append(("reason", .string(deny.reason)))
            evidence.append(("denied", .string(deny.versions.source)))
        }
        if let b = tracker.baseline(for: type) { evidence.append(("baseline", .string(b.source))) }
        if let target = tracker.target(for: type) { evidence.append(("target", .string(target.description))) }
        if let overdue = r.overdue { evidence.append(("overdue_seconds", .number(overdue))) }
        if tracker.fallbacks[d] > 0 { evidence.append(("failed_updates", .number(Double(tracker.fallbacks[d])))) }
        let severity = r.deny?.severity ?? rule.severity
        // A visit is needed when over-the-air updates failed twice; other findings are fixed remotely.
        var maintenance: MaintenanceSpec?
        if r.state == .rolloutFailed, tracker.fallbacks[d] >= 2 {
            maintenance = rule.maintenance ?? MaintenanceSpec(task: "update-firmware", lead: nil, parts: [])
        }
        let extra: [String: String] = [
            "version": version ?? "none", "state": r.state.rawValue, "advisory": r.deny?.advisory ?? "",
            "baseline": tracker.baseline(for: type)?.source ?? "",
            "target": tracker.target(for: type)?.description ?? "",
            "overdue": r.overdue.map(DurationText.format) ?? "",
        ]
        return (evidence, extra, severity, maintenance, rule, tracker.rule.attribute, version)
    }

    /// Per compliance rule: every applicable device's state at event time `t`.
    func states(at t: Double, plan: EvaluationPlan, attributes: [[String]]) -> [(
        rule: String, states: [(device: Int, state: ComplianceState)]
    )] {
        trackers.map { tracker in
            let rule = plan.operators[tracker.operatorIndex].rule.id
            var out: [(device: Int, state: ComplianceState)] = []
            for d in 0..<devices where tracker.applies[d] {
                out.append(
                    (d, tracker.classify(d, at: t, type: deviceType(attributes[d]), dataStart: dataStart ?? t).state))
            }
            return (rule, out)
        }
    }

    /// The version a device reports under a compliance rule's attribute.
    func version(rule: String, device d: Int, plan: EvaluationPlan) -> String? {
        trackers.first { plan.operators[$0.operatorIndex].rule.id == rule }?.version[d]
    }
}
