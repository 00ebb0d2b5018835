/// Where one rule stands for one device: not holding, holding for less than its `for`, firing.
enum ConditionPhase: UInt8, Sendable {
    case idle, pending, firing
}

/// The per-device state machines of the condition rules (alert and limit): the rule's scope
/// flags, its phase with the time it started, the open episode, and the `absent`/`age` clocks.
/// State is flat, indexed `device * count + operator`, so a reading touches one device's row.
///
/// The engine decides whether a condition holds; `step` moves the phase and tells the engine
/// what follows (fire, resolve, or look at the `clear` condition).
struct ConditionOperators: Sendable {
    /// What a step asks of the engine.
    enum Step: Equatable {
        /// Nothing follows.
        case stay
        /// Open an alert that started at `since`.
        case fire(since: Double)
        /// Close the open alert.
        case resolve
        /// Firing with a `clear` condition: resolve when it holds.
        case checkClear
    }

    /// Operators of the plan (one per rule) and devices of the inventory.
    let count: Int
    let devices: Int
    let program: [EngineProgram.Operator?]
    let active: [Bool]
    let condition: [EngineProgram.Kernel?]
    let clear: [EngineProgram.Kernel?]
    let dynamicScope: [RuntimeExpression?]
    let forDuration: [Double]
    /// Threshold kernels as plain arrays (aggregate −1: not a threshold), read without copying enums.
    let thresholdAggregate: [Int]
    let thresholdOperator: [ComparisonOperator]
    let thresholdValue: [Double]
    /// Per operator, its absent/age clocks as (metric, after) pairs, flat: operator `o` owns
    /// `clockStart[o]..<clockStart[o + 1]`.
    private let clockMetric: [Int]
    private let clockAfter: [Double]
    private let clockStart: [Int]
    /// Per operator, its column in `clockArmed` (-1: no clocks).
    let clockColumn: [Int]
    let clockColumns: Int
    /// Operators woken by each metric, flattened: `wokenFlat[wokenStart[m]..<wokenStart[m + 1]]`.
    let wokenFlat: [Int]
    let wokenStart: [Int]

    /// Whether each rule's `where` admits the device, flat [device * count + operator].
    var applies: [Bool]
    private(set) var phase: [ConditionPhase]
    /// When the pending phase started, or the firing alert's start.
    private(set) var since: [Double]
    /// The open episode's index in the episode log (-1: none).
    var openEpisode: [Int32]
    /// Per (device, operator with clocks): the time its absent/age timer is armed for (-inf:
    /// none), so each keeps one pending timer. Only the few operators with clocks have a column,
    /// so a device's row is one cache line.
    private var clockArmed: [Double]
    /// The reading each operator was last evaluated for, so a reading of several metrics
    /// evaluates a rule once.
    private var stamp: [Int]
    private var readingStamp = 0

    init(program: EngineProgram, devices n: Int) {
        let ops = program.operators
        count = ops.count
        devices = n
        self.program = ops
        active = ops.map { $0 != nil }
        // Alerts with levels are decided level by level (`SeverityLevels`), never by the one condition.
        // So are alerts with a counted `for` or a `clear_for` (`DebounceCounters`).
        condition = ops.map { op in op.flatMap { $0.levels.isEmpty && $0.debounce.isEmpty ? $0.condition : nil } }
        clear = ops.map { $0?.clear }
        dynamicScope = ops.map { op in op.flatMap { $0.staticScope ? nil : $0.scope } }
        forDuration = ops.map { $0?.forDuration ?? 0 }
        let clocks = ops.map { $0?.clocks ?? [] }
        clockMetric = clocks.flatMap { $0.map(\.metric) }
        clockAfter = clocks.flatMap { $0.map(\.after) }
        clockStart = clocks.reduce(into: [0]) { $0.append($0[$0.count - 1] + $1.count) }
        var flat: [Int] = []
        var starts: [Int] = [0]
        for list in program.operatorsForMetric {
            flat += list
            starts.append(flat.count)
        }
        wokenFlat = flat
        wokenStart = starts
        var aggregate: [Int] = []
        var comparison: [ComparisonOperator] = []
        var value: [Double] = []
        for op in ops {
            if case .threshold(let a, let cmp, let v)? = op?.condition, op?.levels.isEmpty == true,
                op?.debounce.isEmpty == true
            {
                aggregate.append(a)
                comparison.append(cmp)
                value.append(v)
            } else {
                aggregate.append(-1)
                comparison.append(.equal)
                value.append(0)
            }
        }
        thresholdAggregate = aggregate
        thresholdOperator = comparison
        thresholdValue = value
        var columns = 0
        clockColumn = ops.map { op in
            guard let op, !op.clocks.isEmpty else { return -1 }
            columns += 1
            return columns - 1
        }
        clockColumns = columns
        clockArmed = Array(repeating: -.infinity, count: columns * n)
        phase = Array(repeating: .idle, count: ops.count * n)
        since = Array(repeating: 0, count: ops.count * n)
        openEpisode = Array(repeating: -1, count: ops.count * n)
        applies = Array(repeating: true, count: ops.count * n)
        stamp = Array(repeating: -1, count: ops.count)
    }

