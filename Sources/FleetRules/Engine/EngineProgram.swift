/// The immutable, shared part of an engine: operators lowered to runtime form, which operators
/// each metric wakes, metric ranges and attribute slots. One instance serves any number of engines.
final class EngineProgram: Sendable {
    /// How a condition is evaluated: common threshold shapes skip the expression interpreter.
    enum Kernel: Sendable {
        case threshold(aggregate: Int, op: ComparisonOperator, value: Double)
        /// A conjunction of thresholds (`avg(h, 1h) > 85 and avg(t, 1h) < 12`): holds when every
        /// one holds; a missing value holds nothing, as in the interpreter's three-valued `and`.
        case all([Threshold])
        /// A disjunction of thresholds (a `limit`'s `last(m) < low or last(m) > high`): holds when
        /// one holds with a value; a missing value holds nothing, as in the interpreter's `or`.
        case any([Threshold])
        case general(RuntimeExpression)
    }

    struct Threshold: Sendable {
        var aggregate: Int
        var op: ComparisonOperator
        var value: Double
    }

    struct Operator: Sendable {
        var condition: Kernel
        var clear: Kernel?
        var scope: RuntimeExpression?
        /// Scope decided once per device from inventory attributes.
        var staticScope: Bool
        var forDuration: Double
        var valueAggregate: Int?
        /// (metric, duration) pairs whose elapsing can flip the condition (absent/age).
        var clocks: [(metric: Int, after: Double)]
        /// An alert's severity levels, mildest first (empty: one severity, `condition` decides).
        var levels: [Level] = []
        /// A `for` counted in readings and the `clear_for` (empty: decided by `forDuration` alone).
        var debounce = Debounce()
    }

    /// One severity level of an alert, lowered.
    struct Level: Sendable {
        var severity: AlertSeverity
        var condition: Kernel
        var clear: Kernel?
        var forDuration: Double
    }

    let operators: [Operator?]
    /// Per operator, the evidence every alert of its rule carries (condition text, duration,
    /// range): the same for every episode, so rendered once rather than at each firing.
    let ruleEvidence: [[(String, JSONValue)]]
    /// Per operator, its rule's `summary` template, parsed.
    let summaries: [[SummaryTemplate.Part]?]
    /// Attribute slot → operators whose static `where` reads it: re-decided when telemetry changes it.
    let staticScopesBySlot: [Int: [Int]]
    let operatorsForMetric: [[Int]]
    let attributeSlots: [String: Int]
    let attributeCount: Int
    let rangeLow: [Double]
    let rangeHigh: [Double]
    /// Offset of each metric's rings in the flat ring array, or -1 when only the latest value is kept.
    let ringMetric: [Bool]
    let aggregateMetric: [Int]
    let aggregateFunction: [WindowFunction]
    let aggregateWidth: [Double]
    /// Per aggregate, its running (incremental) window among a device's running windows, or -1.
    /// Aggregates of one metric and width share one window (`stddev(t, 6h)` and `count(t, 6h)`).
    let runningIndex: [Int]
    /// Running windows per device: metric `m` owns `runningStart[m]..<runningStart[m + 1]`.
    let runningStart: [Int]
    let runningWidth: [Double]
    /// Whether a running window keeps the x sums for `slope`.
    let runningSlope: [Bool]
    let siteSlot: Int?
    let gatewaySlot: Int?
    let typeSlot: Int?
    private let aggregateIndex: [WindowRef: Int]

    /// Lowers a typed expression with this program's attribute slots and aggregate ids.
    func lower(_ e: TypedExpression) -> RuntimeExpression {
        RuntimeExpression(e, attributeSlot: { attributeSlots[$0] ?? 0 }, aggregateId: { aggregateIndex[$0] ?? 0 })
    }

