import Foundation

/// A device of the engine's inventory, for the fast ingest path.
public struct DeviceHandle: Sendable, Hashable {
    public let index: Int
}

/// A declared metric, for the fast ingest path.
public struct MetricHandle: Sendable, Hashable {
    public let index: Int
}

/// The event-time evaluator: feed it readings (in roughly time order), drain alerts, get a report.
///
/// Readings are held back by `plan.lateness` so that out-of-order arrivals are placed in time
/// order; later ones are rejected as `late`. Conditions are evaluated when a reading of a metric
/// they read arrives, and at the exact event times a `for` duration or an `absent`/`age`
/// threshold elapses. The engine is a value type with no global state: the same input gives
/// the same output.
///
/// The engine owns one part per concern, each a type in its own file (docs/ARCHITECTURE.md,
/// "The engine's parts"): `InputLimits`, `FleetClock`, `ReorderBuffer`, `MetricStore`,
/// `ConditionOperators`, `TimerQueue`, `EpisodeLog`, `AlertText`, `AnalyzerDriver` and
/// `ComplianceDriver`. State inside them is struct-of-arrays, laid out by device
/// (`device * count + index`), so one reading's rows share cache lines.
///
/// This file is longer than 400 lines because it is the wiring: the ingest entry points, the
/// acceptance of a reading, the release loop in event time and the processing of one reading
/// each reach into several parts and the engine's shared device state (attributes, gateways,
/// the evaluation memo), which stay private to it; splitting the hot path across files would
/// need that state internal.
public struct Engine: Sendable {
    public let plan: EvaluationPlan
    public let inventory: Inventory
    let program: EngineProgram
    let n: Int
    /// Operators and metrics of the plan: the strides of the flat per-device state.
    let opCount: Int
    let metricCount: Int
    /// The history of every (device, metric): latest values, rings, running windows.
    private var metrics: MetricStore
    /// The condition rules' state machines (scope flags, phases, clocks).
    private(set) var conditions: ConditionOperators
    /// The levels of the alerts with `levels:`.
    private(set) var severityLevels: SeverityLevels
    /// The alerts with a `for` counted in readings or a `clear_for`.
    private(set) var debounce: DebounceCounters
    /// Whether the evaluation in progress is a timer's rather than a reading's (counts skip it).
    private var timerEvaluation = false
    /// When the engine must look at a (device, rule) without a reading.
    private var timers = TimerQueue()
    /// Every alert episode opened, and the changes not drained yet.
    private var log = EpisodeLog()

    // Devices.
    private(set) var attributes: [[String]]
    private var seen: [Bool]
    /// The gateway each device was last heard through (index into `gatewayNames`, -1: none yet).
    private var deviceGateway: [Int32]

    /// Whether each rule's static `where` admits each device, flat [device * opCount + operator].
    var applies: [Bool] { conditions.applies }

    /// The compliance rules' trackers.
    private var compliance: ComplianceDriver
    /// Fleet-level analyses (forecast, drift, correlation, balance), fed in event time.
    private(set) var analyses: AnalyzerDriver
    /// Alert summaries from the rules' templates.
    private let alertText: AlertText
    /// The rules' `active_during` and `mute_during` intervals.
    private var schedules: RuleSchedules

    /// What is accepted of a reading, and the reorder buffer it waits in for its event time.
    private var limits: InputLimits
    private var buffer: ReorderBuffer
    private var gatewayNames: [String] = []
    private var gatewayIndex: [String: Int32] = [:]

    /// How far the fleet has got in event time.
    private var clock: FleetClock
    /// Readings held now, waiting for the fleet's time to come within `maxForwardJump` of them.
    var heldCount: Int { buffer.heldCount }
    /// The earliest and latest timestamps of the readings evaluated: the data's span at the end.
    private var evaluatedFirst = Double.infinity
    private var evaluatedLast = -Double.infinity
    /// Event time of the latest reading or timer evaluated: readings before it are late.
    private var frontier = -Double.infinity
    private var clocksStarted = false

    /// A reading more than this ahead of the fleet's time is held without moving it: it is
    /// evaluated if the fleet comes within this of it by the end of the data (a fleet that
    /// comes back together after a gap), and rejected as `future` otherwise (one clock far
    /// ahead). `.infinity` (a live service, which judges against the wall clock) holds such
    /// readings until the fleet reaches them, with no verdict.
    public var maxForwardJump: Double {
        get { limits.maxForwardJump }
        set { limits.maxForwardJump = newValue }
    }
    /// How far ahead of the wall clock a device's clock may run.
    public static let allowedClockSkew: Double = InputLimits.allowedClockSkew
    /// Readings later than this (the wall clock at start-up plus `allowedClockSkew`; a live
    /// service moves it with the wall clock) are rejected as `future` as they arrive.
    public var wallClockLimit: Double {
        get { limits.wallClockLimit }
        set { limits.wallClockLimit = newValue }
    }
    /// Readings before this time (2000-01-01) are rejected as `too_old`.
    public var earliestAccepted: Double {
        get { limits.earliestAccepted }
        set { limits.earliestAccepted = newValue }
    }

