import Foundation

/// The event-time evaluator: feed it readings (in roughly time order), drain alerts, get a report.
///
/// Readings are held back by `plan.lateness` so that out-of-order arrivals are placed in time
/// order; later ones are rejected as `late`. Conditions are evaluated when a reading of a metric
/// they read arrives, and at the exact event times a `for` duration or an `absent`/`age`
/// threshold elapses. The engine is a value type with no global state: the same input gives
/// the same output.
public struct Engine: Sendable {
    public let plan: EvaluationPlan
    public let inventory: Inventory

    // Devices.
    private var attributes: [[String]]
    private var attributeSlots: [String: Int]
    private var siteSlot: Int?
    private var zoneSlot: Int?
    private var gatewaySlot: Int?
    private var criticalitySlot: Int?
    private var seen: [Bool]

    // Metric state, struct-of-arrays: [metric][device].
    private var lastValue: [[Double]]
    private var lastTime: [[Double]]
    private var rings: [[WindowRing]]

    // Rule state: [operator][device].
    private struct Compiled: Sendable {
        var condition: RuntimeExpression
        var clear: RuntimeExpression?
        var scope: RuntimeExpression?
        var forDuration: Double
        var valueAggregate: Int?
        /// (metric, duration) pairs whose elapsing can flip the condition (absent/age).
        var clocks: [(metric: Int, after: Double)]
    }
    private var compiled: [Compiled?]
    private var applies: [[Bool]?]
    private var phase: [[UInt8]]
    private var since: [[Double]]
    private var openEpisode: [[Int32]]
    /// Time of the pending absent/age timer per operator and device (-inf: none), so each keeps one.
    private var clockArmed: [[Double]]
    private var operatorsForMetric: [[Int]]

    // Time.
    private struct Pending: Sendable, Comparable {
        static func < (a: Pending, b: Pending) -> Bool { (a.time, a.sequence) < (b.time, b.sequence) }
        static func == (a: Pending, b: Pending) -> Bool { a.sequence == b.sequence }
        var time: Double
        var sequence: Int
        var device: Int
        var gateway: String?
        var values: [(metric: Int, value: Double)]
        var strings: [(slot: Int, value: String)]
    }
    private var pending = MinHeap<Pending>()
    private struct Timer: Sendable, Comparable {
        static func < (a: Timer, b: Timer) -> Bool { (a.time, a.device, a.op) < (b.time, b.device, b.op) }
        var time: Double
        var device: Int
        var op: Int
    }
    private var timers = MinHeap<Timer>()
    private var sequence = 0
    private var maxTime: Double?
    private var processedTime: Double?
    private var clocksStarted = false

    /// Readings further ahead of the latest accepted one than this are rejected as `future`.
    public var maxForwardJump: Double = 86400
    /// Readings before this time (2000-01-01) are rejected as `too_old`.
    public var earliestAccepted: Double = 946_684_800

    public private(set) var stats = InputStats()
    public private(set) var episodes: [AlertEpisode] = []
    private var newEvents: [AlertEvent] = []

    // Evaluation scratch: per-aggregate memo for one (device, time).
    private var memoStamp: [Int]
    private var memoValue: [RuntimeValue?]
    private var stamp = 0
    private var currentDevice = 0
    /// Event time of the evaluation in progress.
    internal private(set) var now: Double = 0