    /// Bytes of state per device, for the prefetching decision.
    var bytesPerDevice: Int { count * 14 + clockColumns * 8 }

    @inline(__always) func key(_ o: Int, _ d: Int) -> Int { d * count + o }

    /// The phase of operator `o` for device `d`.
    func phase(op o: Int, device d: Int) -> ConditionPhase { phase[key(o, d)] }

    /// Moves operator `o`'s state for device `d` (`k`) at `t` given whether its condition holds:
    /// idle → pending (a timer at the end of `for`) or straight to firing without `for`;
    /// pending → idle when it stops holding, → firing once it held for `for`; firing → resolved
    /// when it stops holding, or when the `clear` condition holds.
    mutating func step(op o: Int, key k: Int, device d: Int, holding: Bool, at t: Double, timers: inout TimerQueue)
        -> Step
    {
        let duration = forDuration[o]
        switch phase[k] {
        case .idle:
            guard holding else { return .stay }
            if duration <= 0 { return .fire(since: t) }
            phase[k] = .pending
            since[k] = t
            timers.schedule(at: t + duration, device: d, op: o)
            return .stay
        case .pending:
            if !holding {
                phase[k] = .idle
                return .stay
            }
            return t - since[k] >= duration ? .fire(since: since[k] + duration) : .stay
        case .firing:
            if clear[o] != nil { return .checkClear }
            return holding ? .stay : .resolve
        }
    }

    /// Marks an alert as firing since `start`, with its episode.
    mutating func markFiring(_ k: Int, since start: Double, episode: Int32) {
        phase[k] = .firing
        since[k] = start
        openEpisode[k] = episode
    }

    /// Back to idle; returns the open episode to close (-1: none).
    mutating func markIdle(_ k: Int) -> Int {
        phase[k] = .idle
        let e = Int(openEpisode[k])
        openEpisode[k] = -1
        return e
    }

    /// Numbers a reading, so `wake` evaluates each operator once for it.
    mutating func beginReading() { readingStamp += 1 }

    /// Whether operator `o` is still to be evaluated for the current reading; marks it evaluated.
    @inline(__always)
    mutating func wake(_ o: Int) -> Bool {
        guard stamp[o] != readingStamp else { return false }
        stamp[o] = readingStamp
        return true
    }

    /// Devices that never report must still trip `absent`: arms every clock from the first event.
    mutating func startClocks(at t: Double, timers: inout TimerQueue) {
        for (o, op) in program.enumerated() {
            guard let op, !op.clocks.isEmpty else { continue }
            let first = op.clocks.map(\.after).min() ?? 0
            for d in 0..<devices where applies[key(o, d)] {
                timers.schedule(at: t + first, device: d, op: o)
                clockArmed[d * clockColumns + clockColumn[o]] = t + first
            }
        }
    }

    /// A timer of operator `o` for device `d` fired at `t`: its clock is no longer armed for it.
    mutating func timerFired(op o: Int, device d: Int, at t: Double) {
        guard clockColumn[o] >= 0 else { return }
        let k = d * clockColumns + clockColumn[o]
        if clockArmed[k] == t { clockArmed[k] = -.infinity }
    }

    /// Schedules the next event time at which an absent/age threshold elapses for this device.
    mutating func armClock(op o: Int, device d: Int, at t: Double, metrics: MetricStore, timers: inout TimerQueue) {
        var next = Double.infinity
        for c in clockStart[o]..<clockStart[o + 1] {
            let last = metrics.lastTime(metric: clockMetric[c], device: d)
            guard last.isFinite else { continue }
            let due = last + clockAfter[c]
            if due > t { next = min(next, due) }
        }
        // Due times only move later as readings arrive: an earlier pending timer re-arms when it fires.
        let k = d * clockColumns + clockColumn[o]
        let armed = clockArmed[k]
        if next.isFinite, !(armed > t && armed <= next) {
            timers.schedule(at: next, device: d, op: o)
            clockArmed[k] = next
        }
    }

    /// Asks the cache for a device's rows before its reading is processed.
    @inline(__always)
    func prefetchRows(device d: Int) {
        phase.prefetch(d * count, count: count)
        applies.prefetch(d * count, count: count)
        since.prefetch(d * count, count: count)
        clockArmed.prefetch(d * clockColumns, count: clockColumns)
    }
}