    public private(set) var stats = InputStats()
    /// Every alert episode so far, in the order opened.
    public var episodes: [AlertEpisode] { log.episodes }

    // Evaluation scratch: per-aggregate memo for one (device, time).
    private var memoStamp: [Int]
    private var memoValue: [RuntimeValue?]
    private var stamp = 0
    private var currentDevice = 0
    /// Event time of the evaluation in progress.
    internal private(set) var now: Double = 0
    private var scratchValues: [(Int, Double)] = []
    private var scratchNonNumeric: String?
    /// Counts changes of device attributes by telemetry, so ticks re-read them only after one.
    private var attributeChanges = 0

    public init(plan: EvaluationPlan, inventory: Inventory) {
        self.plan = plan
        self.inventory = inventory
        let program = EngineProgram(plan: plan, inventory: inventory)
        self.program = program
        let n = inventory.count
        self.n = n
        let width = program.attributeCount
        attributes = inventory.rows.map { $0 + Array(repeating: "", count: max(0, width - $0.count)) }
        seen = Array(repeating: false, count: n)
        clock = FleetClock(devices: n)
        limits = InputLimits(
            rangeLow: program.rangeLow, rangeHigh: program.rangeHigh, metricNames: plan.metrics.map(\.name))
        deviceGateway = Array(repeating: -1, count: n)
        let m = plan.metrics.count
        metricCount = m
        metrics = MetricStore(plan: plan, program: program, devices: n)
        buffer = ReorderBuffer(metrics: m)
        memoStamp = Array(repeating: -1, count: plan.aggregates.count)
        memoValue = Array(repeating: nil, count: plan.aggregates.count)
        let ops = plan.operators.count
        opCount = ops
        conditions = ConditionOperators(program: program, devices: n)
        severityLevels = SeverityLevels(program: program, devices: n)
        debounce = DebounceCounters(program: program, devices: n)
        compliance = ComplianceDriver(operators: ops, devices: n, typeSlot: program.typeSlot)
        analyses = AnalyzerDriver(metrics: m)
        alertText = AlertText(plan: plan, program: program, inventory: inventory)
        schedules = RuleSchedules(plan: plan, program: program, devices: n)
        for (o, op) in program.operators.enumerated() {
            guard let op, op.staticScope, let scope = op.scope else { continue }
            for d in 0..<n {
                currentDevice = d
                if case .bool(true)? = scope.evaluate(&self) {} else { conditions.applies[opKey(o, d)] = false }
            }
        }
        setUpCompliance()
        setUpAnalyzers()
        let bytesPerDevice = conditions.bytesPerDevice + metrics.bytesPerDevice
        prefetching = !analyses.isEmpty || metrics.runningTotal > 0 || n * bytesPerDevice > Self.cacheBytes
    }

    /// Roughly the last-level cache a core can count on (the CI machine has 32 MB shared).
    static let cacheBytes = 4 << 20

    private mutating func setUpAnalyzers() {
        for (o, op) in plan.operators.enumerated() {
            guard case .analysis = op.evaluation,
                let analyzer = Analyzers.make(plan: plan, operator: o, inventory: inventory)
            else { continue }
            if let scope = op.rule.scope.map(program.lower) {
                for d in 0..<n {
                    currentDevice = d
                    if case .bool(true)? = scope.evaluate(&self) {} else { conditions.applies[opKey(o, d)] = false }
                }
            }
            analyses.add(analyzer, operator: o)
            if case .group(let g) = op.rule.body, !g.inhibits.isEmpty {
                analyses.addInhibition(operator: o, inhibits: g.inhibits, plan: plan, devices: n)
            }
        }
        analyses.seal()
    }

    private mutating func setUpCompliance() {
        for (o, op) in plan.operators.enumerated() {
            guard case .compliance(let rule) = op.rule.body else { continue }
            let slot = program.attributeSlots[rule.attribute]
            var flags = Array(repeating: true, count: n)
            if let scope = op.rule.scope.map(program.lower) {
                for d in 0..<n {
                    currentDevice = d
                    if case .bool(true)? = scope.evaluate(&self) {} else { flags[d] = false }
                }
            }
            let initial: [String?] = (0..<n).map { d in slot.map { attributes[d][$0] } }
            compliance.add(
                ComplianceTracker(operatorIndex: o, rule: rule, attributeSlot: slot, initial: initial, applies: flags))
        }
    }

    // MARK: ingest

    /// The handle of an inventory device, for `ingest(time:device:metric:value:)`.
    public func device(_ id: String) -> DeviceHandle? { inventory.deviceIndex[id].map(DeviceHandle.init) }

    /// The handle of a declared metric.
    public func metric(_ name: String) -> MetricHandle? { plan.metricIndex[name].map(MetricHandle.init) }