    public init(plan: EvaluationPlan, inventory: Inventory) {
        self.plan = plan
        self.inventory = inventory
        let n = inventory.count
        var slots: [String: Int] = [:]
        for (i, c) in inventory.columns.enumerated() { slots[c] = i }
        // Attributes the rules use but the inventory lacks still get a slot: telemetry may report them.
        var extra = Array(plan.policy.attributes.keys).sorted()
        extra.removeAll { slots[$0] != nil }
        for name in extra { slots[name] = slots.count }
        attributeSlots = slots
        let width = slots.count
        attributes = inventory.rows.map { $0 + Array(repeating: "", count: width - $0.count) }
        siteSlot = slots["site"]
        zoneSlot = slots["zone"]
        gatewaySlot = slots["gateway"]
        criticalitySlot = slots["criticality"]
        seen = Array(repeating: false, count: n)
        let m = plan.metrics.count
        lastValue = Array(repeating: Array(repeating: .nan, count: n), count: m)
        lastTime = Array(repeating: Array(repeating: -.infinity, count: n), count: m)
        rings = (0..<m).map { plan.retention[$0] > 0 ? Array(repeating: WindowRing(), count: n) : [] }
        memoStamp = Array(repeating: -1, count: plan.aggregates.count)
        memoValue = Array(repeating: nil, count: plan.aggregates.count)
        var index: [WindowRef: Int] = [:]
        for a in plan.aggregates { index[a.ref] = a.id }
        func slot(_ name: String) -> Int { slots[name] ?? 0 }
        func aggregate(_ ref: WindowRef) -> Int { index[ref] ?? 0 }
        compiled = []
        applies = []
        operatorsForMetric = Array(repeating: [], count: m)
        for (o, op) in plan.operators.enumerated() {
            guard case .condition(let condition, let forDuration, let clear) = op.evaluation else {
                compiled.append(nil)
                applies.append(nil)
                continue
            }
            var clocks: [(Int, Double)] = []
            condition.visit { node in
                if case .window(.absent, let metric, let w?) = node, let mi = plan.metricIndex[metric] {
                    clocks.append((mi, w))
                }
                // `age(m) > 2h` turns true just after the threshold: event time resolves to whole seconds.
                if case .compare(_, .window(.age, let metric, _), .constant(.duration(let d))) = node,
                    let mi = plan.metricIndex[metric]
                {
                    clocks.append((mi, d))
                    clocks.append((mi, d + 1))
                }
                if case .compare(_, .constant(.duration(let d)), .window(.age, let metric, _)) = node,
                    let mi = plan.metricIndex[metric]
                {
                    clocks.append((mi, d))
                    clocks.append((mi, d + 1))
                }
            }
            let firstWindow = condition.windows.first { $0.function != .absent }
            compiled.append(
                Compiled(
                    condition: RuntimeExpression(condition, attributeSlot: slot, aggregateId: aggregate),
                    clear: clear.map { RuntimeExpression($0, attributeSlot: slot, aggregateId: aggregate) },
                    scope: op.rule.scope.map { RuntimeExpression($0, attributeSlot: slot, aggregateId: aggregate) },
                    forDuration: forDuration, valueAggregate: firstWindow.map(aggregate), clocks: clocks))
            // Static scopes (inventory only) are decided once per device.
            if let scope = op.rule.scope, scope.windows.isEmpty, !Self.mentionsNow(scope),
                let s = compiled[o]?.scope
            {
                var flags: [Bool] = []
                for d in 0..<n {
                    var inputs = DeviceInputs(attributes: attributes[d], now: 0, lookup: { _ in nil })
                    if case .bool(true)? = s.evaluate(&inputs) { flags.append(true) } else { flags.append(false) }
                }
                applies.append(flags)
            } else {
                applies.append(nil)
            }
            for id in op.aggregates { operatorsForMetric[plan.aggregates[id].metric].append(o) }
        }
        for i in 0..<m { operatorsForMetric[i] = Array(Set(operatorsForMetric[i])).sorted() }
        let ops = plan.operators.count
        phase = Array(repeating: Array(repeating: 0, count: n), count: ops)
        since = Array(repeating: Array(repeating: 0, count: n), count: ops)
        openEpisode = Array(repeating: Array(repeating: -1, count: n), count: ops)
        clockArmed = Array(repeating: Array(repeating: -.infinity, count: n), count: ops)
    }

    private static func mentionsNow(_ e: TypedExpression) -> Bool {
        var found = false
        e.visit { if case .now = $0 { found = true } }
        return found
    }

    // MARK: ingest

