import Foundation

/// Evaluates a `group` rule: at every tick of `every` in event time, each device the rule's
/// `where` admits is a member of the group its `by` attributes name; the group functions count
/// the members for which a per-device condition holds or collect their values of a per-device
/// expression, read from the engine's window aggregates at the tick's time (so a silent
/// device's `age()` keeps growing). One finding per group, opened after `for` at consecutive ticks.
///
/// State per device is its group and whether its group attributes changed (O(1)); per group a
/// phase and its start. The tick walks the fleet once: O(devices) per tick, nothing per reading.
struct GroupAnalyzer: Analyzer {
    let operatorIndex: Int
    let rule: GroupRule
    var metrics: [Int] { [] }
    var tickInterval: Double { rule.every }

    /// The condition with its group functions resolved to term indices.
    indirect enum Node: Sendable {
        case constant(Double)
        case bool(Bool)
        case devices(Int)
        case share(Int)
        case statistic(GroupStatistic, Int)
        case compare(ComparisonOperator, Node, Node)
        case arithmetic(ArithmeticOperator, Node, Node)
        case negate(Node)
        case not(Node)
        case and(Node, Node)
        case or(Node, Node)
    }

    private let terms: [GroupTerm]
    private let node: Node
    private let valueNode: Node?
    /// What `{{value}}` is: a share shows as a percentage, a duration with its unit.
    private let valueIsShare: Bool
    private let valueIsDuration: Bool
    /// The first counted condition: its matching members are the finding's evidence.
    private let evidenceTerm: Int?

    /// How a member's term is evaluated: the common shapes without the expression interpreter.
    enum TermKernel: Sendable {
        /// `devices(true)`: every member counts.
        case always
        /// `fn(m[, w]) <op> number` or `age(m) <op> duration`.
        case threshold(aggregate: Int, op: ComparisonOperator, value: Double)
        /// A value term that is one aggregate: `avg(temperature, 1h)`.
        case aggregate(Int)
        case general
    }

    /// Lowered on the first tick, with the engine's attribute slots and aggregate ids.
    private var lowered: [RuntimeExpression] = []
    private var kernels: [TermKernel] = []
    /// The engine's count of attribute changes when groups were last re-read (-1: never).
    private var refreshedAt = -1
    private var scope: RuntimeExpression?
    /// The `where` reads only inventory attributes: decided when they change, not every tick.
    private var staticScope = true
    /// Attribute slots of `by`, then of a static `where`; their values per device as last seen.
    private var slots: [Int] = []
    private var byCount = 0
    private var seenValues: [String]
    /// Per device: its group (-1: none yet) and whether a static `where` admits it.
    private var groupOf: [Int32]
    private var admitted: [Bool]
    private var ready = false

    /// Groups in order of first appearance.
    private var groupIndex: [String: Int32] = [:]
    private(set) var groupKeys: [String] = []
    private var groupValues: [[String]] = []
    /// Per group: 0 idle, 1 pending, 2 firing, and since when.
    private var phase: [UInt8] = []
    private var since: [Double] = []

    /// Scratch of one tick, per group (flat by term where per term).
    private var members: [Int] = []
    private var counts: [Int] = []
    private var values: [[Double]] = []
    private var matching: [[Int]] = []
    private var memberList: [[Int]] = []

    static let evidenceLimit = 50

    init(operatorIndex: Int, rule: GroupRule, plan: EvaluationPlan, inventory: Inventory) {
        self.operatorIndex = operatorIndex
        self.rule = rule
        let terms = rule.condition.memberTerms
        self.terms = terms
        func lower(_ e: GroupExpression) -> Node {
            switch e {
            case .constant(let v): .constant(v)
            case .bool(let b): .bool(b)
            case .devices(let c): .devices(terms.firstIndex(of: .condition(c)) ?? 0)
            case .share(let c): .share(terms.firstIndex(of: .condition(c)) ?? 0)
            case .statistic(let s, let x): .statistic(s, terms.firstIndex(of: .value(x)) ?? 0)
            case .compare(let op, let a, let b): .compare(op, lower(a), lower(b))
            case .arithmetic(let op, let a, let b): .arithmetic(op, lower(a), lower(b))
            case .negate(let x): .negate(lower(x))
            case .not(let x): .not(lower(x))
            case .and(let a, let b): .and(lower(a), lower(b))
            case .or(let a, let b): .or(lower(a), lower(b))
            }
        }
        node = lower(rule.condition)
        let side = rule.condition.valueSide
        valueNode = side.map(lower)
        var share = false
        var duration = false
        if case .share? = side { share = true }
        if case .statistic(_, let x)? = side, case .window(.age, _, _) = x { duration = true }
        valueIsShare = share
        valueIsDuration = duration
        evidenceTerm = terms.firstIndex { if case .condition = $0 { true } else { false } }
        let n = inventory.count
        seenValues = []
        groupOf = Array(repeating: -1, count: n)
        admitted = Array(repeating: true, count: n)
    }

