/// The condition rules' schedules in event time: whether an `active_during` rule is inside its
/// intervals at an instant (and until when), and which `mute_during` interval, if any, mutes
/// an alert opening at an instant. Rules without a schedule cost one flag test per evaluation.
struct RuleSchedules: Sendable {
    /// Whether any operator has `active_during`.
    let anyActive: Bool
    /// Per operator, its index in `active` (-1: always active).
    let activeIndex: [Int]
    private var active: [TimeIntervalSet]
    /// Per operator, its `mute_during` entries with their inventory filters lowered.
    let mutes: [[(interval: NamedTimeInterval, scope: RuntimeExpression?)]]
    let anyMute: Bool
    /// Per (active set, device): the start of the next stretch a timer is armed for (-inf: none).
    private var resume: [Double]
    private let devices: Int

    init(plan: EvaluationPlan, program: EngineProgram, devices n: Int) {
        var index: [Int] = []
        var sets: [TimeIntervalSet] = []
        var mutes: [[(interval: NamedTimeInterval, scope: RuntimeExpression?)]] = []
        for op in plan.operators {
            let schedule = op.rule.schedule
            if let s = schedule, !s.activeDuring.isEmpty {
                index.append(sets.count)
                sets.append(TimeIntervalSet(s.activeDuring))
            } else {
                index.append(-1)
            }
            mutes.append((schedule?.muteDuring ?? []).map { ($0.interval, $0.scope.map(program.lower)) })
        }
        activeIndex = index
        active = sets
        anyActive = !sets.isEmpty
        self.mutes = mutes
        anyMute = mutes.contains { !$0.isEmpty }
        devices = n
        resume = Array(repeating: -.infinity, count: sets.count * n)
    }

    /// Whether a timer at `t` (the start of operator `o`'s next active stretch) is still to be
    /// armed for device `d`; marks it armed.
    mutating func armResume(op o: Int, device d: Int, at t: Double) -> Bool {
        let k = activeIndex[o] * devices + d
        guard resume[k] != t else { return false }
        resume[k] = t
        return true
    }

    /// Whether operator `o` (which has `active_during`) is active at `t`, and the instant that changes.
    mutating func stretch(op o: Int, at t: Double) -> (inside: Bool, until: Double) {
        active[activeIndex[o]].stretch(at: t)
    }
}