    /// Fast path: one value of one metric, by handle (no string hashing).
    @discardableResult
    public mutating func ingest(time: Double, device: DeviceHandle, metric: MetricHandle, value: Double)
        -> RejectReason?
    {
        scratchValues.removeAll(keepingCapacity: true)
        scratchValues.append((metric.index, value))
        return accept(time: time, device: device.index, gateway: -1, strings: [], origin: nil)
    }

    /// Accepts one reading; returns the reason when it is rejected (it is also counted).
    @discardableResult
    public mutating func ingest(_ reading: Reading, origin: ReadingOrigin? = nil) -> RejectReason? {
        if reading.gateway != nil { stats.fieldsSeen["gateway", default: 0] += 1 }
        guard let d = inventory.deviceIndex[reading.device] else {
            for name in reading.metrics.keys { stats.fieldsSeen[name, default: 0] += 1 }
            for name in reading.attributes.keys { stats.fieldsSeen[name, default: 0] += 1 }
            stats.reject(.unknownDevice, "device '\(reading.device)' is not in the inventory", origin)
            return .unknownDevice
        }
        scratchValues.removeAll(keepingCapacity: true)
        for (name, v) in reading.metrics {
            stats.fieldsSeen[name, default: 0] += 1
            if let m = plan.metricIndex[name] { scratchValues.append((m, v)) }
        }
        if scratchValues.count > 1 { scratchValues.sort { $0.0 < $1.0 } }
        var strings: [(Int, String)] = []
        if !reading.attributes.isEmpty {
            for (name, v) in reading.attributes.sorted(by: { $0.key < $1.key }) {
                stats.fieldsSeen[name, default: 0] += 1
                if plan.metricIndex[name] != nil {
                    scratchNonNumeric = "metric '\(name)' has the non-numeric value '\(v)'"
                    continue
                }
                if let s = program.attributeSlots[name] { strings.append((s, v)) }
            }
        }
        return accept(
            time: reading.timestamp, device: d, gateway: reading.gateway.map { gatewayID($0) } ?? -1, strings: strings,
            origin: origin)
    }

    public mutating func ingest(contentsOf readings: some Sequence<Reading>) {
        for r in readings { ingest(r) }
    }

    /// Fast path for the replay driver: a reading already mapped to ids. `values` holds its
    /// (metric, value) pairs and is used as scratch; `strings` its (attribute slot, value) pairs;
    /// `nonNumeric` says which metric field was not a number.
    mutating func ingest(
        time: Double, device d: Int, gateway: Int32, values: inout [(Int, Double)], strings: [(Int, String)],
        nonNumeric: String?, origin: ReadingOrigin?
    ) {
        swap(&scratchValues, &values)
        scratchNonNumeric = nonNumeric
        accept(time: time, device: d, gateway: gateway, strings: strings, origin: origin)
        swap(&scratchValues, &values)
    }

    /// The engine's index of a gateway name, registering it when new.
    mutating func gatewayIndex(_ name: String) -> Int32 { gatewayID(name) }

    /// Counts a line the decoder could not use.
    mutating func rejectLine(_ reason: RejectReason, _ message: String, _ origin: ReadingOrigin?) {
        stats.reject(reason, message, origin)
    }

    /// Merges the decoder's field counts into `stats.fieldsSeen`.
    mutating func absorb(_ fields: FieldMapping, names: ByteInterner) {
        for (f, n) in fields.counts.enumerated() where n > 0 { stats.fieldsSeen[names.names[f], default: 0] += n }
        if fields.gatewaySeen > 0 { stats.fieldsSeen["gateway", default: 0] += fields.gatewaySeen }
    }