    /// Accepts one reading; returns the reason when it is rejected (it is also counted).
    @discardableResult
    public mutating func ingest(_ reading: Reading, origin: ReadingOrigin? = nil) -> RejectReason? {
        guard let d = inventory.deviceIndex[reading.device] else {
            stats.reject(.unknownDevice, "device '\(reading.device)' is not in the inventory", origin)
            return .unknownDevice
        }
        var values: [(Int, Double)] = []
        var strings: [(Int, String)] = []
        for (name, v) in reading.metrics.sorted(by: { $0.key < $1.key }) {
            stats.fieldsSeen[name, default: 0] += 1
            if let m = plan.metricIndex[name] { values.append((m, v)) }
        }
        for (name, v) in reading.attributes.sorted(by: { $0.key < $1.key }) {
            stats.fieldsSeen[name, default: 0] += 1
            if let m = plan.metricIndex[name] {
                stats.reject(.nonNumeric, "metric '\(name)' has the non-numeric value '\(v)'", origin)
                _ = m
                continue
            }
            if let s = attributeSlots[name] { strings.append((s, v)) }
        }
        return accept(time: reading.timestamp, device: d, gateway: reading.gateway, values: values, strings: strings, origin: origin)
    }

    public mutating func ingest(contentsOf readings: some Sequence<Reading>) {
        for r in readings { ingest(r) }
    }

    /// Fast path for the file decoder: `fieldMetric`/`fieldSlot` map decoder field ids.
    mutating func ingest(
        _ line: inout DecodedLine, fields: inout FieldMapping, names: ByteInterner, origin: ReadingOrigin?
    ) {
        guard let d = fields.devices.find(line.device) else {
            stats.reject(
                .unknownDevice, "device '\(String(decoding: line.device, as: UTF8.self))' is not in the inventory",
                origin)
            return
        }
        fields.update(names, plan: plan, slots: attributeSlots)
        var values: [(Int, Double)] = []
        values.reserveCapacity(line.numbers.count)
        for (f, v) in line.numbers {
            fields.counts[f] += 1
            let m = fields.metric[f]
            if m >= 0 { values.append((m, v)) }
        }
        var strings: [(Int, String)] = []
        for (f, v) in line.strings {
            fields.counts[f] += 1
            if fields.metric[f] >= 0 {
                stats.reject(.nonNumeric, "metric '\(names.names[f])' has the non-numeric value '\(v)'", origin)
                continue
            }
            let s = fields.slot[f]
            if s >= 0 { strings.append((s, v)) }
        }
        let gateway = line.gateway.map { String(decoding: $0, as: UTF8.self) }
        accept(time: line.timestamp, device: d, gateway: gateway, values: values, strings: strings, origin: origin)
    }

    mutating func recordRejection(_ reason: RejectReason, _ message: String, _ origin: ReadingOrigin?) {
        stats.reject(reason, message, origin)
    }

    /// Merges the decoder's field counts into `stats.fieldsSeen`.
    mutating func absorb(_ fields: FieldMapping, names: ByteInterner) {
        for (f, n) in fields.counts.enumerated() where n > 0 { stats.fieldsSeen[names.names[f], default: 0] += n }
    }

    @discardableResult
    private mutating func accept(
        time t: Double, device d: Int, gateway: String?, values: [(Int, Double)], strings: [(Int, String)],
        origin: ReadingOrigin?
    ) -> RejectReason? {
        guard t.isFinite, t >= earliestAccepted else {
            stats.reject(.tooOld, "timestamp \(Timestamp.format(t)) is before 2000-01-01", origin)
            return .tooOld
        }
        if let maxTime, t > maxTime + maxForwardJump {
            stats.reject(
                .future,
                "timestamp \(Timestamp.format(t)) is more than \(DurationText.format(maxForwardJump)) ahead of the data (\(Timestamp.format(maxTime)))",
                origin)
            return .future
        }
        if let maxTime, t < maxTime - plan.lateness {
            stats.reject(
                .late,
                "reading at \(Timestamp.format(t)) arrived after \(Timestamp.format(maxTime)), beyond the lateness of \(DurationText.format(plan.lateness))",
                origin)
            return .late
        }
        var kept = values
        var outOfRange = false
        kept.removeAll { (m, v) in
            if let r = plan.metrics[m].range, !r.contains(v) || v.isNaN {
                if !outOfRange {
                    stats.reject(
                        .outOfRange,
                        "\(plan.metrics[m].name) = \(JSONValue.format(v)) is outside [\(JSONValue.format(r.lowerBound)), \(JSONValue.format(r.upperBound))]",
                        origin)
                }
                outOfRange = true
                return true
            }
            return false
        }
        if outOfRange, kept.isEmpty, strings.isEmpty { return .outOfRange }
        stats.readings += 1
        stats.firstTimestamp = min(stats.firstTimestamp ?? t, t)
        stats.lastTimestamp = max(stats.lastTimestamp ?? t, t)
        maxTime = max(maxTime ?? t, t)
        sequence += 1
        pending.push(Pending(time: t, sequence: sequence, device: d, gateway: gateway, values: kept, strings: strings))
        release(upTo: (maxTime ?? t) - plan.lateness)
        return outOfRange ? .outOfRange : nil
    }