    mutating func observe(device: Int, metric: Int, value: Double, time: Double) {}

    /// Slots and runtime expressions, from the engine's program at the first tick.
    private mutating func prepare(_ context: AnalysisContext) {
        ready = true
        let program = context.inputs.program
        lowered = terms.map { program.lower($0.expression) }
        kernels = zip(terms, lowered).map { term, e in
            switch (term, e) {
            case (.condition, .constant(.bool(true))): .always
            case (.condition, .compareNumbers(let op, .aggregate(let a), .constant(.number(let v)))),
                (.condition, .compareNumbers(let op, .aggregate(let a), .constant(.duration(let v)))):
                .threshold(aggregate: a, op: op, value: v)
            case (.value, .aggregate(let a)): .aggregate(a)
            default: .general
            }
        }
        if let s = context.rule.scope {
            scope = program.lower(s)
            var mentionsNow = false
            s.visit { if case .now = $0 { mentionsNow = true } }
            staticScope = s.windows.isEmpty && !mentionsNow
        }
        slots = rule.by.map { context.attributeSlots[$0] ?? -1 }
        byCount = slots.count
        if staticScope, let s = context.rule.scope {
            slots += s.attributes.sorted().map { context.attributeSlots[$0] ?? -1 }
        }
        seenValues = Array(repeating: "\u{0}", count: context.devices * slots.count)
    }

    /// The group a device belongs to now, and whether a static `where` admits it: re-decided
    /// only when one of the attributes they read changed since the last tick.
    private mutating func refresh(device d: Int, _ inputs: inout MemberInputs, _ context: AnalysisContext) {
        let row = context.attributes[d]
        let width = slots.count
        var changed = false
        for j in 0..<width {
            let s = slots[j]
            let v = s >= 0 && s < row.count ? row[s] : ""
            if seenValues[d * width + j] != v {
                seenValues[d * width + j] = v
                changed = true
            }
        }
        guard changed || width == 0 && groupOf[d] < 0 else { return }
        let values = (0..<byCount).map { seenValues[d * width + $0] }
        let key = values.isEmpty ? "fleet" : values.joined(separator: "/")
        if let g = groupIndex[key] {
            groupOf[d] = g
        } else {
            let g = Int32(groupKeys.count)
            groupIndex[key] = g
            groupKeys.append(key)
            groupValues.append(values)
            phase.append(0)
            since.append(0)
            groupOf[d] = g
        }
        if staticScope, let scope {
            inputs.device = d
            admitted[d] = scope.truth(&inputs) == 1
        }
    }

    mutating func tick(at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink) {
        if !ready { prepare(context) }
        var inputs = MemberInputs(metrics: context.inputs.metrics, attributes: context.attributes, now: time)
        let n = context.devices
        // Groups and a static `where` change only when telemetry changes an attribute.
        if refreshedAt != context.inputs.attributeChanges {
            for d in 0..<n { refresh(device: d, &inputs, context) }
            refreshedAt = context.inputs.attributeChanges
        }
        let metrics = context.inputs.metrics
        let groups = groupKeys.count
        let k = terms.count
        members = Array(repeating: 0, count: groups)
        counts = Array(repeating: 0, count: groups * k)
        if values.count != groups * k { values = Array(repeating: [], count: groups * k) }
        for i in values.indices { values[i].removeAll(keepingCapacity: true) }
        matching = Array(repeating: [], count: groups)
        let inhibits = !rule.inhibits.isEmpty
        memberList = inhibits ? Array(repeating: [], count: groups) : []
        for d in 0..<n {
            let g = Int(groupOf[d])
            guard g >= 0, admitted[d] else { continue }
            inputs.device = d
            if !staticScope, let scope, scope.truth(&inputs) != 1 { continue }
            members[g] += 1
            if inhibits { memberList[g].append(d) }
            for t in 0..<k {
                let holds: Bool
                switch kernels[t] {
                case .always:
                    holds = true
                case .threshold(let a, let op, let value):
                    let v = metrics.numberReading(a, device: d, at: time)
                    holds = !v.isNaN && RuntimeExpression.order(op, v, value)
                case .aggregate(let a):
                    let v = metrics.numberReading(a, device: d, at: time)
                    if v.isFinite { values[g * k + t].append(v) }
                    continue
                case .general:
                    if case .value = terms[t] {
                        if let v = lowered[t].number(&inputs), v.isFinite { values[g * k + t].append(v) }
                        continue
                    }
                    holds = lowered[t].truth(&inputs) == 1
                }
                if holds {
                    counts[g * k + t] += 1
                    if t == evidenceTerm { matching[g].append(d) }
                }
            }
        }
        for g in 0..<groups { step(group: g, at: time, context, &findings) }
    }

