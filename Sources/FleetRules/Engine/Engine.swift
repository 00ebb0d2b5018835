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
/// State is kept struct-of-arrays: per metric and per operator one flat array indexed
/// `metric * devices + device`, so a device costs a few dozen bytes per threshold rule.
public struct Engine: Sendable {
    public let plan: EvaluationPlan
    public let inventory: Inventory
    let program: EngineProgram
    let n: Int
    /// Operators and metrics of the plan: the strides of the flat per-device state.
    let opCount: Int
    let metricCount: Int
    // Hot parts of the program, held directly so the inner loop does not go through the class.
    private let operators: [EngineProgram.Operator?]
    private let opActive: [Bool]
    private let opCondition: [EngineProgram.Kernel?]
    private let opClear: [EngineProgram.Kernel?]
    private let opDynamicScope: [RuntimeExpression?]
    private let opFor: [Double]
    /// Per operator, its absent/age clocks as (metric, after) pairs, flat: operator `o` owns
    /// `clockStart[o]..<clockStart[o + 1]`.
    private let clockMetric: [Int]
    private let clockAfter: [Double]
    private let clockStart: [Int]
    private let ringMetric: [Bool]
    private let aggregateMetric: [Int]
    private let aggregateFunction: [WindowFunction]
    private let aggregateWidth: [Double]
    private let runningIndex: [Int]
    private let runningStart: [Int]
    private let runningWidth: [Double]
    private let runningSlope: [Bool]
    private let runningTotal: Int
    private let retention: [Double]
    /// Per metric, the capacity a device's ring starts with once it reports: enough for its
    /// retention at the declared interval, up to 64 points (a day of 5-minute readings then
    /// doubles three times instead of seven; memory is touched as history accumulates).
    private let ringCapacity: [Int]
    /// Operators woken by each metric, flattened: `opsForMetricFlat[opsForMetricStart[m]..<opsForMetricStart[m + 1]]`.
    private let opsForMetricFlat: [Int]
    private let opsForMetricStart: [Int]
    /// Threshold kernels as plain arrays (aggregate −1: not a threshold), read without copying enums.
    private let opThresholdAggregate: [Int]
    private let opThresholdOperator: [ComparisonOperator]
    private let opThresholdValue: [Double]

    // Devices.
    private(set) var attributes: [[String]]
    private var seen: [Bool]
    /// The gateway each device was last heard through (index into `gatewayNames`, -1: none yet).
    private var deviceGateway: [Int32]

    // Metric state, flat [device * metricCount + metric]: one device's values share cache lines.
    private var lastValue: [Double]
    private var lastTime: [Double]
    private var rings: [WindowRing]
    /// Running window sums, flat [device * runningTotal + running window].
    private var running: [RunningWindow]

    // Operator state, flat [device * opCount + operator]: a reading touches one device's rows.
    private(set) var applies: [Bool]
    private(set) var phase: [UInt8]
    private(set) var since: [Double]
    private(set) var openEpisode: [Int32]
    /// Per (device, operator with clocks): the time its absent/age timer is armed for (-inf: none),
    /// so each keeps one pending timer. Only the few
    /// operators with `absent`/`age` clocks have a column (`clockColumn`), so a device's row is
    /// one cache line.
    private var clockArmed: [Double]
    private let clockColumn: [Int]
    private let clockColumns: Int
    private var opStamp: [Int]
    private var readingStamp = 0
    /// Compliance rules, and per operator its index in `compliance` (-1 for other kinds).
    private var compliance: [ComplianceTracker] = []
    private var complianceIndex: [Int]
    private var dataStart: Double?
    /// Fleet-level analyses (forecast, drift, correlation, balance), fed in event time.
    private var analyzers = AnalyzerSet()
    /// Analyzers wanting every reading's gateway.
    /// The analyzers reading each metric, flattened for the ingest loop: metric m's are
    /// `analyzerFlat[analyzerStart[m]..<analyzerStart[m + 1]]`.
    private var analyzerFlat: [Int] = []
    private var analyzerStart: [Int] = []
    private var readingAnalyzers: [Int] = []
    /// Every analyzer a reading may feed, whatever its metrics: what `prefetchState` asks the
    /// cache for (reading the queued reading's metrics first would itself be a cache miss).
    private var prefetchedAnalyzers: [Int] = []
    /// Per analyzer, the offset of its operator's rows in `applies`, or -1 when it observes every device.
    private var analyzerScope: [Int] = []
    private var analyzerNextTick: [Double] = []
    private var nextTick = Double.infinity
    /// Open analyzer findings: "operator␟key" → episode index.
    private var analysisOpen: [String: Int] = [:]

    // Reorder buffer: in-order arrivals queue up in `fifo`; stragglers go to a heap.
    private struct Pending: Sendable, Comparable {
        static func < (a: Pending, b: Pending) -> Bool { (a.time, a.sequence) < (b.time, b.sequence) }
        static func == (a: Pending, b: Pending) -> Bool { a.sequence == b.sequence }
        var time: Double
        var sequence: Int
        var device: Int32
        var gateway: Int32
        var slot: Int32
        var count: Int32
        var hasStrings: Bool
        /// It arrived more than `maxForwardJump` ahead of the fleet's time (or was the first
        /// reading, with no fleet's time to judge it by), so it may be rejected as `future`: its
        /// timestamp joins the data's span and its dropped values are counted when it is
        /// evaluated; its origin and dropped values wait in `heldLines` until then.
        var heldAhead: Bool
    }
    private var fifo: [Pending] = []
    private var fifoHead = 0
    private var stragglers = MinHeap<Pending>()
    private var lastQueued = -Double.infinity
    // Values of pending readings: fixed-size slots of `slotSize` (metric, value) pairs.
    private let slotSize: Int
    private var poolMetric: [Int32] = []
    private var poolValue: [Double] = []
    private var freeSlots: [Int32] = []
    private var pendingStrings: [Int: [(slot: Int, value: String)]] = [:]
    private var gatewayNames: [String] = []
    private var gatewayIndex: [String: Int32] = [:]