    /// Processes buffered readings and timers up to event time `w`.
    private mutating func release(upTo w: Double) {
        while let next = pending.min, next.time <= w {
            _ = pending.pop()
            startClocksIfNeeded(at: next.time)
            fireTimers(before: next.time)
            process(next)
        }
        fireTimers(upTo: w)
    }

    /// Advances event time without a reading (e.g. a live service's clock): processes what is due.
    public mutating func advance(to time: Double) {
        maxTime = max(maxTime ?? time, time)
        release(upTo: time - plan.lateness)
    }

    /// Processes everything still buffered and every timer up to the last reading's time.
    public mutating func finish() {
        guard let end = maxTime else { return }
        release(upTo: end)
    }

    /// New alert changes since the last call.
    public mutating func drainAlerts() -> [AlertEvent] {
        defer { newEvents.removeAll() }
        return newEvents
    }

    // MARK: processing

    private mutating func startClocksIfNeeded(at t: Double) {
        guard !clocksStarted else { return }
        clocksStarted = true
        // Devices that never report must still trip `absent`: arm every clock from the first event.
        for (o, c) in compiled.enumerated() {
            guard let c, !c.clocks.isEmpty else { continue }
            let first = c.clocks.map(\.after).min() ?? 0
            for d in 0..<inventory.count where applies[o]?[d] ?? true {
                timers.push(Timer(time: t + first, device: d, op: o))
                clockArmed[o][d] = t + first
            }
        }
    }

    private mutating func fireTimers(before t: Double) {
        while let next = timers.min, next.time < t {
            _ = timers.pop()
            fire(next)
        }
    }

    private mutating func fireTimers(upTo t: Double) {
        while let next = timers.min, next.time <= t {
            _ = timers.pop()
            fire(next)
        }
    }

    private mutating func fire(_ timer: Timer) {
        if clockArmed[timer.op][timer.device] == timer.time { clockArmed[timer.op][timer.device] = -.infinity }
        evaluate(op: timer.op, device: timer.device, at: timer.time)
    }

    private mutating func process(_ r: Pending) {
        let d = r.device
        let t = r.time
        processedTime = t
        seen[d] = true
        for (slot, v) in r.strings { attributes[d][slot] = v }
        if let g = r.gateway, let slot = gatewaySlot { attributes[d][slot] = g }
        var ops: [Int] = []
        for (m, v) in r.values {
            // A reading older than the device's latest (within lateness, from another file) only adds history.
            if t >= lastTime[m][d] {
                lastValue[m][d] = v
                lastTime[m][d] = t
            }
            let keep = plan.retention[m]
            if keep > 0 { rings[m][d].append(t, v, keep: keep) }
            ops.append(contentsOf: operatorsForMetric[m])
        }
        if r.values.count > 1 { ops = Array(Set(ops)).sorted() }
        for o in ops { evaluate(op: o, device: d, at: t) }
    }

