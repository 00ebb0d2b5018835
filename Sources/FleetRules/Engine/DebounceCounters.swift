/// The per-device state machines of the alerts with a `for` counted in readings or a
/// `clear_for`: idle, pending (a count of consecutive readings on which the condition held, or
/// the start of a `for` duration), firing (with the count of consecutive readings on which the
/// clear condition held, or the time it started holding). Only readings of the metrics the
/// condition reads count; timers (a `for` or `clear_for` duration elapsing, `absent`/`age`
/// clocks) move durations but never add to a count.
///
/// Only such rules have a column; state is flat, indexed `device * columns + column`.
struct DebounceCounters: Sendable {
    /// What a step asks of the engine.
    enum Outcome: Equatable {
        case stay
        /// Open an alert that started at `since`.
        case fire(since: Double)
        /// Close the open alert.
        case resolve
    }

    /// Per operator, its column (-1: not debounced).
    let column: [Int]
    /// Per column: the rule's condition and clear, its `for` and `clear_for`.
    let condition: [EngineProgram.Kernel]
    let clear: [EngineProgram.Kernel?]
    private let forReadings: [Int]
    private let forDuration: [Double]
    private let clearReadings: [Int]
    private let clearDuration: [Double]
    private let columns: Int
    private var phase: [ConditionPhase]
    /// Consecutive readings counted (pending: holding; firing: clear holding).
    private var count: [Int32]
    /// Pending: when a `for` duration started; firing: since when the clear condition holds (-inf: it does not).
    private var since: [Double]

    init(program: EngineProgram, devices n: Int) {
        var column: [Int] = []
        var condition: [EngineProgram.Kernel] = []
        var clear: [EngineProgram.Kernel?] = []
        var forReadings: [Int] = []
        var forDuration: [Double] = []
        var clearReadings: [Int] = []
        var clearDuration: [Double] = []
        for op in program.operators {
            guard let op, op.levels.isEmpty, !op.debounce.isEmpty else {
                column.append(-1)
                continue
            }
            column.append(condition.count)
            condition.append(op.condition)
            clear.append(op.clear)
            forReadings.append(op.debounce.forReadings)
            forDuration.append(op.forDuration)
            switch op.debounce.clearFor {
            case .readings(let c)?:
                clearReadings.append(c)
                clearDuration.append(0)
            case .duration(let s)?:
                clearReadings.append(0)
                clearDuration.append(s)
            case nil:
                clearReadings.append(0)
                clearDuration.append(0)
            }
        }
        self.column = column
        self.condition = condition
        self.clear = clear
        self.forReadings = forReadings
        self.forDuration = forDuration
        self.clearReadings = clearReadings
        self.clearDuration = clearDuration
        columns = condition.count
        phase = Array(repeating: .idle, count: columns * n)
        count = Array(repeating: 0, count: columns * n)
        since = Array(repeating: -.infinity, count: columns * n)
    }

    /// Moves column `c`'s machine for device `d` at `t`: `holding` is the condition, `cleared`
    /// the clear condition (or `not when` without one), `reading` whether a reading (rather than a
    /// timer) is evaluated. A duration that starts schedules a timer for operator `o`.
    mutating func step(
        column c: Int, op o: Int, device d: Int, holding: Bool, cleared: Bool, reading: Bool, at t: Double,
        timers: inout TimerQueue
    ) -> Outcome {
        let k = d * columns + c
        switch phase[k] {
        case .idle:
            guard holding else { return .stay }
            phase[k] = .pending
            count[k] = 0
            since[k] = t
            if forReadings[c] == 0, forDuration[c] > 0 { timers.schedule(at: t + forDuration[c], device: d, op: o) }
            return pending(k, c, reading: reading, at: t)
        case .pending:
            guard holding else {
                phase[k] = .idle
                count[k] = 0
                return .stay
            }
            return pending(k, c, reading: reading, at: t)
        case .firing:
            guard cleared else {
                count[k] = 0
                since[k] = -.infinity
                return .stay
            }
            if clearReadings[c] > 0 {
                if reading { count[k] += 1 }
                return Int(count[k]) >= clearReadings[c] ? .resolve : .stay
            }
            if clearDuration[c] > 0 {
                if since[k] == -.infinity {
                    since[k] = t
                    timers.schedule(at: t + clearDuration[c], device: d, op: o)
                }
                return t - since[k] >= clearDuration[c] ? .resolve : .stay
            }
            return .resolve
        }
    }

    /// The pending phase after the condition held at `t`: fire once the count or the duration is reached.
    private mutating func pending(_ k: Int, _ c: Int, reading: Bool, at t: Double) -> Outcome {
        if forReadings[c] > 0 {
            if reading { count[k] += 1 }
            return Int(count[k]) >= forReadings[c] ? .fire(since: t) : .stay
        }
        if t - since[k] >= forDuration[c] { return .fire(since: since[k] + forDuration[c]) }
        return .stay
    }

    /// The alert opened: counting the clear condition starts afresh.
    mutating func markFiring(column c: Int, device d: Int) {
        let k = d * columns + c
        phase[k] = .firing
        count[k] = 0
        since[k] = -.infinity
    }

    /// The alert resolved, or the device left the rule's scope: back to idle.
    mutating func reset(column c: Int, device d: Int) {
        let k = d * columns + c
        phase[k] = .idle
        count[k] = 0
        since[k] = -.infinity
    }

    /// One line for `explain`: how far a count or a `clear_for` has got.
    func notes(column c: Int, device d: Int, at t: Double) -> [String] {
        let k = d * columns + c
        switch phase[k] {
        case .pending where forReadings[c] > 0:
            return ["the condition held on \(count[k]) of the \(forReadings[c]) consecutive readings `for` needs"]
        case .firing where clearReadings[c] > 0:
            return [
                "the clear condition held on \(count[k]) of the \(clearReadings[c]) consecutive readings `clear_for` needs"
            ]
        case .firing where clearDuration[c] > 0:
            guard since[k] > -.infinity else { return ["firing; `clear_for` starts when the clear condition holds"] }
            return [
                "the clear condition has held for \(DurationText.format(max(0, t - since[k]))) of the \(DurationText.format(clearDuration[c])) `clear_for`"
            ]
        default:
            return []
        }
    }
}