    init(plan: EvaluationPlan, inventory: Inventory) {
        var slots: [String: Int] = [:]
        for (i, c) in inventory.columns.enumerated() { slots[c] = i }
        // Attributes the rules use but the inventory lacks still get a slot: telemetry may report them.
        for name in plan.policy.attributes.keys.sorted() where slots[name] == nil { slots[name] = slots.count }
        attributeSlots = slots
        attributeCount = slots.count
        siteSlot = slots["site"]
        gatewaySlot = slots["gateway"]
        typeSlot = slots["type"]
        rangeLow = plan.metrics.map { $0.range?.lowerBound ?? -.infinity }
        rangeHigh = plan.metrics.map { $0.range?.upperBound ?? .infinity }
        ringMetric = plan.retention.map { $0 > 0 }
        aggregateMetric = plan.aggregates.map(\.metric)
        aggregateFunction = plan.aggregates.map(\.ref.function)
        aggregateWidth = plan.aggregates.map { $0.ref.seconds ?? 0 }
        var widths = Array(repeating: [Double](), count: plan.metrics.count)
        var slopes = Array(repeating: [Bool](), count: plan.metrics.count)
        // Per aggregate, its window's position among its metric's windows (-1: no running form).
        var position: [Int] = []
        for a in plan.aggregates {
            guard RunningWindow.supports(a.ref.function), let w = a.ref.seconds else {
                position.append(-1)
                continue
            }
            if let i = widths[a.metric].firstIndex(of: w) {
                slopes[a.metric][i] = slopes[a.metric][i] || a.ref.function == .slope
                position.append(i)
            } else {
                position.append(widths[a.metric].count)
                widths[a.metric].append(w)
                slopes[a.metric].append(a.ref.function == .slope)
            }
        }
        var start = [0]
        for list in widths { start.append(start[start.count - 1] + list.count) }
        runningStart = start
        runningWidth = widths.flatMap { $0 }
        runningSlope = slopes.flatMap { $0 }
        runningIndex = zip(plan.aggregates, position).map { a, i in i < 0 ? -1 : start[a.metric] + i }

        var index: [WindowRef: Int] = [:]
        for a in plan.aggregates { index[a.ref] = a.id }
        aggregateIndex = index
        let slot = { (name: String) in slots[name] ?? 0 }
        let aggregate = { (ref: WindowRef) in index[ref] ?? 0 }
        func threshold(_ e: TypedExpression) -> Threshold? {
            switch e {
            case .compare(let op, .window(let f, let m, let s), .constant(.number(let v)))
            where f != .absent && f != .age:
                return Threshold(aggregate: aggregate(WindowRef(function: f, metric: m, seconds: s)), op: op, value: v)
            case .compare(let op, .window(.age, let m, let s), .constant(.duration(let d))):
                // `age(m) > 2h`: the aggregate is the duration since the latest value, in seconds.
                return Threshold(
                    aggregate: aggregate(WindowRef(function: .age, metric: m, seconds: s)), op: op, value: d)
            default:
                return nil
            }
        }
        func conjuncts(_ e: TypedExpression) -> [TypedExpression] {
            if case .and(let a, let b) = e { return conjuncts(a) + conjuncts(b) }
            return [e]
        }
        func disjuncts(_ e: TypedExpression) -> [TypedExpression] {
            if case .or(let a, let b) = e { return disjuncts(a) + disjuncts(b) }
            return [e]
        }
        func kernel(_ e: TypedExpression) -> Kernel {
            if let t = threshold(e) { return .threshold(aggregate: t.aggregate, op: t.op, value: t.value) }
            let parts = conjuncts(e).compactMap(threshold)
            if parts.count > 1, parts.count == conjuncts(e).count { return .all(parts) }
            let alternatives = disjuncts(e).compactMap(threshold)
            if alternatives.count > 1, alternatives.count == disjuncts(e).count { return .any(alternatives) }
            return .general(RuntimeExpression(e, attributeSlot: slot, aggregateId: aggregate))
        }
        var ops: [Operator?] = []
        var forMetric = Array(repeating: [Int](), count: plan.metrics.count)
        for (o, op) in plan.operators.enumerated() {
            guard case .condition(let condition, let forDuration, let clear) = op.evaluation else {
                ops.append(nil)
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
            var staticScope = false
            if let scope = op.rule.scope {
                var mentionsNow = false
                scope.visit { if case .now = $0 { mentionsNow = true } }
                staticScope = scope.windows.isEmpty && !mentionsNow
            }
            ops.append(
                Operator(
                    condition: kernel(condition), clear: clear.map(kernel),
                    scope: op.rule.scope.map { RuntimeExpression($0, attributeSlot: slot, aggregateId: aggregate) },
                    staticScope: staticScope, forDuration: forDuration, valueAggregate: firstWindow.map(aggregate),
                    clocks: clocks,
                    levels: op.rule.levels.map {
                        Level(
                            severity: $0.severity, condition: kernel($0.condition), clear: $0.clear.map(kernel),
                            forDuration: $0.forDuration)
                    }, debounce: op.rule.debounce))
            for id in op.aggregates where !forMetric[plan.aggregates[id].metric].contains(o) {
                forMetric[plan.aggregates[id].metric].append(o)
            }
        }
        operators = ops
        summaries = plan.operators.map { $0.rule.summary.map(SummaryTemplate.parse) }
        ruleEvidence = plan.operators.map { op in
            var evidence: [(String, JSONValue)] = []
            switch op.rule.body {
            case .alert(let a):
                evidence.append(("condition", .string(a.condition.description)))
                if a.forDuration > 0 { evidence.append(("for_seconds", .number(a.forDuration))) }
                if let clear = a.clear { evidence.append(("clear", .string(clear.description))) }
                if !a.levels.isEmpty { evidence.append(("levels", AlertLevel.evidence(a.levels))) }
                evidence += op.rule.debounceEvidence
            case .limit(let l):
                evidence.append(("metric", .string(l.metric)))
                evidence.append(
                    ("range", .array([l.low.map { .number($0) } ?? .null, l.high.map { .number($0) } ?? .null])))
                if l.forDuration > 0 { evidence.append(("for_seconds", .number(l.forDuration))) }
            default: break
            }
            return evidence
        }
        operatorsForMetric = forMetric.map { $0.sorted() }
        var bySlot: [Int: [Int]] = [:]
        for (o, op) in ops.enumerated() where op?.staticScope == true {
            for name in plan.operators[o].rule.scope?.attributes.sorted() ?? [] {
                if let slot = slots[name] { bySlot[slot, default: []].append(o) }
            }
        }
        staticScopesBySlot = bySlot
    }
}