    /// Validates a reading whose values are in `scratchValues` and queues it in event time.
    @discardableResult
    private mutating func accept(
        time t: Double, device d: Int, gateway g: Int32, strings: [(Int, String)], origin: ReadingOrigin?
    ) -> RejectReason? {
        let nonNumeric = scratchNonNumeric
        scratchNonNumeric = nil
        if let (reason, message) = limits.rejection(time: t, frontier: frontier, lateness: plan.lateness) {
            stats.reject(reason, message, origin)
            return reason
        }
        var outOfRange: (metric: Int, value: Double)?
        var kept = 0
        for i in scratchValues.indices {
            let (m, v) = scratchValues[i]
            if !limits.inRange(m, v) {
                if outOfRange == nil { outOfRange = (m, v) }
                continue
            }
            if kept < buffer.slotSize {
                scratchValues[kept] = (m, v)
                kept += 1
            }
        }
        // A line with nothing usable left is rejected under its reason; a line that keeps some
        // values is a reading, and the values it lost are counted apart.
        if kept == 0, strings.isEmpty, outOfRange != nil || nonNumeric != nil {
            let (reason, message): (RejectReason, String) =
                outOfRange.map { (.outOfRange, limits.rangeMessage(metric: $0.metric, $0.value)) }
                ?? (.nonNumeric, nonNumeric ?? "")
            stats.reject(reason, message, origin)
            return reason
        }
        stats.readings += 1
        // Far ahead of the fleet, or the first reading (no fleet's time yet to judge it by): it
        // may turn out to be one clock far ahead and be rejected as `future`, so its timestamp
        // and dropped values are counted only if it is evaluated.
        let heldAhead = limits.isFarAhead(t, fleetTime: clock.time)
        var drops: [InputStats.Example] = []
        if let (m, v) = outOfRange {
            if heldAhead {
                drops.append(.init(reason: .outOfRange, origin: origin, message: limits.rangeMessage(metric: m, v)))
            } else {
                stats.dropValue(.outOfRange, limits.rangeMessage(metric: m, v), origin)
            }
        }
        if let nonNumeric {
            if heldAhead {
                drops.append(.init(reason: .nonNumeric, origin: origin, message: nonNumeric))
            } else {
                stats.dropValue(.nonNumeric, nonNumeric, origin)
            }
        }
        if !heldAhead {
            stats.firstTimestamp = min(stats.firstTimestamp ?? t, t)
            stats.lastTimestamp = max(stats.lastTimestamp ?? t, t)
        }
        let sequence = buffer.nextSequence()
        let slot = buffer.store(scratchValues, count: kept)
        if !strings.isEmpty { buffer.storeStrings(strings, sequence: sequence) }
        let p = ReorderBuffer.Pending(
            time: t, sequence: sequence, device: Int32(d), gateway: g, slot: slot, count: Int32(kept),
            hasStrings: !strings.isEmpty, heldAhead: heldAhead)
        if heldAhead {
            let line = origin != nil || !drops.isEmpty ? ReorderBuffer.HeldLine(origin: origin, drops: drops) : nil
            buffer.hold(p, expires: clock.observed + 1 + FleetClock.recentCapacity, line: line)
        } else {
            buffer.enqueue(p, fleetTime: clock.time)
        }
        if clock.observe(t, device: d) { reviewHeld() }
        release(upTo: clock.watermark(lateness: plan.lateness))
        return outOfRange != nil ? .outOfRange : nil
    }

    /// The engine's index of a gateway name, registering it when new.
    private mutating func gatewayID(_ name: String) -> Int32 {
        if let known = gatewayIndex[name] { return known }
        let g = Int32(gatewayNames.count)
        gatewayIndex[name] = g
        gatewayNames.append(name)
        return g
    }

    /// Moves the held readings the fleet's time has come within `maxForwardJump` of to the
    /// reorder buffer, and rejects as `future` those still further ahead once 256 more readings
    /// have been accepted after them: by then every vote for the fleet's time was cast after
    /// them, so they come from one clock far ahead, not from the first devices of a fleet coming
    /// back after a gap (more than a tenth of the votes past the gap move the fleet's time at the
    /// next recomputation). So at most the readings of 256 + 1,024 arrivals are held at once,
    /// however long the data. Cost: one pass over the held readings per recomputation.
    private mutating func reviewHeld() {
        guard buffer.heldCount > 0, let fleet = clock.time else { return }
        let jump = limits.maxForwardJump
        for r in buffer.review(fleet: fleet, maxForwardJump: jump, observed: clock.observed) {
            rejectHeld(
                r,
                "timestamp \(Timestamp.format(r.time)) is more than \(DurationText.format(jump)) ahead of the fleet's time (\(Timestamp.format(fleet))) after \(FleetClock.recentCapacity) later readings"
            )
        }
    }

    /// Processes buffered readings and timers up to event time `w`.
    private mutating func release(upTo w: Double) {
        while let next = buffer.next(), next.time <= w {
            buffer.pop()
            if prefetching {
                if let ahead = buffer.queued(Self.prefetchDistance) { prefetchState(ahead) }
                if let near = buffer.queued(Self.prefetchDistance / 2) {
                    metrics.prefetchPoints(device: Int(near.device))
                }
            }
            startClocksIfNeeded(at: next.time)
            fireTimers(before: next.time)
            process(next)
        }
        fireTimers(upTo: w)
    }

    /// How many queued readings ahead the device state is prefetched: far enough for the loads to
    /// arrive before the reading is processed, near enough that they are still in cache then.
    static let prefetchDistance = 12

    /// Whether the fleet's state is too large for the caches, so prefetching pays for its
    /// instructions: a few threshold rules over 10k devices fit (about 1 MB) and run faster
    /// without; windows, analyses or a larger fleet do not.
    private var prefetching = true

    /// Asks the cache for a device's state rows before its reading is processed: with 10k or more
    /// devices every row is a cache miss, and misses issued together overlap.
    @inline(__always)
    private mutating func prefetchState(_ p: ReorderBuffer.Pending) {
        let d = Int(p.device)
        conditions.prefetchRows(device: d)
        metrics.prefetchRows(device: d)
        deviceGateway.prefetch(d)
        seen.prefetch(d)
        analyses.prefetch(device: d)
    }

