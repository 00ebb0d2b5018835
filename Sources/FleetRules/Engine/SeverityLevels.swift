/// The per-device state of the alerts with `levels:`: each level is its own state machine
/// (idle, pending its `for`, reached) and the alert's severity is that of the highest level
/// reached. Reaching a level also reaches every milder one, so an alert falls back from
/// critical to warning (under warning's `clear`) instead of resolving. One episode per device
/// spans the levels: it opens at the first level reached, changes severity as the highest
/// level reached changes, and resolves when no level is reached.
///
/// Only rules with levels have a column; state is flat, indexed
/// `device * stride + levelStart[column] + level`.
struct SeverityLevels: Sendable {
    /// What a step asks of the engine.
    enum Outcome: Equatable {
        case stay
        /// Open the alert at `since` with level `level`.
        case open(level: Int, since: Double)
        /// The highest level reached is now `level`, since `at`.
        case change(level: Int, at: Double)
        /// No level is reached any more.
        case resolve
    }

    /// Per operator, its column (-1: no levels).
    let column: [Int]
    /// Per column, its levels, mildest first.
    let levels: [[EngineProgram.Level]]
    /// Per column, its first level in a device's row.
    private let levelStart: [Int]
    private let stride: Int
    private var phase: [ConditionPhase]
    /// When each level's pending `for` started, or when it was reached.
    private var since: [Double]
    /// Per (device, column): the highest level reached (-1: none).
    private var reached: [Int8]

    init(program: EngineProgram, devices n: Int) {
        var column: [Int] = []
        var levels: [[EngineProgram.Level]] = []
        var start: [Int] = []
        var total = 0
        for op in program.operators {
            guard let op, !op.levels.isEmpty else {
                column.append(-1)
                continue
            }
            column.append(levels.count)
            levels.append(op.levels)
            start.append(total)
            total += op.levels.count
        }
        self.column = column
        self.levels = levels
        levelStart = start
        stride = total
        phase = Array(repeating: .idle, count: total * n)
        since = Array(repeating: 0, count: total * n)
        reached = Array(repeating: -1, count: levels.count * n)
    }

    var isEmpty: Bool { levels.isEmpty }

    /// The highest level reached by column `c`'s alert for device `d` (-1: none).
    func reached(column c: Int, device d: Int) -> Int { Int(reached[d * levels.count + c]) }

    /// Moves column `c`'s levels for device `d` at `t`. Bit `i` of `when` says level `i`'s
    /// condition holds, bit `i` of `clear` that its `clear` holds (levels without `clear` fall
    /// back when their condition stops holding). A level whose `for` starts schedules a timer
    /// for operator `o`.
    mutating func step(
        column c: Int, op o: Int, device d: Int, when: UInt32, clear: UInt32, at t: Double, timers: inout TimerQueue
    ) -> Outcome {
        let row = d * stride + levelStart[c]
        let list = levels[c]
        for i in list.indices {
            let k = row + i
            let holding = when & (1 << i) != 0
            switch phase[k] {
            case .idle:
                guard holding else { continue }
                if list[i].forDuration <= 0 {
                    phase[k] = .firing
                    since[k] = t
                } else {
                    phase[k] = .pending
                    since[k] = t
                    timers.schedule(at: t + list[i].forDuration, device: d, op: o)
                }
            case .pending:
                if !holding {
                    phase[k] = .idle
                } else if t - since[k] >= list[i].forDuration {
                    phase[k] = .firing
                    since[k] += list[i].forDuration
                }
            case .firing:
                let falls = list[i].clear != nil ? clear & (1 << i) != 0 : !holding
                if falls { phase[k] = .idle }
            }
        }
        // The most severe level reached carries every milder one with it.
        var top = -1
        for i in list.indices.reversed() where phase[row + i] == .firing {
            top = i
            break
        }
        if top > 0 {
            for i in 0..<top where phase[row + i] != .firing {
                phase[row + i] = .firing
                since[row + i] = since[row + top]
            }
        }
        let r = d * levels.count + c
        let before = Int(reached[r])
        reached[r] = Int8(top)
        if top == before { return .stay }
        if top < 0 { return .resolve }
        if before < 0 { return .open(level: top, since: since[row + top]) }
        return .change(level: top, at: top > before ? since[row + top] : t)
    }

    /// One line per level for `explain`: reached since when, pending for how long, or not reached.
    func notes(column c: Int, device d: Int, at t: Double) -> [String] {
        let row = d * stride + levelStart[c]
        return levels[c].indices.map { i in
            let level = "level \(levels[c][i].severity.rawValue)"
            switch phase[row + i] {
            case .firing: return "\(level): reached at \(Timestamp.format(since[row + i]))"
            case .pending:
                let held = DurationText.format(max(0, t - since[row + i]))
                return
                    "\(level): its condition has held for \(held) of its \(DurationText.format(levels[c][i].forDuration)) `for`"
            case .idle: return "\(level): not reached"
            }
        }
    }

    /// The device left the rule's scope: every level starts over.
    mutating func reset(column c: Int, device d: Int) {
        let row = d * stride + levelStart[c]
        for i in levels[c].indices {
            phase[row + i] = .idle
        }
        reached[d * levels.count + c] = -1
    }
}
