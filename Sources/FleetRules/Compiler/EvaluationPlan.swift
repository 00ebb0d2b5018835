/// A window aggregate shared by every rule that reads it: `avg(temperature, 1h)` is computed
/// once per device evaluation however many rules use it.
public struct WindowAggregate: Sendable, Hashable {
    public var id: Int
    public var ref: WindowRef
    public var metric: Int
    /// Ids of the rules that read it.
    public var readers: [String]
}

/// What the engine does for one rule.
public struct RuleOperator: Sendable {
    /// How the rule is evaluated.
    public enum Evaluation: Sendable {
        /// A per-device condition with `for` and hysteresis: alert and limit rules.
        case condition(condition: TypedExpression, forDuration: Double, clear: TypedExpression?)
        /// Version tracking per device: baseline, deny list, staleness, rollout, consistency.
        case compliance
        /// A fleet-level analysis (forecast, drift, correlation, balance) run by an `Analyzer`.
        case analysis
        /// Compiled and checked, but its analysis is not part of this version of the engine.
        case notEvaluated(reason: String)
    }

    public var rule: Rule
    public var evaluation: Evaluation
    /// Ids into `EvaluationPlan.aggregates`.
    public var aggregates: [Int]
    /// Operator pipeline, in order, for `fleetrules plan`.
    public var steps: [String]
    /// Estimated state this rule costs per device, in bytes (its share of windows excluded).
    public var stateBytesPerDevice: Int
    /// Whether evaluation depends on the passing of time (absent/age/now) and needs timers.
    public var timeDependent: Bool
}

/// The compiled form of a policy: shared window aggregates, per-rule operators and the
/// history each metric must keep. `fleetrules plan` prints it.
public struct EvaluationPlan: Sendable {
    public var policy: Policy
    /// Declared metrics in name order; the index is the metric id.
    public var metrics: [MetricDecl]
    public var metricIndex: [String: Int]
    public var aggregates: [WindowAggregate]
    public var operators: [RuleOperator]
    /// Seconds of raw history kept per metric (0: only the latest value).
    public var retention: [Double]
    /// Readings may arrive this much out of order (event time) and still be placed correctly.
    public var lateness: Double

    /// Reporting interval assumed when a metric declares none, for state estimates.
    public static let assumedInterval = 300.0

    /// Bytes of window history per device for metric `m`.
    public func historyBytes(metric m: Int) -> Int {
        let interval = metrics[m].interval ?? Self.assumedInterval
        let points = retention[m] > 0 ? Int((retention[m] / interval).rounded(.up)) + 1 : 0
        // The latest value and its time, plus a ring of (time, value) pairs with its header.
        return 16 + (points > 0 ? 32 + points * 16 : 0)
    }

    /// Estimated state per device for the whole plan.
    public var stateBytesPerDevice: Int {
        let used = Set(aggregates.map(\.metric))
        return used.map { historyBytes(metric: $0) }.reduce(0, +) + operators.map(\.stateBytesPerDevice).reduce(0, +)
    }
}

extension Policy {
    /// Lowers the checked rules into an evaluation plan.
    public func compile(lateness: Double = 300) -> EvaluationPlan {
        let metricList = metrics.values.sorted { $0.name < $1.name }
        var metricIndex: [String: Int] = [:]
        for (i, m) in metricList.enumerated() { metricIndex[m.name] = i }
        var aggregates: [WindowAggregate] = []
        var aggregateIndex: [WindowRef: Int] = [:]
        var retention = Array(repeating: 0.0, count: metricList.count)

        func use(_ ref: WindowRef, by rule: String) -> Int? {
            guard let m = metricIndex[ref.metric] else { return nil }
            if let id = aggregateIndex[ref] {
                if !aggregates[id].readers.contains(rule) { aggregates[id].readers.append(rule) }
                return id
            }
            let id = aggregates.count
            aggregates.append(WindowAggregate(id: id, ref: ref, metric: m, readers: [rule]))
            aggregateIndex[ref] = id
            // Functions over a window need the raw points of that window; absent/last/age need only the latest.
            if let w = ref.seconds, ref.function != .absent { retention[m] = max(retention[m], w) }
            return id
        }

        var operators: [RuleOperator] = []
        for rule in rules {
            var steps: [String] = []
            if let scope = rule.scope { steps.append("filter where \(scope)") }
            let lowering = rule.lowering(metrics: metrics)
            let evaluation = lowering.evaluation
            steps += lowering.steps
            if let s = rule.schedule { steps += s.planSteps }
            var ids: [Int] = []
            var timeDependent = false
            var bytes = 0
            switch evaluation {
            case .condition(let condition, let forDuration, let clear):
                var exprs = [condition]
                if let clear { exprs.append(clear) }
                exprs += rule.levelExpressions
                if let scope = rule.scope { exprs.append(scope) }
                for e in exprs {
                    for ref in e.windows {
                        if let id = use(ref, by: rule.id), !ids.contains(id) { ids.append(id) }
                        if ref.function == .absent || ref.function == .age { timeDependent = true }
                    }
                    e.visit { if case .now = $0 { timeDependent = true } }
                }
                steps += ids.map { "read \(aggregates[$0].ref)" }
                if rule.levels.isEmpty {
                    steps.append("when \(condition)")
                    if forDuration > 0 { steps.append("for \(DurationText.format(forDuration))") }
                    steps += rule.debounceSteps
                    if let clear { steps.append("clear \(clear)") }
                    steps.append("emit \(rule.severity.rawValue) alert")
                } else {
                    steps += rule.levelSteps
                }
                if let m = rule.maintenance { steps.append("schedule \(m.task)") }
                // Phase (1 byte, padded to 8), pending/firing start (8), open episode index (8).
                bytes = 24 + rule.levelStateBytes + (rule.debounce.isEmpty ? 0 : Debounce.stateBytes)
            case .compliance, .analysis:
                bytes = lowering.stateBytesPerDevice
                for e in lowering.reads {
                    for ref in e.windows {
                        if let id = use(ref, by: rule.id), !ids.contains(id) { ids.append(id) }
                    }
                }
            case .notEvaluated(let reason):
                steps.append("not evaluated: \(reason)")
            }
            operators.append(
                RuleOperator(
                    rule: rule, evaluation: evaluation, aggregates: ids, steps: steps, stateBytesPerDevice: bytes,
                    timeDependent: timeDependent))
        }
        return EvaluationPlan(
            policy: self, metrics: metricList, metricIndex: metricIndex, aggregates: aggregates, operators: operators,
            retention: retention, lateness: lateness)
    }
}