    /// Advances event time without a reading (e.g. a live service's clock): processes what is due.
    public mutating func advance(to time: Double) {
        clock.advance(to: time)
        reviewHeld()
        release(upTo: clock.watermark(lateness: plan.lateness))
    }

    /// Processes everything still buffered and every timer up to the fleet's time at the end of
    /// the data. Timers and analyses stop there, so a device whose clock runs ahead cannot make
    /// everyone else look silent; its readings are still evaluated, except those more than
    /// `maxForwardJump` ahead of the fleet's end, which are rejected as `future` (whatever the
    /// order they came in: the first reading of the data too). The data's span (`stats`
    /// first and last timestamps) is then that of the readings evaluated.
    public mutating func finish() {
        if clock.update(atEnd: true) { reviewHeld() }
        guard let fleetEnd = clock.time else { return }
        analyses.fixEnd(at: fleetEnd)
        release(upTo: fleetEnd)
        let limit = fleetEnd + maxForwardJump
        func message(_ t: Double) -> String {
            "timestamp \(Timestamp.format(t)) is more than \(DurationText.format(maxForwardJump)) ahead of the fleet's time at the end of the data (\(Timestamp.format(fleetEnd)))"
        }
        // Still held after the last recomputation: the fleet's end is not within reach of them.
        for r in buffer.takeHeld() { rejectHeld(r, message(r.time)) }
        while let next = buffer.next() {
            buffer.pop()
            if next.time > limit {
                rejectHeld(next, message(next.time))
            } else {
                process(next)
            }
        }
        let inputs = analysisInputs
        analyses.finish(inputs, log: &log, now: now)
        stats.firstTimestamp = evaluatedFirst.isFinite ? evaluatedFirst : nil
        stats.lastTimestamp = evaluatedLast.isFinite ? evaluatedLast : nil
    }

    /// A reading the fleet never came near: counted as `future` instead of as a reading (a held
    /// line's dropped values were never counted, see `Pending.heldAhead`, so it counts once).
    private mutating func rejectHeld(_ r: ReorderBuffer.Pending, _ message: String) {
        stats.readings -= 1
        stats.reject(.future, message, buffer.takeHeldLine(sequence: r.sequence)?.origin)
        buffer.discard(r)
    }

    /// New alert changes since the last call.
    public mutating func drainAlerts() -> [AlertEvent] {
        log.drain()
    }

    // MARK: processing

    private mutating func startClocksIfNeeded(at t: Double) {
        guard !clocksStarted else { return }
        clocksStarted = true
        compliance.start(at: t, timers: &timers)
        conditions.startClocks(at: t, timers: &timers)
    }

    private mutating func fireTimers(before t: Double) {
        while let next = timers.pop(before: t) {
            fire(next)
        }
    }

    private mutating func fireTimers(upTo t: Double) {
        while let next = timers.pop(upTo: t) {
            fire(next)
        }
    }

    private mutating func fire(_ timer: TimerQueue.Timer) {
        frontier = max(frontier, timer.time)
        if timer.time >= analyses.nextTick { runTicks(upTo: timer.time) }
        let c = compliance.tracker(operator: timer.op)
        if c >= 0 {
            compliance.timerFired(c, device: timer.device, at: timer.time)
            compliance.update(
                c, device: timer.device, at: timer.time, row: attributes[timer.device], text: alertText, log: &log,
                timers: &timers)
            return
        }
        conditions.timerFired(op: timer.op, device: timer.device, at: timer.time)
        timerEvaluation = true
        evaluate(op: timer.op, device: timer.device, at: timer.time)
        timerEvaluation = false
    }

    private mutating func process(_ r: ReorderBuffer.Pending) {
        let d = Int(r.device)
        let t = r.time
        frontier = max(frontier, t)
        evaluatedFirst = min(evaluatedFirst, t)
        evaluatedLast = max(evaluatedLast, t)
        if r.heldAhead {
            // The fleet came near it: now it is part of the data's span, and its dropped values count.
            for e in buffer.takeHeldLine(sequence: r.sequence)?.drops ?? [] {
                stats.dropValue(e.reason, e.message, e.origin)
            }
            stats.firstTimestamp = min(stats.firstTimestamp ?? t, t)
            stats.lastTimestamp = max(stats.lastTimestamp ?? t, t)
        }
        if t >= analyses.nextTick { runTicks(upTo: min(t, analyses.end)) }
        seen[d] = true
        if r.hasStrings, let strings = buffer.takeStrings(sequence: r.sequence) {
            for (slot, v) in strings {
                let changed = attributes[d][slot] != v
                attributes[d][slot] = v
                if changed { rescope(device: d, slot: slot, at: t) }
                if !compliance.isEmpty {
                    compliance.observe(
                        slot: slot, value: v, device: d, at: t, row: attributes[d], text: alertText, log: &log,
                        timers: &timers)
                }
            }
        }
        if r.gateway >= 0, r.gateway != deviceGateway[d] {
            deviceGateway[d] = r.gateway
            if let slot = program.gatewaySlot, attributes[d][slot] != gatewayNames[Int(r.gateway)] {
                attributes[d][slot] = gatewayNames[Int(r.gateway)]
                rescope(device: d, slot: slot, at: t)
            }
        }
        let base = Int(r.slot) * buffer.slotSize
        let count = Int(r.count)
        for i in 0..<count {
            let m = Int(buffer.poolMetric[base + i])
            let v = buffer.poolValue[base + i]
            metrics.record(metric: m, device: d, t, v)
        }
        if !analyses.isEmpty {
            analyses.feed(
                device: d, time: t, gateway: r.gateway, metrics: buffer.poolMetric, values: buffer.poolValue,
                base: base,
                count: count, applies: conditions.applies, opCount: opCount)
        }
        conditions.beginReading()
        for i in 0..<count {
            let m = Int(buffer.poolMetric[base + i])
            var j = conditions.wokenStart[m]
            let stop = conditions.wokenStart[m + 1]
            while j < stop {
                let o = conditions.wokenFlat[j]
                j += 1
                if conditions.wake(o) { evaluate(op: o, device: d, at: t) }
            }
        }
        buffer.free(r.slot)
    }