    private mutating func step(group g: Int, at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink)
    {
        let holds = truth(node, g) == true
        guard holds else {
            if phase[g] == 2 { findings.resolve(groupKeys[g], at: time) }
            phase[g] = 0
            return
        }
        if phase[g] == 0 {
            phase[g] = 1
            since[g] = time
        }
        if phase[g] == 1, time - since[g] >= rule.forDuration { phase[g] = 2 }
        guard phase[g] == 2 else { return }
        findings.report(finding(group: g, at: time, context))
    }

    /// The group's finding at this tick: value, summary and the members the condition counted.
    private func finding(group g: Int, at time: Double, _ context: AnalysisContext) -> FindingSink.Finding {
        let value = valueNode.flatMap { number($0, g) }
        let valueText: String
        if let value {
            valueText =
                valueIsShare
                ? NumberText.format(value * 100) + "%"
                : valueIsDuration ? DurationText.format(value.rounded()) : NumberText.format(value)
        } else {
            valueText = ""
        }
        let key = groupKeys[g]
        let matched = matching[g]
        var extra = ["value": valueText, "group": key, "members": "\(members[g])", "matching": "\(matched.count)"]
        for (a, v) in zip(rule.by, groupValues[g]) { extra[a] = v }
        var evidence: [(String, JSONValue)] = [
            ("group", .string(key)), ("condition", .string(rule.condition.description)),
            ("members", .number(Double(members[g]))),
        ]
        if evidenceTerm != nil {
            evidence.append(("matching", .number(Double(matched.count))))
            evidence.append(
                (
                    "matching_devices",
                    .array(matched.prefix(Self.evidenceLimit).map { .string(context.deviceID($0)) })
                ))
        }
        if rule.forDuration > 0 { evidence.append(("for_seconds", .number(rule.forDuration))) }
        var site: String?
        if let i = rule.by.firstIndex(of: "site") { site = groupValues[g][i] }
        var f = FindingSink.Finding(
            key: key, device: -1, site: site, severity: context.rule.severity, value: value,
            summary: context.renderSummary(
                device: -1, fallback: "\(key): \(rule.condition) (\(members[g]) members)", extra: extra),
            evidence: evidence, maintenance: context.rule.maintenance, since: since[g])
        if !rule.inhibits.isEmpty { f.members = memberList[g] }
        return f
    }

    private func truth(_ e: Node, _ g: Int) -> Bool? {
        switch e {
        case .bool(let b): return b
        case .compare(let op, let a, let b):
            guard let l = number(a, g), let r = number(b, g), !l.isNaN, !r.isNaN else { return nil }
            return RuntimeExpression.order(op, l, r)
        case .not(let x): return truth(x, g).map { !$0 }
        case .and(let a, let b):
            let l = truth(a, g)
            if l == false { return false }
            let r = truth(b, g)
            if r == false { return false }
            return l == true && r == true ? true : nil
        case .or(let a, let b):
            let l = truth(a, g)
            if l == true { return true }
            let r = truth(b, g)
            if r == true { return true }
            return l == false && r == false ? false : nil
        default: return nil
        }
    }

    private func number(_ e: Node, _ g: Int) -> Double? {
        let k = terms.count
        switch e {
        case .constant(let v): return v
        case .devices(let t): return Double(counts[g * k + t])
        case .share(let t): return members[g] > 0 ? Double(counts[g * k + t]) / Double(members[g]) : nil
        case .statistic(let s, let t): return Self.statistic(s, values[g * k + t])
        case .arithmetic(let op, let a, let b):
            guard let l = number(a, g), let r = number(b, g) else { return nil }
            switch op {
            case .add: return l + r
            case .subtract: return l - r
            case .multiply: return l * r
            case .divide: return r != 0 ? l / r : nil
            }
        case .negate(let x): return number(x, g).map { -$0 }
        default: return nil
        }
    }