    private mutating func evaluate(op o: Int, device d: Int, at t: Double) {
        guard let c = compiled[o] else { return }
        if let flags = applies[o] {
            if !flags[d] { return }
        } else if let scope = c.scope {
            guard case .bool(true)? = value(scope, device: d, at: t) else {
                if phase[o][d] == 2 { resolve(op: o, device: d, at: t) }
                phase[o][d] = 0
                return
            }
        }
        let holds: Bool
        if case .bool(true)? = value(c.condition, device: d, at: t) { holds = true } else { holds = false }
        switch phase[o][d] {
        case 0:
            if holds {
                if c.forDuration <= 0 {
                    fire(op: o, device: d, since: t, at: t)
                } else {
                    phase[o][d] = 1
                    since[o][d] = t
                    timers.push(Timer(time: t + c.forDuration, device: d, op: o))
                }
            }
        case 1:
            if !holds {
                phase[o][d] = 0
            } else if t - since[o][d] >= c.forDuration {
                fire(op: o, device: d, since: since[o][d] + c.forDuration, at: t)
            }
        default:
            if let clear = c.clear {
                if case .bool(true)? = value(clear, device: d, at: t) { resolve(op: o, device: d, at: t) }
            } else if !holds {
                resolve(op: o, device: d, at: t)
            }
        }
        if !c.clocks.isEmpty { armClock(op: o, device: d, at: t, c.clocks) }
    }

    /// Schedules the next event time at which an absent/age threshold elapses for this device.
    private mutating func armClock(op o: Int, device d: Int, at t: Double, _ clocks: [(metric: Int, after: Double)]) {
        var next = Double.infinity
        for (m, after) in clocks {
            let last = lastTime[m][d]
            guard last.isFinite else { continue }
            let due = last + after
            if due > t { next = min(next, due) }
        }
        // Due times only move later as readings arrive: an earlier pending timer re-arms when it fires.
        let armed = clockArmed[o][d]
        if next.isFinite, !(armed > t && armed <= next) {
            timers.push(Timer(time: next, device: d, op: o))
            clockArmed[o][d] = next
        }
    }

    private mutating func value(_ e: RuntimeExpression, device d: Int, at t: Double) -> RuntimeValue? {
        stamp += 1
        currentDevice = d
        now = t
        return e.evaluate(&self)
    }

    // MARK: alerts

    private mutating func fire(op o: Int, device d: Int, since start: Double, at t: Double) {
        let op = plan.operators[o]
        let rule = op.rule
        phase[o][d] = 2
        since[o][d] = start
        var v: Double?
        var valueIsDuration = false
        if let a = compiled[o]?.valueAggregate {
            switch aggregateValue(a, device: d, at: t) {
            case .number(let n)?: v = n
            case .duration(let s)?:
                v = s
                valueIsDuration = true
            default: break
            }
        }
        var evidence: [(String, JSONValue)] = []
        switch rule.body {
        case .alert(let a):
            evidence.append(("condition", .string(a.condition.description)))
            if a.forDuration > 0 { evidence.append(("for_seconds", .number(a.forDuration))) }
            if let clear = a.clear { evidence.append(("clear", .string(clear.description))) }
        case .limit(let l):
            evidence.append(("metric", .string(l.metric)))
            evidence.append(("range", .array([l.low.map { .number($0) } ?? .null, l.high.map { .number($0) } ?? .null])))
            if l.forDuration > 0 { evidence.append(("for_seconds", .number(l.forDuration))) }
        default: break
        }
        let episode = AlertEpisode(
            rule: rule.id, kind: rule.kind, pack: rule.pack, device: inventory.rows[d][0], severity: rule.severity,
            since: start, until: nil, value: v, summary: summary(rule, device: d, value: v, duration: valueIsDuration), labels: rule.labels,
            evidence: evidence, maintenance: rule.maintenance)
        openEpisode[o][d] = Int32(episodes.count)
        episodes.append(episode)
        newEvents.append(AlertEvent(change: .fired, time: start, episode: episode))
    }

    private mutating func resolve(op o: Int, device d: Int, at t: Double) {
        phase[o][d] = 0
        let e = Int(openEpisode[o][d])
        guard e >= 0 else { return }
        episodes[e].until = t
        openEpisode[o][d] = -1
        newEvents.append(AlertEvent(change: .resolved, time: t, episode: episodes[e]))
    }