    /// Re-decides the inventory-only `where` of rules reading `slot` after telemetry changed it;
    /// a device leaving a rule's scope resolves its open alert.
    private mutating func rescope(device d: Int, slot: Int, at t: Double) {
        attributeChanges &+= 1
        guard let ops = program.staticScopesBySlot[slot] else { return }
        for o in ops {
            guard let scope = conditions.program[o]?.scope else { continue }
            currentDevice = d
            stamp += 1
            now = t
            var inside = false
            if case .bool(true)? = scope.evaluate(&self) { inside = true }
            let k = opKey(o, d)
            if conditions.applies[k], !inside { leaveScope(op: o, device: d, at: t) }
            conditions.applies[k] = inside
        }
    }

    private mutating func holds(_ kernel: EngineProgram.Kernel, device d: Int, at t: Double) -> Bool {
        stamp += 1
        currentDevice = d
        now = t
        switch kernel {
        case .threshold(let a, let op, let value):
            return thresholdHolds(a, op, value, device: d, at: t)
        case .all(let parts):
            return parts.allSatisfy { thresholdHolds($0.aggregate, $0.op, $0.value, device: d, at: t) }
        case .any(let parts):
            return parts.contains { thresholdHolds($0.aggregate, $0.op, $0.value, device: d, at: t) }
        case .general(let e):
            return e.truth(&self) == 1
        }
    }

    private mutating func evaluate(op o: Int, device d: Int, at t: Double) {
        guard conditions.active[o] else { return }
        let k = opKey(o, d)
        if !conditions.applies[k] { return }
        if let scope = conditions.dynamicScope[o] {
            guard case .bool(true)? = value(scope, device: d, at: t) else {
                leaveScope(op: o, device: d, at: t)
                return
            }
        }
        // Outside its `active_during` intervals the rule does not apply; a timer at the end of
        // the interval resolves what it left firing or pending there.
        var activeUntil = Double.infinity
        if schedules.anyActive, schedules.activeIndex[o] >= 0 {
            let (inside, until) = schedules.stretch(op: o, at: t)
            guard inside else {
                leaveScope(op: o, device: d, at: t)
                // A rule with `absent`/`age` clocks must look at a silent device when its
                // interval starts again: one timer at that start per device.
                if conditions.clockColumn[o] >= 0, schedules.armResume(op: o, device: d, at: until) {
                    timers.schedule(at: until, device: d, op: o)
                }
                return
            }
            activeUntil = until
        }
        let wasIdle = activeUntil.isFinite && conditions.phase[k] == .idle
        let holding: Bool
        let threshold = conditions.thresholdAggregate[o]
        if threshold >= 0 {
            // The common shape `fn(metric[, w]) <op> number`, without the expression interpreter.
            stamp += 1
            holding = thresholdHolds(
                threshold, conditions.thresholdOperator[o], conditions.thresholdValue[o], device: d, at: t)
        } else {
            guard let condition = conditions.condition[o] else {
                if severityLevels.column[o] >= 0 {
                    evaluateLevels(op: o, device: d, at: t)
                } else if debounce.column[o] >= 0 {
                    evaluateDebounced(op: o, device: d, at: t)
                }
                return
            }
            holding = holds(condition, device: d, at: t)
        }
        switch conditions.step(op: o, key: k, device: d, holding: holding, at: t, timers: &timers) {
        case .stay: break
        case .fire(let start): fire(op: o, device: d, since: start, at: t)
        case .resolve: resolve(op: o, device: d, at: t)
        case .checkClear:
            if let clear = conditions.clear[o], holds(clear, device: d, at: t) { resolve(op: o, device: d, at: t) }
        }
        if wasIdle, conditions.phase[k] != .idle { timers.schedule(at: activeUntil, device: d, op: o) }
        if conditions.clockColumn[o] >= 0 {
            conditions.armClock(op: o, device: d, at: t, metrics: metrics, timers: &timers)
        }
    }