    /// A statistic of the members' values; nil when no member has one. Percentiles interpolate
    /// linearly between closest ranks, as the window percentiles do.
    static func statistic(_ s: GroupStatistic, _ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        switch s {
        case .avg: return values.reduce(0, +) / Double(values.count)
        case .min: return values.min()
        case .max: return values.max()
        case .median: return RobustStatistics.median(values)
        case .p90:
            let sorted = values.sorted()
            let h = 0.9 * Double(sorted.count - 1)
            let i = Int(h)
            return i + 1 < sorted.count ? sorted[i] + (h - Double(i)) * (sorted[i + 1] - sorted[i]) : sorted[i]
        }
    }

    /// Per group, what `explain` shows: members, each group function's value, the verdict.
    func explanation(group key: String) -> GroupExplanation? {
        guard let g = groupIndex[key].map(Int.init), g < members.count else { return nil }
        var parts: [(String, String)] = []
        var seen: Set<String> = []
        rule.condition.visit { e in
            let text = e.description
            let value: String
            switch e {
            case .devices, .share, .statistic:
                guard !seen.contains(text), let index = Self.nodeIndex(e, terms) else { return }
                seen.insert(text)
                value =
                    number(index, g).map { v in
                        if case .share = e { return NumberText.format(v * 100) + "%" }
                        return NumberText.format(v)
                    } ?? "no value"
            default: return
            }
            parts.append((text, value))
        }
        return GroupExplanation(
            group: key, members: members[g], terms: parts, value: valueNode.flatMap { number($0, g) },
            holds: truth(node, g), phase: phase[g] == 2 ? "firing" : phase[g] == 1 ? "pending" : "idle",
            since: phase[g] == 0 ? nil : since[g],
            matching: evidenceTerm.map { _ in matching[g].prefix(Self.evidenceLimit).map { $0 } } ?? [])
    }

    /// A group function as a node of the lowered condition.
    private static func nodeIndex(_ e: GroupExpression, _ terms: [GroupTerm]) -> Node? {
        switch e {
        case .devices(let c): terms.firstIndex(of: .condition(c)).map { .devices($0) }
        case .share(let c): terms.firstIndex(of: .condition(c)).map { .share($0) }
        case .statistic(let s, let x): terms.firstIndex(of: .value(x)).map { .statistic(s, $0) }
        default: nil
        }
    }

    /// The group device `d` belonged to at the latest tick ("" before the first).
    func group(of d: Int) -> String {
        guard d < groupOf.count, groupOf[d] >= 0 else { return "" }
        return groupKeys[Int(groupOf[d])]
    }

    /// Whether device `d` was admitted by the rule's `where` at the latest tick (static scopes).
    func admits(_ d: Int) -> Bool { d < admitted.count && admitted[d] }

    /// Every group seen so far, in order of first appearance.
    var groups: [String] { groupKeys }
}

/// One group of a group rule at its latest tick, for `explain`.
public struct GroupExplanation: Sendable {
    public var group: String
    public var members: Int
    /// Each group function over the members, with its value at the tick.
    public var terms: [(String, String)]
    public var value: Double?
    /// Whether the condition held at the tick (nil: no value, so it did not).
    public var holds: Bool?
    public var phase: String
    public var since: Double?
    /// Inventory indices of the members the first counted condition held for (up to 50).
    var matching: [Int] = []
    /// Their device ids (up to 50).
    public var matchingDevices: [String] = []
}

/// The inputs of a member's per-device expression at a tick: its attributes and the window
/// aggregates of its metrics at the tick's time, read without advancing running sums.
struct MemberInputs: EvaluationInputs {
    let metrics: MetricStore
    let attributes: [[String]]
    let now: Double
    var device = 0

    init(metrics: MetricStore, attributes: [[String]], now: Double) {
        self.metrics = metrics
        self.attributes = attributes
        self.now = now
    }

    func attribute(_ slot: Int) -> String? {
        let row = attributes[device]
        guard slot < row.count else { return nil }
        let v = row[slot]
        return v.isEmpty ? nil : v
    }

    mutating func aggregate(_ id: Int) -> RuntimeValue? {
        metrics.aggregateValueReading(id, device: device, at: now)
    }
}