    private func summary(_ rule: Rule, device d: Int, value: Double?, duration: Bool) -> String {
        guard let template = rule.summary else {
            let v = value.map { " (value \(Self.format($0)))" } ?? ""
            return "\(inventory.rows[d][0]): \(rule.id)\(v)"
        }
        var out = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                out += rest[open.lowerBound...]
                rest = ""
                break
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            out += placeholder(name, rule: rule, device: d, value: value, duration: duration)
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    private func placeholder(_ name: String, rule: Rule, device d: Int, value: Double?, duration: Bool) -> String {
        switch name {
        case "value": return value.map { duration ? DurationText.format($0) : Self.format($0) } ?? "n/a"
        case "rule": return rule.id
        case "pack": return rule.pack
        case "severity": return rule.severity.rawValue
        case "kind": return rule.kind.rawValue
        default: break
        }
        if case .limit(let l) = rule.body {
            switch name {
            case "metric": return l.metric
            case "min": return l.low.map(Self.format) ?? "-∞"
            case "max": return l.high.map(Self.format) ?? "∞"
            default: break
            }
        }
        if let slot = attributeSlots[name] { return attributes[d][slot] }
        return ""
    }

    /// Numbers in summaries and tables: at most two decimals, no trailing zeros.
    static func format(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        return JSONValue.format(r)
    }

    // MARK: inputs

    func aggregateValue(_ id: Int, device d: Int, at t: Double) -> RuntimeValue? {
        let a = plan.aggregates[id]
        let m = a.metric
        switch a.ref.function {
        case .last:
            let v = lastValue[m][d]
            return v.isNaN ? nil : .number(v)
        case .age:
            let last = lastTime[m][d]
            return last.isFinite ? .duration(t - last) : nil
        case .absent:
            let last = lastTime[m][d]
            return .bool(!(last.isFinite && last > t - (a.ref.seconds ?? 0)))
        default:
            guard plan.retention[m] > 0, let w = a.ref.seconds else { return nil }
            return rings[m][d].aggregate(a.ref.function, at: t, width: w).map { .number($0) }
        }
    }

    /// Inputs for static scopes: attributes only.
    private struct DeviceInputs: EvaluationInputs {
        let attributes: [String]
        let now: Double
        let lookup: (Int) -> RuntimeValue?
        func attribute(_ slot: Int) -> String? {
            slot < attributes.count && !attributes[slot].isEmpty ? attributes[slot] : nil
        }
        mutating func aggregate(_ id: Int) -> RuntimeValue? { lookup(id) }
    }

    // MARK: queries for reports

    /// Attribute value of a device by name ("" when unknown).
    public func attribute(_ name: String, device: String) -> String {
        guard let d = inventory.deviceIndex[device], let slot = attributeSlots[name] else { return "" }
        return attributes[d][slot]
    }

    /// Number of inventory devices that sent at least one accepted reading.
    public var devicesSeen: Int { seen.count { $0 } }

    /// Devices a rule applies to (by its static `where`), for the "fires for most devices" check.
    public func applicableDevices(rule index: Int) -> Int {
        applies[index]?.count { $0 } ?? inventory.count
    }
}

extension Engine: EvaluationInputs {
    func attribute(_ slot: Int) -> String? {
        let v = attributes[currentDevice][slot]
        return v.isEmpty ? nil : v
    }

    /// Shared aggregates are computed once per (device, time) evaluation, whichever rule asks.
    mutating func aggregate(_ id: Int) -> RuntimeValue? {
        if memoStamp[id] == stamp { return memoValue[id] }
        let v = aggregateValue(id, device: currentDevice, at: now)
        memoStamp[id] = stamp
        memoValue[id] = v
        return v
    }
}

/// Maps the decoder's interned field ids to metric ids and attribute slots, growing as new
/// field names appear; also maps device id bytes to inventory rows without Strings.
struct FieldMapping {
    var metric: [Int] = []
    var slot: [Int] = []
    var counts: [Int] = []
    var devices = ByteInterner()

    init(inventory: Inventory) {
        devices = ByteInterner(capacity: inventory.count)
        for row in inventory.rows { _ = devices.intern(row[0]) }
    }

    mutating func update(_ names: ByteInterner, plan: EvaluationPlan, slots: [String: Int]) {
        while metric.count < names.count {
            let name = names.names[metric.count]
            metric.append(plan.metricIndex[name] ?? -1)
            slot.append(slots[name] ?? -1)
            counts.append(0)
        }
    }
}