    /// Moves an alert's levels for a device (`SeverityLevels`): the alert opens at the first
    /// level reached, changes severity with the highest level reached, resolves with none.
    private mutating func evaluateLevels(op o: Int, device d: Int, at t: Double) {
        let c = severityLevels.column[o]
        var when: UInt32 = 0
        var clear: UInt32 = 0
        for (i, level) in severityLevels.levels[c].enumerated() {
            if holds(level.condition, device: d, at: t) { when |= 1 << i }
            if let cl = level.clear, holds(cl, device: d, at: t) { clear |= 1 << i }
        }
        switch severityLevels.step(column: c, op: o, device: d, when: when, clear: clear, at: t, timers: &timers) {
        case .stay: break
        case .open(let i, let start):
            fire(op: o, device: d, since: start, at: t, severity: severityLevels.levels[c][i].severity)
        case .change(let i, let at):
            let e = Int(conditions.openEpisode[opKey(o, d)])
            let severity = severityLevels.levels[c][i].severity
            if e >= 0 {
                let (v, isDuration) = alertValue(op: o, device: d, at: t)
                let text = alertText.summary(
                    op: o, device: d, row: attributes[d], value: v, duration: isDuration,
                    extra: ["severity": severity.rawValue])
                log.changeSeverity(e, to: severity, value: v, summary: text, at: at)
            }
        case .resolve: resolve(op: o, device: d, at: t)
        }
        if conditions.clockColumn[o] >= 0 {
            conditions.armClock(op: o, device: d, at: t, metrics: metrics, timers: &timers)
        }
    }

    /// Moves an alert with a counted `for` or a `clear_for` for a device (`DebounceCounters`).
    private mutating func evaluateDebounced(op o: Int, device d: Int, at t: Double) {
        let c = debounce.column[o]
        let holding = holds(debounce.condition[c], device: d, at: t)
        let cleared = debounce.clear[c].map { holds($0, device: d, at: t) } ?? !holding
        let outcome = debounce.step(
            column: c, op: o, device: d, holding: holding, cleared: cleared, reading: !timerEvaluation, at: t,
            timers: &timers)
        switch outcome {
        case .stay: break
        case .fire(let start):
            fire(op: o, device: d, since: start, at: t)
            debounce.markFiring(column: c, device: d)
        case .resolve:
            resolve(op: o, device: d, at: t)
            debounce.reset(column: c, device: d)
        }
        if conditions.clockColumn[o] >= 0 {
            conditions.armClock(op: o, device: d, at: t, metrics: metrics, timers: &timers)
        }
    }

    /// A device leaving a rule's scope: its alert resolves, a pending `for` starts over.
    private mutating func leaveScope(op o: Int, device d: Int, at t: Double) {
        let k = opKey(o, d)
        if severityLevels.column[o] >= 0 { severityLevels.reset(column: severityLevels.column[o], device: d) }
        if debounce.column[o] >= 0 { debounce.reset(column: debounce.column[o], device: d) }
        if conditions.phase[k] == .firing {
            resolve(op: o, device: d, at: t)
        } else {
            _ = conditions.markIdle(k)
        }
    }

    private mutating func value(_ e: RuntimeExpression, device d: Int, at t: Double) -> RuntimeValue? {
        stamp += 1
        currentDevice = d
        now = t
        return e.evaluate(&self)
    }

    // MARK: alerts

    private mutating func fire(
        op o: Int, device d: Int, since start: Double, at t: Double, severity: AlertSeverity? = nil
    ) {
        let (v, valueIsDuration) = alertValue(op: o, device: d, at: t)
        // Fields are read through `plan.operators[o].rule` rather than a copy of the rule.
        let text = alertText.summary(
            op: o, device: d, row: attributes[d], value: v, duration: valueIsDuration,
            extra: severity.map { ["severity": $0.rawValue] } ?? [:])
        var episode = AlertEpisode(
            rule: plan.operators[o].rule.id, kind: plan.operators[o].rule.kind, pack: plan.operators[o].rule.pack,
            device: inventory.rows[d][0], severity: severity ?? plan.operators[o].rule.severity, since: start,
            until: nil, value: v,
            summary: text, labels: plan.operators[o].rule.labels, evidence: program.ruleEvidence[o],
            maintenance: plan.operators[o].rule.maintenance,
            inhibitedBy: analyses.inhibitsAny ? analyses.inhibition(op: o, device: d, log: log) : nil)
        if schedules.anyMute { episode.muted = mutingInterval(op: o, device: d, at: start) }
        conditions.markFiring(opKey(o, d), since: start, episode: log.open(episode, at: start))
    }

    /// The `mute_during` interval that mutes an alert of operator `o` opening at `t` for device `d`.
    private mutating func mutingInterval(op o: Int, device d: Int, at t: Double) -> String? {
        for (interval, scope) in schedules.mutes[o] where interval.contains(t) {
            if let scope {
                guard case .bool(true)? = value(scope, device: d, at: t) else { continue }
            }
            return interval.name
        }
        return nil
    }