    private struct Timer: Sendable, Comparable {
        static func < (a: Timer, b: Timer) -> Bool { (a.time, a.device, a.op) < (b.time, b.device, b.op) }
        var time: Double
        var device: Int
        var op: Int
    }
    private var timers = MinHeap<Timer>()
    private var sequence = 0
    /// How far the fleet has got in event time (see `updateFleetTime`); nil before any reading.
    private var fleetTime: Double?
    /// The time `advance(to:)` last moved event time to: the fleet's time is never behind it.
    private var advancedTo = -Double.infinity
    /// The last `recentCapacity` accepted readings (device, timestamp), a ring: the votes for the fleet's time.
    private var recentDevice: [Int32]
    private var recentTime: [Double]
    private static let recentCapacity = 256
    /// Scratch for `updateFleetTime`: an open-addressing table (twice the ring) from a device to
    /// its vote, the votes with their devices, and the newest votes in descending order.
    private var voteTable = [Int32](repeating: -1, count: 2 * Engine.recentCapacity)
    private var voteDevice: [Int32] = []
    private var votes: [Double] = []
    private var newestVotes: [Double] = []
    private var observed = 0
    /// Readings more than `maxForwardJump` ahead of the fleet's time when they arrived, in arrival
    /// order, apart from the reorder buffer until the fleet's time comes within `maxForwardJump`
    /// of them; each with the value of `observed` at which it is rejected as `future` if the fleet's
    /// time has not (see `reviewHeld`).
    private var held: [(reading: Pending, expires: Int)] = []
    /// What a line marked `Pending.heldAhead` left to count, by sequence: its origin (for the
    /// `future` example) and the values dropped from it (counted only if it is evaluated).
    private struct HeldLine: Sendable {
        var origin: ReadingOrigin?
        var drops: [InputStats.Example]
    }
    private var heldLines: [Int: HeldLine] = [:]
    /// Readings held now, waiting for the fleet's time to come within `maxForwardJump` of them.
    var heldCount: Int { held.count }
    /// The earliest and latest timestamps of the readings evaluated: the data's span at the end.
    private var evaluatedFirst = Double.infinity
    private var evaluatedLast = -Double.infinity
    /// Analyzers tick no later than this: the fleet's time at the end of the data, once `finish`
    /// has fixed it, so readings from a clock ahead evaluated after it do not move their end.
    private var analysisEnd = Double.infinity
    /// Event time of the latest reading or timer evaluated: readings before it are late.
    private var frontier = -Double.infinity
    private var clocksStarted = false

    /// A reading more than this ahead of the fleet's time is held without moving it: it is
    /// evaluated if the fleet comes within this of it by the end of the data (a fleet that
    /// comes back together after a gap), and rejected as `future` otherwise (one clock far
    /// ahead). `.infinity` (a live service, which judges against the wall clock) holds such
    /// readings until the fleet reaches them, with no verdict.
    public var maxForwardJump: Double = 86400
    /// How far ahead of the wall clock a device's clock may run.
    public static let allowedClockSkew: Double = 86400
    /// Readings later than this (the wall clock at start-up plus `allowedClockSkew`; a live
    /// service moves it with the wall clock) are rejected as `future` as they arrive.
    public var wallClockLimit: Double = Date().timeIntervalSince1970 + Engine.allowedClockSkew
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
    private var scratchValues: [(Int, Double)] = []
    private var scratchNonNumeric: String?

    public init(plan: EvaluationPlan, inventory: Inventory) {
        self.plan = plan
        self.inventory = inventory
        let program = EngineProgram(plan: plan, inventory: inventory)
        self.program = program
        operators = program.operators
        opActive = program.operators.map { $0 != nil }
        opCondition = program.operators.map { $0?.condition }
        opClear = program.operators.map { $0?.clear }
        opDynamicScope = program.operators.map { op in op.flatMap { $0.staticScope ? nil : $0.scope } }
        opFor = program.operators.map { $0?.forDuration ?? 0 }
        let clocks = program.operators.map { $0?.clocks ?? [] }
        clockMetric = clocks.flatMap { $0.map(\.metric) }
        clockAfter = clocks.flatMap { $0.map(\.after) }
        clockStart = clocks.reduce(into: [0]) { $0.append($0[$0.count - 1] + $1.count) }
        ringMetric = program.ringMetric
        aggregateMetric = program.aggregateMetric
        aggregateFunction = program.aggregateFunction
        aggregateWidth = program.aggregateWidth
        runningIndex = program.runningIndex
        runningStart = program.runningStart
        runningWidth = program.runningWidth
        runningSlope = program.runningSlope
        runningTotal = program.runningWidth.count
        retention = plan.retention
        ringCapacity = plan.metrics.indices.map { m in
            guard plan.retention[m] > 0 else { return 0 }
            // Without a declared interval the guess stays small: rings grow as readings come.
            let interval = plan.metrics[m].interval ?? EvaluationPlan.assumedInterval
            // Clamped before converting: a window of centuries must not trap.
            let points = Int(min(64, (plan.retention[m] / max(1, interval)).rounded(.up) + 2))
            return plan.metrics[m].interval == nil ? min(points, 16) : points
        }
        var flat: [Int] = []
        var starts: [Int] = [0]
        for list in program.operatorsForMetric {
            flat += list
            starts.append(flat.count)
        }
        opsForMetricFlat = flat
        opsForMetricStart = starts
        var thresholdAggregate: [Int] = []
        var thresholdOperator: [ComparisonOperator] = []
        var thresholdValue: [Double] = []
        for op in program.operators {
            if case .threshold(let a, let cmp, let v)? = op?.condition {
                thresholdAggregate.append(a)
                thresholdOperator.append(cmp)
                thresholdValue.append(v)
            } else {
                thresholdAggregate.append(-1)
                thresholdOperator.append(.equal)
                thresholdValue.append(0)
            }
        }
        opThresholdAggregate = thresholdAggregate
        opThresholdOperator = thresholdOperator
        opThresholdValue = thresholdValue
        let n = inventory.count
        self.n = n
        let width = program.attributeCount
        attributes = inventory.rows.map { $0 + Array(repeating: "", count: max(0, width - $0.count)) }
        seen = Array(repeating: false, count: n)
        recentDevice = Array(repeating: 0, count: Self.recentCapacity)
        recentTime = Array(repeating: 0, count: Self.recentCapacity)
        deviceGateway = Array(repeating: -1, count: n)
        let m = plan.metrics.count
        metricCount = m
        lastValue = Array(repeating: .nan, count: m * n)
        lastTime = Array(repeating: -.infinity, count: m * n)
        rings = Array(repeating: WindowRing(), count: program.ringMetric.contains(true) ? m * n : 0)
        running = Array(repeating: RunningWindow(), count: n * program.runningWidth.count)
        slotSize = max(1, m)
        memoStamp = Array(repeating: -1, count: plan.aggregates.count)
        memoValue = Array(repeating: nil, count: plan.aggregates.count)
        let ops = plan.operators.count
        opCount = ops
        phase = Array(repeating: 0, count: ops * n)
        since = Array(repeating: 0, count: ops * n)
        openEpisode = Array(repeating: -1, count: ops * n)
        var columns = 0
        clockColumn = program.operators.map { op in
            guard let op, !op.clocks.isEmpty else { return -1 }
            columns += 1
            return columns - 1
        }
        clockColumns = columns
        clockArmed = Array(repeating: -.infinity, count: columns * n)
        opStamp = Array(repeating: -1, count: ops)
        applies = Array(repeating: true, count: ops * n)
        complianceIndex = Array(repeating: -1, count: ops)
        for (o, op) in program.operators.enumerated() {
            guard let op, op.staticScope, let scope = op.scope else { continue }
            for d in 0..<n {
                currentDevice = d
                if case .bool(true)? = scope.evaluate(&self) {} else { applies[opKey(o, d)] = false }
            }
        }
        setUpCompliance()
        setUpAnalyzers()
        let bytesPerDevice =
            opCount * 14 + clockColumns * 8 + metricCount * (16 + MemoryLayout<WindowRing>.stride)
            + runningTotal * MemoryLayout<RunningWindow>.stride
        prefetching = !analyzers.isEmpty || runningTotal > 0 || n * bytesPerDevice > Self.cacheBytes
    }

