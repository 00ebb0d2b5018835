/// What one rule lowers to, besides the window aggregates its condition reads: how the engine
/// evaluates it, the plan steps `fleetrules plan` shows and the state it costs per device.
/// Each rule kind's lowering lives with its rule, in `Compiler/Rules/`.
struct RuleLowering {
    var evaluation: RuleOperator.Evaluation
    var steps: [String]
    /// Per-device state of the analysis or tracker; condition rules add theirs in the plan.
    var stateBytesPerDevice = 0
    /// Per-device expressions an analysis evaluates from the shared window aggregates.
    var reads: [TypedExpression] = []
}

extension Rule {
    /// The rule's lowering; `metrics` are the policy's declared metrics.
    func lowering(metrics: [String: MetricDecl]) -> RuleLowering {
        switch body {
        case .alert(let a):
            return RuleLowering(
                evaluation: .condition(condition: a.condition, forDuration: a.forDuration, clear: a.clear), steps: [])
        case .limit(let l):
            return RuleLowering(evaluation: l.evaluation, steps: [])
        case .forecast(let f):
            return RuleLowering(
                evaluation: .analysis, steps: f.planSteps(maintenance: maintenance),
                stateBytesPerDevice: f.stateBytesPerDevice(rangeDeclared: metrics[f.metric]?.range != nil))
        case .compliance(let c):
            return RuleLowering(
                evaluation: .compliance, steps: c.planSteps, stateBytesPerDevice: c.stateBytesPerDevice)
        case .drift(let d):
            return RuleLowering(evaluation: .analysis, steps: d.planSteps, stateBytesPerDevice: d.stateBytesPerDevice)
        case .correlation(let c):
            if let reason = c.unsupported { return RuleLowering(evaluation: .notEvaluated(reason: reason), steps: []) }
            return RuleLowering(evaluation: .analysis, steps: c.planSteps, stateBytesPerDevice: c.stateBytesPerDevice)
        case .balance(let b):
            return RuleLowering(
                evaluation: .analysis, steps: b.planSteps, stateBytesPerDevice: BalanceRule.stateBytesPerDevice)
        case .group(let g):
            return g.lowering(scope: scope)
        }
    }
}