    /// The value an alert shows: its condition's first window, and whether it is a duration.
    private mutating func alertValue(op o: Int, device d: Int, at t: Double) -> (Double?, Bool) {
        guard let a = program.operators[o]?.valueAggregate else { return (nil, false) }
        switch aggregateValueUpdating(a, device: d, at: t) {
        case .number(let n)?: return (n, false)
        case .duration(let s)?: return (s, true)
        default: return (nil, false)
        }
    }

    private mutating func resolve(op o: Int, device d: Int, at t: Double) {
        let e = conditions.markIdle(opKey(o, d))
        guard e >= 0 else { return }
        log.resolve(e, at: t)
    }

    /// Numbers in summaries and tables: at most two decimals, no trailing zeros.
    static func format(_ v: Double) -> String { NumberText.format(v) }

    // MARK: analyzers

    /// Ticks every analyzer at each of its boundaries up to and including `t`, in time order.
    private mutating func runTicks(upTo t: Double) {
        let inputs = analysisInputs
        analyses.runTicks(upTo: t, inputs, log: &log, now: now)
    }

    /// What analyzers see of the engine at a tick or at the end.
    private var analysisInputs: AnalysisInputs {
        AnalysisInputs(
            plan: plan, inventory: inventory, attributes: attributes, attributeSlots: program.attributeSlots,
            gatewayNames: gatewayNames, deviceGateway: deviceGateway, seen: seen, applies: conditions.applies,
            operatorCount: opCount, metrics: metrics, program: program, attributeChanges: attributeChanges)
    }

    /// Whether forecast rules keep a daily snapshot per device for the report (`forecasts`),
    /// besides each device's latest forecast: what accuracy scoring and trend plots need.
    public var forecastHistory = false {
        didSet {
            analyses.setForecastHistory(forecastHistory)
        }
    }

    /// What the engine has to say so far, for `Report(assembling:)`: episodes, input counts,
    /// compliance states at the end of the data and the analyses' sections.
    public func output() -> EngineOutput {
        let end = stats.lastTimestamp ?? 0
        var versions: [String: [String?]] = [:]
        for tracker in compliance.trackers {
            let rule = plan.operators[tracker.operatorIndex].rule.id
            if versions[rule] == nil { versions[rule] = tracker.version }
        }
        return EngineOutput(
            plan: plan, inventory: inventory, stats: stats, episodes: episodes, devicesSeen: devicesSeen,
            analyses: analyses.sections(analysisInputs, fallback: end), compliance: complianceStates(at: end),
            complianceVersions: versions, attributes: attributes, attributeSlots: program.attributeSlots)
    }

    // MARK: compliance

    /// Per compliance rule: every applicable device's state at event time `t`.
    func complianceStates(at t: Double) -> [(rule: String, states: [(device: Int, state: ComplianceState)])] {
        compliance.states(at: t, plan: plan, attributes: attributes)
    }

    /// The version a device reports under a compliance rule's attribute.
    func complianceVersion(rule: String, device d: Int) -> String? {
        compliance.version(rule: rule, device: d, plan: plan)
    }

    // MARK: inputs

    @inline(__always) func opKey(_ o: Int, _ d: Int) -> Int { d * opCount + o }

    func aggregateValue(_ id: Int, device d: Int, at t: Double) -> RuntimeValue? {
        metrics.aggregateValue(id, device: d, at: t)
    }

    /// `aggregate <op> value` for the threshold kernels; a missing value holds nothing, as in the
    /// interpreter's three-valued logic.
    @inline(__always)
    private mutating func thresholdHolds(
        _ aggregate: Int, _ op: ComparisonOperator, _ value: Double, device d: Int, at t: Double
    ) -> Bool {
        let v = metrics.number(aggregate, device: d, at: t)
        return !v.isNaN && RuntimeExpression.order(op, v, value)
    }

    /// Like `aggregateValue`, but reads (and advances) the running sums where the function has them.
    mutating func aggregateValueUpdating(_ id: Int, device d: Int, at t: Double) -> RuntimeValue? {
        metrics.aggregateValueUpdating(id, device: d, at: t)
    }

    // MARK: queries for reports

    /// Attribute value of a device by name ("" when unknown).
    public func attribute(_ name: String, device: String) -> String {
        guard let d = inventory.deviceIndex[device], let slot = program.attributeSlots[name] else { return "" }
        return attributes[d][slot]
    }

    /// Number of inventory devices that sent at least one accepted reading.
    public var devicesSeen: Int { seen.count { $0 } }

    /// Devices a rule applies to (by its static `where`), for the "fires for most devices" check.
    public func applicableDevices(rule index: Int) -> Int {
        (0..<n).count { conditions.applies[opKey(index, $0)] }
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
        let v = aggregateValueUpdating(id, device: currentDevice, at: now)
        memoStamp[id] = stamp
        memoValue[id] = v
        return v
    }
}