    /// Roughly the last-level cache a core can count on (the CI machine has 32 MB shared).
    static let cacheBytes = 4 << 20

    private mutating func setUpAnalyzers() {
        var analyzersForMetric = Array(repeating: [Int](), count: plan.metrics.count)
        for (o, op) in plan.operators.enumerated() {
            guard case .analysis = op.evaluation,
                let analyzer = Analyzers.make(plan: plan, operator: o, inventory: inventory)
            else { continue }
            if let scope = op.rule.scope.map(program.lower) {
                for d in 0..<n {
                    currentDevice = d
                    if case .bool(true)? = scope.evaluate(&self) {} else { applies[opKey(o, d)] = false }
                }
            }
            let a = analyzers.count
            for m in analyzer.metrics where m >= 0 && m < analyzersForMetric.count { analyzersForMetric[m].append(a) }
            if analyzer.wantsReadings { readingAnalyzers.append(a) }
            analyzerNextTick.append(analyzer.tickInterval > 0 ? -.infinity : .infinity)
            analyzerScope.append(analyzer.observesApplicableOnly ? o : -1)
            analyzers.append(analyzer)
        }
        analyzerStart = [0]
        for list in analyzersForMetric {
            analyzerFlat += list
            analyzerStart.append(analyzerFlat.count)
        }
        prefetchedAnalyzers = Array(Set(readingAnalyzers + analyzerFlat)).sorted()
        // Ticking analyzers start at the first reading (their first boundary is placed then).
        nextTick = analyzerNextTick.min() ?? .infinity
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
            complianceIndex[o] = compliance.count
            compliance.append(
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
    public mutating func ingest(time: Double, device: DeviceHandle, metric: MetricHandle, value: Double) -> RejectReason? {
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

    /// Fast path for the file decoder: field ids map to metrics and attribute slots via `fields`.
    mutating func ingest(
        _ line: inout DecodedLine, fields: inout FieldMapping, names: ByteInterner, origin: ReadingOrigin?
    ) {
        if fields.metric.count < names.count { fields.update(names, plan: plan, slots: program.attributeSlots) }
        if line.gateway != nil { fields.gatewaySeen += 1 }
        guard let d = fields.devices.find(line.device) else {
            // The names in a line count for `check --data` even when its device is unknown.
            for (f, _) in line.numbers { fields.counts[f] += 1 }
            for (f, _) in line.strings { fields.counts[f] += 1 }
            stats.reject(
                .unknownDevice, "device '\(String(decoding: line.device, as: UTF8.self))' is not in the inventory",
                origin)
            return
        }
        scratchValues.removeAll(keepingCapacity: true)
        for (f, v) in line.numbers {
            fields.counts[f] += 1
            let m = fields.metric[f]
            if m >= 0 { scratchValues.append((m, v)) }
        }
        var strings: [(Int, String)] = []
        for (f, v) in line.strings {
            fields.counts[f] += 1
            if fields.metric[f] >= 0 {
                scratchNonNumeric = "metric '\(names.names[f])' has the non-numeric value '\(v)'"
                continue
            }
            let s = fields.slot[f]
            if s >= 0 { strings.append((s, v)) }
        }
        var gateway: Int32 = -1
        if let bytes = line.gateway {
            // Gateway names are interned by their bytes: no String per reading.
            let local = fields.gateways.intern(bytes)
            while fields.gatewayID.count <= local { fields.gatewayID.append(-1) }
            if fields.gatewayID[local] < 0 { fields.gatewayID[local] = gatewayID(fields.gateways.names[local]) }
            gateway = fields.gatewayID[local]
        }
        accept(time: line.timestamp, device: d, gateway: gateway, strings: strings, origin: origin)
    }

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
        guard t.isFinite, t >= earliestAccepted else {
            stats.reject(.tooOld, "timestamp \(t.isFinite ? Timestamp.format(t) : "\(t)") is before 2000-01-01", origin)
            return .tooOld
        }
        if t > wallClockLimit {
            stats.reject(
                .future,
                "timestamp \(Timestamp.format(t)) is more than \(DurationText.format(Self.allowedClockSkew)) ahead of the current time",
                origin)
            return .future
        }
        // Late means: events after it were already processed. Everything within `lateness` of the
        // fleet's time is safe; a device whose clock runs ahead cannot push the others out.
        if t < frontier {
            stats.reject(
                .late,
                "reading at \(Timestamp.format(t)) arrived after events up to \(Timestamp.format(frontier)) were evaluated (lateness \(DurationText.format(plan.lateness)))",
                origin)
            return .late
        }
        var outOfRange: (metric: Int, value: Double)?
        var kept = 0
        for i in scratchValues.indices {
            let (m, v) = scratchValues[i]
            if !(v >= program.rangeLow[m] && v <= program.rangeHigh[m]) {
                if outOfRange == nil { outOfRange = (m, v) }
                continue
            }
            if kept < slotSize {
                scratchValues[kept] = (m, v)
                kept += 1
            }
        }
        // A line with nothing usable left is rejected under its reason; a line that keeps some
        // values is a reading, and the values it lost are counted apart.
        if kept == 0, strings.isEmpty, outOfRange != nil || nonNumeric != nil {
            let (reason, message): (RejectReason, String) =
                outOfRange.map {
                    (.outOfRange, Self.rangeMessage(plan.metrics[$0.metric].name, $0.value, program.rangeLow[$0.metric], program.rangeHigh[$0.metric]))
                } ?? (.nonNumeric, nonNumeric ?? "")
            stats.reject(reason, message, origin)
            return reason
        }
        stats.readings += 1
        // Far ahead of the fleet, or the first reading (no fleet's time yet to judge it by): it
        // may turn out to be one clock far ahead and be rejected as `future`, so its timestamp
        // and dropped values are counted only if it is evaluated.
        let heldAhead = maxForwardJump.isFinite && t > (fleetTime ?? -.infinity) + maxForwardJump
        var drops: [InputStats.Example] = []
        if let (m, v) = outOfRange {
            let name = plan.metrics[m].name
            let (low, high) = (program.rangeLow[m], program.rangeHigh[m])
            if heldAhead {
                drops.append(.init(reason: .outOfRange, origin: origin, message: Self.rangeMessage(name, v, low, high)))
            } else {
                stats.dropValue(.outOfRange, Self.rangeMessage(name, v, low, high), origin)
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
        sequence += 1
        if heldAhead, origin != nil || !drops.isEmpty { heldLines[sequence] = HeldLine(origin: origin, drops: drops) }
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slot = Int32(poolMetric.count / slotSize)
            poolMetric.append(contentsOf: repeatElement(0, count: slotSize))
            poolValue.append(contentsOf: repeatElement(0, count: slotSize))
        }
        let base = Int(slot) * slotSize
        for i in 0..<kept {
            poolMetric[base + i] = Int32(scratchValues[i].0)
            poolValue[base + i] = scratchValues[i].1
        }
        if !strings.isEmpty { pendingStrings[sequence] = strings }
        let p = Pending(
            time: t, sequence: sequence, device: Int32(d), gateway: g, slot: slot, count: Int32(kept),
            hasStrings: !strings.isEmpty, heldAhead: heldAhead)
        if heldAhead {
            held.append((p, observed + 1 + Self.recentCapacity))
        } else {
            enqueue(p)
        }
        observe(t, device: d)
        release(upTo: watermark)
        return outOfRange != nil ? .outOfRange : nil
    }

    private static func rangeMessage(_ name: String, _ v: Double, _ low: Double, _ high: Double) -> String {
        "\(name) = \(JSONValue.format(v)) is outside [\(JSONValue.format(low)), \(JSONValue.format(high))]"
    }

    /// The engine's index of a gateway name, registering it when new.
    private mutating func gatewayID(_ name: String) -> Int32 {
        if let known = gatewayIndex[name] { return known }
        let g = Int32(gatewayNames.count)
        gatewayIndex[name] = g
        gatewayNames.append(name)
        return g
    }

    /// Queues an accepted reading. In-order readings go to the FIFO, the rest to the straggler
    /// heap; processing merges both by (time, sequence), so the split only decides speed. A clock
    /// running ahead of the fleet must not make the FIFO's tail so late that everyone else's
    /// readings go to the heap: when an earlier reading arrives behind such a tail, the tail
    /// moves to the heap instead.
    private mutating func enqueue(_ p: Pending) {
        if p.time < lastQueued {
            let fleet = fleetTime ?? -.infinity
            while fifo.count > fifoHead, let last = fifo.last, last.time > p.time, last.time > fleet {
                stragglers.push(last)
                fifo.removeLast()
            }
            lastQueued = fifo.count > fifoHead ? fifo[fifo.count - 1].time : -.infinity
        }
        if p.time >= lastQueued {
            fifo.append(p)
            lastQueued = p.time
        } else {
            stragglers.push(p)
        }
    }

    /// Records an accepted reading as a vote for the fleet's time, which is recomputed often
    /// enough to follow the fleet within a fraction of one reporting round: after every reading
    /// at first, then every `n / 8` readings (at most 1,024).
    private mutating func observe(_ t: Double, device d: Int) {
        let slot = observed & (Self.recentCapacity - 1)
        recentDevice[slot] = Int32(d)
        recentTime[slot] = t
        observed += 1
        if observed <= Self.recentCapacity || observed % max(1, min(1024, n / 8)) == 0 { updateFleetTime() }
    }

    /// The fleet's time: how far the devices that reported recently have got. Each device behind
    /// the last 256 accepted readings votes once, with its newest timestamp among them; the
    /// fleet's time is the 90th percentile of the votes: the newest time reached by more than a
    /// tenth of them (the second newest vote when three to nineteen devices vote, the newer of
    /// two). So a tenth of the reporting devices may run ahead without moving it, one clock never
    /// moves it alone (unless only two devices report), devices that fell silent do not hold it
    /// back, and a whole fleet coming back after a gap moves it as soon as more than a tenth of
    /// the votes are past the gap. While streaming, until 256 readings or every device of the
    /// inventory have been seen, it is the oldest vote, so the first devices to report cannot
    /// set it ahead of the rest (at the end of the data, `finish`, the 90th percentile applies).
    /// It may go back a little (readings are only roughly in order); nothing evaluated is undone.
    /// Cost per recomputation: one pass over the ring with a small hash table, and a selection
    /// of the k-th newest vote (k ≤ 26).
    private mutating func updateFleetTime(atEnd: Bool = false) {
        let count = min(observed, Self.recentCapacity)
        guard count > 0 else { return }
        for i in voteTable.indices { voteTable[i] = -1 }
        votes.removeAll(keepingCapacity: true)
        voteDevice.removeAll(keepingCapacity: true)
        let mask = voteTable.count - 1
        for i in 0..<count {
            let d = recentDevice[i]
            let t = recentTime[i]
            // Fibonacci hashing into the table's 512 slots; linear probing.
            var h = Int((UInt32(bitPattern: d) &* 2_654_435_761) >> 23) & mask
            while true {
                let v = Int(voteTable[h])
                if v < 0 {
                    voteTable[h] = Int32(votes.count)
                    votes.append(t)
                    voteDevice.append(d)
                    break
                }
                if voteDevice[v] == d {
                    votes[v] = max(votes[v], t)
                    break
                }
                h = (h + 1) & mask
            }
        }
        let fleet: Double
        if !atEnd, observed < Self.recentCapacity, votes.count < n {
            // Warming up: the oldest vote, so the first devices to report cannot set it ahead of the rest.
            fleet = votes.min() ?? recentTime[0]
        } else {
            let ignored = votes.count >= 3 ? max(1, votes.count / 10) : 0
            fleet = Self.largest(ignored + 1, of: votes, keeping: &newestVotes)
        }
        fleetTime = max(fleet, advancedTo)
        reviewHeld()
    }

    /// Moves the held readings the fleet's time has come within `maxForwardJump` of to the
    /// reorder buffer, and rejects as `future` those still further ahead once 256 more readings
    /// have been accepted after them: by then every vote for the fleet's time was cast after
    /// them, so they come from one clock far ahead, not from the first devices of a fleet coming
    /// back after a gap (more than a tenth of the votes past the gap move the fleet's time at the
    /// next recomputation). So at most the readings of 256 + 1,024 arrivals are held at once,
    /// however long the data. Cost: one pass over the held readings per recomputation.
    private mutating func reviewHeld() {
        guard !held.isEmpty, let fleet = fleetTime else { return }
        var kept = 0
        for i in held.indices {
            let h = held[i]
            if h.reading.time <= fleet + maxForwardJump {
                enqueue(h.reading)
            } else if observed >= h.expires {
                rejectHeld(
                    h.reading,
                    "timestamp \(Timestamp.format(h.reading.time)) is more than \(DurationText.format(maxForwardJump)) ahead of the fleet's time (\(Timestamp.format(fleet))) after \(Self.recentCapacity) later readings")
            } else {
                held[kept] = h
                kept += 1
            }
        }
        held.removeLast(held.count - kept)
    }

    /// The k-th largest of `values` (1 ≤ k ≤ values.count): one pass keeping the k largest in
    /// descending order in `top`, so a few comparisons per value when k is small.
    private static func largest(_ k: Int, of values: [Double], keeping top: inout [Double]) -> Double {
        top.removeAll(keepingCapacity: true)
        for v in values {
            if top.count == k {
                if v <= top[k - 1] { continue }
                top.removeLast()
            }
            var i = top.count
            top.append(v)
            while i > 0, top[i - 1] < v {
                top[i] = top[i - 1]
                i -= 1
            }
            top[i] = v
        }
        return top[k - 1]
    }

    /// Event time up to which buffered readings are evaluated: `lateness` behind the fleet's time.
    private var watermark: Double {
        guard let fleetTime else { return -.infinity }
        return fleetTime - plan.lateness
    }

    /// The earliest buffered reading, from the in-order queue or the stragglers.
    private func nextPending() -> Pending? {
        let a = fifoHead < fifo.count ? fifo[fifoHead] : nil
        guard let b = stragglers.min else { return a }
        guard let a else { return b }
        return b < a ? b : a
    }

    private mutating func popPending() {
        let fromFifo = fifoHead < fifo.count && (stragglers.min.map { !($0 < fifo[fifoHead]) } ?? true)
        if fromFifo {
            fifoHead += 1
            if fifoHead > 4096, fifoHead * 2 > fifo.count {
                fifo.removeFirst(fifoHead)
                fifoHead = 0
            }
        } else {
            _ = stragglers.pop()
        }
    }

    /// Processes buffered readings and timers up to event time `w`.
    private mutating func release(upTo w: Double) {
        while let next = nextPending(), next.time <= w {
            popPending()
            if prefetching {
                let ahead = fifoHead + Self.prefetchDistance
                if ahead < fifo.count { prefetchState(fifo[ahead]) }
                let near = fifoHead + Self.prefetchDistance / 2
                if near < fifo.count { prefetchPoints(device: Int(fifo[near].device)) }
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
    private mutating func prefetchState(_ p: Pending) {
        let d = Int(p.device)
        phase.prefetch(d * opCount, count: opCount)
        applies.prefetch(d * opCount, count: opCount)
        since.prefetch(d * opCount, count: opCount)
        clockArmed.prefetch(d * clockColumns, count: clockColumns)
        lastValue.prefetch(d * metricCount, count: metricCount)
        lastTime.prefetch(d * metricCount, count: metricCount)
        rings.prefetch(d * metricCount, count: metricCount)
        running.prefetch(d * runningTotal, count: runningTotal)
        deviceGateway.prefetch(d)
        seen.prefetch(d)
        for a in prefetchedAnalyzers { analyzers.prefetch(a, device: d) }
    }

    /// The second step: ring slots the reading will write and the points its running windows
    /// will drop, found through the ring headers `prefetchState` asked for earlier.
    @inline(__always)
    private mutating func prefetchPoints(device d: Int) {
        guard !rings.isEmpty else { return }
        for m in 0..<metricCount where ringMetric[m] {
            let k = d * metricCount + m
            rings[k].prefetchTail()
            var r = runningStart[m]
            while r < runningStart[m + 1] {
                let head = running[d * runningTotal + r].head
                rings[k].prefetch(point: head)
                rings[k].prefetch(point: head + 1)
                r += 1
            }
        }
    }

    /// Advances event time without a reading (e.g. a live service's clock): processes what is due.
    public mutating func advance(to time: Double) {
        advancedTo = max(advancedTo, time)
        fleetTime = max(fleetTime ?? time, time)
        reviewHeld()
        release(upTo: watermark)
    }

    /// Processes everything still buffered and every timer up to the fleet's time at the end of
    /// the data. Timers and analyses stop there, so a device whose clock runs ahead cannot make
    /// everyone else look silent; its readings are still evaluated, except those more than
    /// `maxForwardJump` ahead of the fleet's end, which are rejected as `future` (whatever the
    /// order they came in: the first reading of the data too). The data's span (`stats`
    /// first and last timestamps) is then that of the readings evaluated.
    public mutating func finish() {
        updateFleetTime(atEnd: true)
        guard let fleetEnd = fleetTime else { return }
        analysisEnd = fleetEnd
        release(upTo: fleetEnd)
        let limit = fleetEnd + maxForwardJump
        func message(_ t: Double) -> String {
            "timestamp \(Timestamp.format(t)) is more than \(DurationText.format(maxForwardJump)) ahead of the fleet's time at the end of the data (\(Timestamp.format(fleetEnd)))"
        }
        // Still held after the last recomputation: the fleet's end is not within reach of them.
        for h in held { rejectHeld(h.reading, message(h.reading.time)) }
        held.removeAll()
        while let next = nextPending() {
            popPending()
            if next.time > limit {
                rejectHeld(next, message(next.time))
            } else {
                process(next)
            }
        }
        finishAnalyzers(at: fleetEnd)
        stats.firstTimestamp = evaluatedFirst.isFinite ? evaluatedFirst : nil
        stats.lastTimestamp = evaluatedLast.isFinite ? evaluatedLast : nil
    }

    /// A reading the fleet never came near: counted as `future` instead of as a reading (a held
    /// line's dropped values were never counted, see `Pending.heldAhead`, so it counts once).
    private mutating func rejectHeld(_ r: Pending, _ message: String) {
        stats.readings -= 1
        stats.reject(.future, message, heldLines.removeValue(forKey: r.sequence)?.origin)
        if r.hasStrings { pendingStrings.removeValue(forKey: r.sequence) }
        freeSlots.append(r.slot)
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
        dataStart = t
        // Each device's compliance state at the first timestamp is settled once every reading at
        // that timestamp has been seen: a timer at `t` fires only after them, so a device whose
        // inventory has no version but whose first report carries one never opens a finding
        // that closes at the same instant.
        for c in compliance.indices {
            for d in 0..<n where compliance[c].applies[d] {
                timers.push(Timer(time: t, device: d, op: compliance[c].operatorIndex))
                compliance[c].armed[d] = t
            }
        }
        // Devices that never report must still trip `absent`: arm every clock from the first event.
        for (o, op) in program.operators.enumerated() {
            guard let op, !op.clocks.isEmpty else { continue }
            let first = op.clocks.map(\.after).min() ?? 0
            for d in 0..<n where applies[opKey(o, d)] {
                timers.push(Timer(time: t + first, device: d, op: o))
                clockArmed[d * clockColumns + clockColumn[o]] = t + first
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
        frontier = max(frontier, timer.time)
        if timer.time >= nextTick { runTicks(upTo: timer.time) }
        let c = complianceIndex[timer.op]
        if c >= 0 {
            if compliance[c].armed[timer.device] == timer.time { compliance[c].armed[timer.device] = -.infinity }
            updateCompliance(c, device: timer.device, at: timer.time)
            return
        }
        if clockColumn[timer.op] >= 0 {
            let k = timer.device * clockColumns + clockColumn[timer.op]
            if clockArmed[k] == timer.time { clockArmed[k] = -.infinity }
        }
        evaluate(op: timer.op, device: timer.device, at: timer.time)
    }

    private mutating func process(_ r: Pending) {
        let d = Int(r.device)
        let t = r.time
        frontier = max(frontier, t)
        evaluatedFirst = min(evaluatedFirst, t)
        evaluatedLast = max(evaluatedLast, t)
        if r.heldAhead {
            // The fleet came near it: now it is part of the data's span, and its dropped values count.
            for e in heldLines.removeValue(forKey: r.sequence)?.drops ?? [] { stats.dropValue(e.reason, e.message, e.origin) }
            stats.firstTimestamp = min(stats.firstTimestamp ?? t, t)
            stats.lastTimestamp = max(stats.lastTimestamp ?? t, t)
        }
        if t >= nextTick { runTicks(upTo: min(t, analysisEnd)) }
        seen[d] = true
        if r.hasStrings, let strings = pendingStrings.removeValue(forKey: r.sequence) {
            for (slot, v) in strings {
                let changed = attributes[d][slot] != v
                attributes[d][slot] = v
                if changed { rescope(device: d, slot: slot, at: t) }
                for c in compliance.indices where compliance[c].attributeSlot == slot && compliance[c].applies[d] {
                    compliance[c].observe(d, v, at: t, type: deviceType(d))
                    updateCompliance(c, device: d, at: t)
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
        let base = Int(r.slot) * slotSize
        let count = Int(r.count)
        for i in 0..<count {
            let m = Int(poolMetric[base + i])
            let v = poolValue[base + i]
            let k = metricKey(m, d)
            // A reading older than the device's latest (within lateness, from another file) only adds history.
            if t >= lastTime[k] {
                lastValue[k] = v
                lastTime[k] = t
            }
            if ringMetric[m] { appendPoint(metric: m, device: d, key: k, t, v) }
        }
        if !analyzers.isEmpty { feedAnalyzers(device: d, time: t, gateway: r.gateway, base: base, count: count) }
        readingStamp += 1
        for i in 0..<count {
            let m = Int(poolMetric[base + i])
            var j = opsForMetricStart[m]
            let stop = opsForMetricStart[m + 1]
            while j < stop {
                let o = opsForMetricFlat[j]
                j += 1
                if opStamp[o] != readingStamp {
                    opStamp[o] = readingStamp
                    evaluate(op: o, device: d, at: t)
                }
            }
        }
        freeSlots.append(r.slot)
    }

    /// Re-decides the inventory-only `where` of rules reading `slot` after telemetry changed it;
    /// a device leaving a rule's scope resolves its open alert.
    private mutating func rescope(device d: Int, slot: Int, at t: Double) {
        guard let ops = program.staticScopesBySlot[slot] else { return }
        for o in ops {
            guard let scope = operators[o]?.scope else { continue }
            currentDevice = d
            stamp += 1
            now = t
            var inside = false
            if case .bool(true)? = scope.evaluate(&self) { inside = true }
            let k = opKey(o, d)
            if applies[k], !inside {
                if phase[k] == 2 { resolve(op: o, device: d, at: t) }
                phase[k] = 0
            }
            applies[k] = inside
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
        guard opActive[o] else { return }
        let k = opKey(o, d)
        if !applies[k] { return }
        if let scope = opDynamicScope[o] {
            guard case .bool(true)? = value(scope, device: d, at: t) else {
                if phase[k] == 2 { resolve(op: o, device: d, at: t) }
                phase[k] = 0
                return
            }
        }
        let holding: Bool
        let threshold = opThresholdAggregate[o]
        if threshold >= 0 {
            // The common shape `fn(metric[, w]) <op> number`, without the expression interpreter.
            stamp += 1
            holding = thresholdHolds(threshold, opThresholdOperator[o], opThresholdValue[o], device: d, at: t)
        } else {
            guard let condition = opCondition[o] else { return }
            holding = holds(condition, device: d, at: t)
        }
        let forDuration = opFor[o]
        switch phase[k] {
        case 0:
            if holding {
                if forDuration <= 0 {
                    fire(op: o, device: d, since: t, at: t)
                } else {
                    phase[k] = 1
                    since[k] = t
                    timers.push(Timer(time: t + forDuration, device: d, op: o))
                }
            }
        case 1:
            if !holding {
                phase[k] = 0
            } else if t - since[k] >= forDuration {
                fire(op: o, device: d, since: since[k] + forDuration, at: t)
            }
        default:
            if let clear = opClear[o] {
                if holds(clear, device: d, at: t) { resolve(op: o, device: d, at: t) }
            } else if !holding {
                resolve(op: o, device: d, at: t)
            }
        }
        if clockColumn[o] >= 0 { armClock(op: o, device: d, at: t) }
    }

    /// Schedules the next event time at which an absent/age threshold elapses for this device.
    private mutating func armClock(op o: Int, device d: Int, at t: Double) {
        var next = Double.infinity
        for c in clockStart[o]..<clockStart[o + 1] {
            let last = lastTime[metricKey(clockMetric[c], d)]
            guard last.isFinite else { continue }
            let due = last + clockAfter[c]
            if due > t { next = min(next, due) }
        }
        // Due times only move later as readings arrive: an earlier pending timer re-arms when it fires.
        let k = d * clockColumns + clockColumn[o]
        let armed = clockArmed[k]
        if next.isFinite, !(armed > t && armed <= next) {
            timers.push(Timer(time: next, device: d, op: o))
            clockArmed[k] = next
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
        phase[opKey(o, d)] = 2
        since[opKey(o, d)] = start
        var v: Double?
        var valueIsDuration = false
        if let a = program.operators[o]?.valueAggregate {
            switch aggregateValueUpdating(a, device: d, at: t) {
            case .number(let n)?: v = n
            case .duration(let s)?:
                v = s
                valueIsDuration = true
            default: break
            }
        }
        // Fields are read through `plan.operators[o].rule` rather than a copy of the rule.
        let text = summary(op: o, device: d, value: v, duration: valueIsDuration)
        let episode = AlertEpisode(
            rule: plan.operators[o].rule.id, kind: plan.operators[o].rule.kind, pack: plan.operators[o].rule.pack,
            device: inventory.rows[d][0], severity: plan.operators[o].rule.severity, since: start, until: nil, value: v,
            summary: text, labels: plan.operators[o].rule.labels, evidence: program.ruleEvidence[o],
            maintenance: plan.operators[o].rule.maintenance)
        openEpisode[opKey(o, d)] = Int32(episodes.count)
        episodes.append(episode)
        newEvents.append(AlertEvent(change: .fired, time: start, episode: episode))
    }

    private mutating func resolve(op o: Int, device d: Int, at t: Double) {
        let k = opKey(o, d)
        phase[k] = 0
        let e = Int(openEpisode[k])
        guard e >= 0 else { return }
        episodes[e].until = t
        openEpisode[k] = -1
        newEvents.append(AlertEvent(change: .resolved, time: t, episode: episodes[e]))
    }

    /// The summary of operator `o`'s alert for device `d`: its parsed template filled without a
    /// closure, so the engine is not copied for every alert.
    private func summary(op o: Int, device d: Int, value: Double?, duration: Bool, extra: [String: String] = [:]) -> String {
        guard let parts = program.summaries[o] else {
            let v = value.map { " (value \(Self.format($0)))" } ?? ""
            return "\(inventory.rows[d][0]): \(plan.operators[o].rule.id)\(v)"
        }
        var out = ""
        for part in parts {
            switch part {
            case .text(let s): out += s
            case .placeholder(let name):
                out += extra[name] ?? placeholder(name, op: o, device: d, value: value, duration: duration)
            }
        }
        return out
    }

    private func placeholder(_ name: String, op o: Int, device d: Int, value: Double?, duration: Bool) -> String {
        switch name {
        case "value": return value.map { duration ? DurationText.format($0) : Self.format($0) } ?? "n/a"
        case "rule": return plan.operators[o].rule.id
        case "pack": return plan.operators[o].rule.pack
        case "severity": return plan.operators[o].rule.severity.rawValue
        case "kind": return plan.operators[o].rule.kind.rawValue
        default: break
        }
        if case .limit(let l) = plan.operators[o].rule.body {
            switch name {
            case "metric": return l.metric
            case "min": return l.low.map(Self.format) ?? "-∞"
            case "max": return l.high.map(Self.format) ?? "∞"
            default: break
            }
        }
        if let slot = program.attributeSlots[name] { return attributes[d][slot] }
        return ""
    }

    /// Numbers in summaries and tables: at most two decimals, no trailing zeros.
    static func format(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        return JSONValue.format(r)
    }

    // MARK: analyzers

    private mutating func feedAnalyzers(device d: Int, time t: Double, gateway: Int32, base: Int, count: Int) {
        for a in readingAnalyzers where analyzerScope[a] < 0 || applies[opKey(analyzerScope[a], d)] {
            analyzers.observeReading(a, device: d, time: t, gateway: gateway)
        }
        for i in 0..<count {
            let m = Int(poolMetric[base + i])
            var j = analyzerStart[m]
            while j < analyzerStart[m + 1] {
                let a = analyzerFlat[j]
                j += 1
                if analyzerScope[a] >= 0, !applies[opKey(analyzerScope[a], d)] { continue }
                analyzers.observe(a, device: d, metric: m, value: poolValue[base + i], time: t)
            }
        }
    }

    /// Ticks every analyzer at each of its boundaries up to and including `t`, in time order.
    private mutating func runTicks(upTo t: Double) {
        while true {
            var best = -1
            var bestTime = Double.infinity
            for a in analyzers.indices {
                let interval = analyzers.tickInterval[a]
                guard interval > 0 else { continue }
                if analyzerNextTick[a] == -.infinity {
                    // The first boundary after the first event: no tick for an empty past.
                    analyzerNextTick[a] = ((t / interval).rounded(.down) + 1) * interval
                    if t == analyzerNextTick[a] - interval { analyzerNextTick[a] = t }
                }
                if analyzerNextTick[a] <= t, analyzerNextTick[a] < bestTime {
                    best = a
                    bestTime = analyzerNextTick[a]
                }
            }
            guard best >= 0 else { break }
            analyzerNextTick[best] = bestTime + analyzers.tickInterval[best]
            var sink = FindingSink()
            let context = analysisContext(best, at: bestTime)
            analyzers.tick(best, at: bestTime, context, &sink)
            apply(sink, analyzer: best)
        }
        nextTick = analyzerNextTick.min() ?? .infinity
    }

    private mutating func finishAnalyzers(at end: Double) {
        guard !analyzers.isEmpty else { return }
        runTicks(upTo: end)
        for a in analyzers.indices {
            var sink = FindingSink()
            let context = analysisContext(a, at: end)
            analyzers.finish(a, at: end, context, &sink)
            apply(sink, analyzer: a)
        }
    }

    private func analysisContext(_ a: Int, at t: Double) -> AnalysisContext {
        let o = analyzers.operatorIndex[a]
        return AnalysisContext(
            plan: plan, inventory: inventory, operatorIndex: o, attributes: attributes,
            attributeSlots: program.attributeSlots, gatewayNames: gatewayNames, deviceGateway: deviceGateway,
            seen: seen, applies: applies, applyOperator: o, operatorCount: opCount, now: t)
    }

    /// Turns an analyzer's findings into episodes: one open episode per (rule, key).
    private mutating func apply(_ sink: FindingSink, analyzer a: Int) {
        let o = analyzers.operatorIndex[a]
        let rule = plan.operators[o].rule
        for change in sink.changes {
            switch change {
            case .report(let f):
                let key = "\(o)\u{1F}\(f.key)"
                if let e = analysisOpen[key] {
                    let escalated = f.severity != episodes[e].severity
                    episodes[e].severity = f.severity
                    episodes[e].value = f.value
                    episodes[e].summary = f.summary
                    episodes[e].evidence = f.evidence
                    episodes[e].maintenance = f.maintenance ?? episodes[e].maintenance
                    episodes[e].due = f.due ?? episodes[e].due
                    if escalated { newEvents.append(AlertEvent(change: .updated, time: now, episode: episodes[e])) }
                    continue
                }
                var labels = rule.labels
                for (k, v) in f.labels { labels[k] = v }
                let episode = AlertEpisode(
                    rule: rule.id, kind: rule.kind, pack: rule.pack, device: f.device >= 0 ? inventory.rows[f.device][0] : "",
                    severity: f.severity, since: f.since, until: nil, value: f.value, summary: f.summary, labels: labels,
                    evidence: f.evidence, maintenance: f.maintenance, site: f.site, due: f.due)
                analysisOpen[key] = episodes.count
                episodes.append(episode)
                newEvents.append(AlertEvent(change: .fired, time: f.since, episode: episode))
            case .resolve(let k, let t):
                guard let e = analysisOpen.removeValue(forKey: "\(o)\u{1F}\(k)") else { continue }
                episodes[e].until = t
                newEvents.append(AlertEvent(change: .resolved, time: t, episode: episodes[e]))
            }
        }
    }

    /// Whether forecast rules keep a daily snapshot per device for the report (`forecasts`),
    /// besides each device's latest forecast: what accuracy scoring and trend plots need.
    public var forecastHistory = false {
        didSet {
            analyzers.setForecastHistory(forecastHistory)
        }
    }

    /// Lets each analyzer add its sections to a report.
    func contributeAnalyses(to report: inout Report) {
        let end = analysisEnd.isFinite ? analysisEnd : stats.lastTimestamp ?? 0
        for a in analyzers.indices { analyzers.contribute(a, to: &report, analysisContext(a, at: end)) }
        report.forecastCurves = analyzers.forecastCurves()
    }

    // MARK: compliance

    private func deviceType(_ d: Int) -> String { program.typeSlot.map { attributes[d][$0] } ?? "" }

    /// Re-classifies a device under a compliance rule; opens or closes its finding when the state
    /// changes, and arms the timer of the next time-driven change (stale, rollout start or deadline).
    private mutating func updateCompliance(_ c: Int, device d: Int, at t: Double) {
        // Fields are read through `compliance[c]` rather than a copy of the tracker: a live copy
        // would make every write below copy the tracker's per-device arrays.
        let type = deviceType(d)
        let result = compliance[c].classify(d, at: t, type: type, dataStart: dataStart ?? t)
        let finding = ComplianceTracker.isFinding(result.state, overdue: result.overdue)
        if compliance[c].state[d] != result.state || compliance[c].alerting[d] != finding {
            let open = Int(compliance[c].episode[d])
            if open >= 0 {
                episodes[open].until = t
                newEvents.append(AlertEvent(change: .resolved, time: t, episode: episodes[open]))
                compliance[c].episode[d] = -1
            }
            compliance[c].state[d] = result.state
            compliance[c].alerting[d] = finding
            if finding { openComplianceFinding(c, device: d, result, at: t) }
        }
        var next = Double.infinity
        if let stale = compliance[c].rule.stale {
            let reported = compliance[c].reportedAt[d]
            let last = reported.isFinite ? reported : (dataStart ?? t)
            if last + stale > t { next = last + stale }
        }
        if let rollout = compliance[c].rule.rollout, compliance[c].target(for: type) != nil {
            if t < rollout.started { next = min(next, rollout.started) }
            if result.state == .rolloutPending, result.overdue == nil { next = min(next, rollout.started + rollout.deadline) }
        }
        // Due times only move later; an earlier armed timer re-arms when it fires.
        let armed = compliance[c].armed[d]
        if next.isFinite, next > t, !(armed > t && armed <= next) {
            timers.push(Timer(time: next, device: d, op: compliance[c].operatorIndex))
            compliance[c].armed[d] = next
        }
    }

    private mutating func openComplianceFinding(
        _ c: Int, device d: Int,
        _ r: (state: ComplianceState, deny: ComplianceRule.Deny?, since: Double?, overdue: Double?), at t: Double
    ) {
        let (evidence, extra, severity, maintenance, rule, attribute, version) = complianceEvidence(c, device: d, r)
        var text = summary(op: compliance[c].operatorIndex, device: d, value: nil, duration: false, extra: extra)
        if rule.summary == nil {
            text = "\(inventory.rows[d][0]): \(attribute) \(version ?? "not reported") is \(r.state.rawValue)"
                + (r.deny?.advisory.map { " (\($0))" } ?? "")
                + (r.overdue != nil ? ", past the rollout deadline \(Timestamp.format(r.since ?? t))" : "")
        }
        let since = min(r.since ?? t, t)
        let episode = AlertEpisode(
            rule: rule.id, kind: .compliance, pack: rule.pack, device: inventory.rows[d][0], severity: severity,
            since: since, until: nil, value: nil, summary: text, labels: rule.labels, evidence: evidence,
            maintenance: maintenance)
        compliance[c].episode[d] = Int32(episodes.count)
        episodes.append(episode)
        newEvents.append(AlertEvent(change: .fired, time: since, episode: episode))
    }

    /// What a compliance finding says: evidence, summary placeholders, severity and visit.
    private func complianceEvidence(
        _ c: Int, device d: Int,
        _ r: (state: ComplianceState, deny: ComplianceRule.Deny?, since: Double?, overdue: Double?)
    ) -> (
        [(String, JSONValue)], [String: String], AlertSeverity, MaintenanceSpec?, Rule, String, String?
    ) {
        let tracker = compliance[c]
        let rule = plan.operators[tracker.operatorIndex].rule
        let type = deviceType(d)
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
            "baseline": tracker.baseline(for: type)?.source ?? "", "target": tracker.target(for: type)?.description ?? "",
            "overdue": r.overdue.map(DurationText.format) ?? "",
        ]
        return (evidence, extra, severity, maintenance, rule, tracker.rule.attribute, version)
    }

    /// Per compliance rule: every applicable device's state at event time `t`.
    func complianceStates(at t: Double) -> [(rule: String, states: [(device: Int, state: ComplianceState)])] {
        compliance.map { tracker in
            let rule = plan.operators[tracker.operatorIndex].rule.id
            var out: [(device: Int, state: ComplianceState)] = []
            for d in 0..<n where tracker.applies[d] {
                out.append((d, tracker.classify(d, at: t, type: deviceType(d), dataStart: dataStart ?? t).state))
            }
            return (rule, out)
        }
    }

    /// The version a device reports under a compliance rule's attribute.
    func complianceVersion(rule: String, device d: Int) -> String? {
        compliance.first { plan.operators[$0.operatorIndex].rule.id == rule }?.version[d]
    }

    // MARK: inputs

    @inline(__always) func opKey(_ o: Int, _ d: Int) -> Int { d * opCount + o }
    @inline(__always) func metricKey(_ m: Int, _ d: Int) -> Int { d * metricCount + m }

    func aggregateValue(_ id: Int, device d: Int, at t: Double) -> RuntimeValue? {
        let m = aggregateMetric[id]
        let k = metricKey(m, d)
        switch aggregateFunction[id] {
        case .last:
            let v = lastValue[k]
            return v.isNaN ? nil : .number(v)
        case .age:
            let last = lastTime[k]
            return last.isFinite ? .duration(t - last) : nil
        case .absent:
            let last = lastTime[k]
            return .bool(!(last.isFinite && last > t - aggregateWidth[id]))
        case let f:
            guard ringMetric[m] else { return nil }
            return rings[k].aggregate(f, at: t, width: aggregateWidth[id]).map { .number($0) }
        }
    }

    /// The numeric value of aggregate `id` for the threshold kernels, NaN when there is none:
    /// `aggregateValueUpdating` without wrapping the number in a `RuntimeValue`.
    @inline(__always)
    private mutating func thresholdNumber(_ id: Int, device d: Int, at t: Double) -> Double {
        let r = runningIndex[id]
        if r >= 0 { return runningAggregate(id, window: r, device: d, at: t) ?? .nan }
        let k = metricKey(aggregateMetric[id], d)
        switch aggregateFunction[id] {
        case .last: return lastValue[k]
        case .age:
            let last = lastTime[k]
            return last.isFinite ? t - last : .nan
        default: return aggregateValue(id, device: d, at: t)?.number ?? .nan
        }
    }

    /// `aggregate <op> value` for the threshold kernels; a missing value holds nothing, as in the
    /// interpreter's three-valued logic.
    @inline(__always)
    private mutating func thresholdHolds(
        _ aggregate: Int, _ op: ComparisonOperator, _ value: Double, device d: Int, at t: Double
    ) -> Bool {
        let v = thresholdNumber(aggregate, device: d, at: t)
        return !v.isNaN && RuntimeExpression.order(op, v, value)
    }

    /// Like `aggregateValue`, but reads (and advances) the running sums where the function has them.
    mutating func aggregateValueUpdating(_ id: Int, device d: Int, at t: Double) -> RuntimeValue? {
        let r = runningIndex[id]
        guard r >= 0 else { return aggregateValue(id, device: d, at: t) }
        return runningAggregate(id, window: r, device: d, at: t).map { .number($0) }
    }

    /// Aggregate `id` from its running window `r` for device `d`, evicting what left it by `t`.
    @inline(__always)
    private mutating func runningAggregate(_ id: Int, window r: Int, device d: Int, at t: Double) -> Double? {
        rings[metricKey(aggregateMetric[id], d)].runningAggregate(
            &running[d * runningTotal + r], aggregateFunction[id], after: t - runningWidth[r], slope: runningSlope[r])
    }

    /// Appends a point to a ring: its running windows first drop what leaves them, then the ring
    /// trims to the metric's retention, then every running window takes the new point.
    @inline(__always)
    private mutating func appendPoint(metric m: Int, device d: Int, key k: Int, _ t: Double, _ v: Double) {
        let lo = runningStart[m]
        let hi = runningStart[m + 1]
        let base = d * runningTotal
        var r = lo
        while r < hi {
            rings[k].evictIfNeeded(&running[base + r], before: t - runningWidth[r], slope: runningSlope[r])
            r += 1
        }
        rings[k].append(t, v, keep: retention[m], capacity: ringCapacity[m])
        r = lo
        while r < hi {
            rings[k].take(&running[base + r], slope: runningSlope[r])
            r += 1
        }
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
        (0..<n).count { applies[opKey(index, $0)] }
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
