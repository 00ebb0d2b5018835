extension GroupRule {
    /// Bytes of group state per device: the device's group (4) and whether it was a member at
    /// the last tick (1, padded to 4). A group's own state (phase, since, open finding) is per
    /// group, not per device; the members' values a statistic collects are scratch of one tick.
    static let stateBytesPerDevice = 8

    /// A group rule runs as an analysis ticking every `every`; its member expressions read the
    /// shared window aggregates, which the plan registers from `reads`.
    func lowering(scope: TypedExpression?) -> RuleLowering {
        let terms = condition.memberTerms
        var steps = [
            "tick every \(DurationText.format(every)) in event time",
            "group members by \(by.isEmpty ? "nothing (the whole fleet is one group)" : by.joined(separator: ", "))",
        ]
        for term in terms {
            switch term {
            case .condition(let c): steps.append("per member: count where \(c)")
            case .value(let x): steps.append("per member: collect \(x)")
            }
        }
        steps.append("when \(condition)")
        if forDuration > 0 { steps.append("for \(DurationText.format(forDuration)) (at consecutive ticks)") }
        if !inhibits.isEmpty {
            steps.append("inhibit device alerts of \(inhibits.joined(separator: ", ")) in firing groups")
        }
        steps.append("emit one alert per group")
        return RuleLowering(
            evaluation: .analysis, steps: steps, stateBytesPerDevice: Self.stateBytesPerDevice,
            reads: terms.map(\.expression) + (scope.map { [$0] } ?? []))
    }
}
