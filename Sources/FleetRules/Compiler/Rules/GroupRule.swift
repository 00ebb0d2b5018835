/// `group`: a condition over the members of each group of devices (the values of `by`),
/// evaluated every `every` of event time over each member's current state.
public struct GroupRule: Sendable {
    /// Inventory attributes whose values make a group; empty: the whole fleet is one group.
    public var by: [String]
    /// Seconds of event time between evaluations.
    public var every: Double
    public var condition: GroupExpression
    /// Seconds the condition must hold (at consecutive ticks) before the group fires.
    public var forDuration: Double
    /// Ids of per-device rules whose alerts, for members of a firing group, are inhibited.
    public var inhibits: [String]
    /// Where each name of `inhibits` is written, for the check that it names a per-device rule.
    var inhibitLocations: [SourceRange] = []

    static let defaultEvery = 60.0
    /// The shortest tick: each walks the fleet once.
    static let minimumEvery = 10.0

    static let fields: [FieldSpec] = [
        FieldSpec(
            "by", .oneOf([.name, .list(.name)]),
            "inventory attributes that make a group, one alert per group (default: the whole fleet)"),
        FieldSpec("every", .duration, "evaluation tick in event time, at least 10s (default 1m)"),
        FieldSpec(
            "when", .condition, required: true,
            "a condition over the members, with group functions, e.g. share(age(heartbeat) > 15m) > 20%"),
        FieldSpec("for", .duration, "how long `when` must hold, at consecutive ticks, before the group fires"),
        FieldSpec(
            "inhibits", .oneOf([.name, .list(.name)]),
            "per-device rules whose alerts for members of a firing group are kept in the report, marked inhibited, and not delivered"
        ),
    ]

    static let placeholders = ["value", "group", "members", "matching"]

    static func decode(_ f: [String: YAMLEntry], _ ctx: inout DecodeContext, _ defaults: RuleDefaults) -> GroupRule? {
        // Every field is checked even after an error, so one run reports all of the rule's mistakes.
        var ok = true
        var by: [String] = []
        if let e = f["by"] {
            if let a = ctx.attributes(e.value, "by") { by = a } else { ok = false }
        }
        var every = defaultEvery
        if let e = f["every"] {
            if let v = ctx.duration(e.value, "every") {
                every = v
                if v < minimumEvery {
                    ctx.diagnostics.error(
                        .invalidValue, "`every` must be at least \(DurationText.format(minimumEvery))",
                        at: e.value.range,
                        hint:
                            "each tick walks every device; a condition over many devices rarely needs more than one a minute"
                    )
                    ok = false
                }
            } else {
                ok = false
            }
        }
        let condition = f["when"].flatMap { ctx.groupCondition($0.value) }
        var forDuration: Double? = defaults.forDuration ?? 0
        if let e = f["for"] {
            forDuration = ctx.duration(e.value, "for", allowZero: true)
            if let v = forDuration, v > 0, v < every {
                ctx.diagnostics.warning(
                    .groupForShorterThanTick,
                    "`for: \(DurationText.format(v))` is shorter than the group's tick `every: \(DurationText.format(every))`",
                    at: e.value.range,
                    hint:
                        "a group is evaluated only at its ticks; the condition must hold at two ticks, \(DurationText.format(every)) apart, to fire"
                )
            }
        }
        var inhibits: [String] = []
        var locations: [SourceRange] = []
        if let e = f["inhibits"] {
            let items: [YAMLNode]?
            if case .scalar = e.value.kind { items = [e.value] } else { items = ctx.sequence(e.value, "inhibits") }
            if let items {
                for item in items {
                    if let name = ctx.name(item, "inhibits") {
                        inhibits.append(name)
                        locations.append(item.range)
                    } else {
                        ok = false
                    }
                }
            } else {
                ok = false
            }
        }
        guard ok, let condition, let forDuration else { return nil }
        return GroupRule(
            by: by, every: every, condition: condition, forDuration: forDuration, inhibits: inhibits,
            inhibitLocations: locations)
    }
}

extension PolicyLoader {
    /// E0132 for a name in a group rule's `inhibits` that is not a per-device alert or limit rule.
    static func checkInhibits(_ rules: [Rule], _ bag: inout DiagnosticBag) {
        var kinds: [String: RuleKind] = [:]
        for r in rules { kinds[r.id] = r.kind }
        for rule in rules {
            guard case .group(let g) = rule.body else { continue }
            for (name, range) in zip(g.inhibits, g.inhibitLocations) {
                switch kinds[name] {
                case .alert?, .limit?:
                    continue
                case let kind?:
                    bag.error(
                        .unknownInhibitedRule,
                        "group rule '\(rule.id)' cannot inhibit '\(name)': it is a \(kind.rawValue) rule",
                        at: range, hint: "`inhibits` names per-device alert or limit rules")
                case nil:
                    bag.error(
                        .unknownInhibitedRule, "group rule '\(rule.id)' inhibits unknown rule '\(name)'", at: range,
                        hint: Suggestion.hint(for: name, in: kinds.keys.sorted())
                            ?? "`inhibits` names per-device alert or limit rules of the loaded packs")
                }
            }
        }
    }
}

/// The statistics of a group over its members' values of a per-device expression.
public enum GroupStatistic: String, Sendable, Hashable, CaseIterable {
    case avg = "avg_of", min = "min_of", max = "max_of", median = "median_of", p90 = "p90_of"
}

/// A group rule's condition: comparisons, arithmetic and logic over group functions, whose
/// arguments are per-device expressions evaluated for every member.
public indirect enum GroupExpression: Sendable, CustomStringConvertible {
    /// A number (a `20%` against a share is 0.2) or a duration in seconds.
    case constant(Double)
    case bool(Bool)
    /// `devices(c)`: the members for which `c` holds.
    case devices(TypedExpression)
    /// `share(c)`: `devices(c) / devices(true)`, a ratio; no value for an empty group.
    case share(TypedExpression)
    /// `avg_of(x)` …: over the members' values of `x`; members where `x` has no value are left out.
    case statistic(GroupStatistic, TypedExpression)
    case compare(ComparisonOperator, GroupExpression, GroupExpression)
    case arithmetic(ArithmeticOperator, GroupExpression, GroupExpression)
    case negate(GroupExpression)
    case not(GroupExpression)
    case and(GroupExpression, GroupExpression)
    case or(GroupExpression, GroupExpression)

    public var description: String {
        switch self {
        case .constant(let v): NumberText.format(v)
        case .bool(let b): b ? "true" : "false"
        case .devices(let c): "devices(\(c))"
        case .share(let c): "share(\(c))"
        case .statistic(let s, let x): "\(s.rawValue)(\(x))"
        case .compare(let op, let a, let b): "\(a) \(op.rawValue) \(b)"
        case .arithmetic(let op, let a, let b): "(\(a) \(op.rawValue) \(b))"
        case .negate(let x): "-(\(x))"
        case .not(let x): "not (\(x))"
        case .and(let a, let b): "(\(a) and \(b))"
        case .or(let a, let b): "(\(a) or \(b))"
        }
    }

    /// The per-device expressions the group functions read, in first-use order.
    public var memberTerms: [GroupTerm] {
        var out: [GroupTerm] = []
        visit { e in
            let term: GroupTerm
            switch e {
            case .devices(let c), .share(let c): term = .condition(c)
            case .statistic(_, let x): term = .value(x)
            default: return
            }
            if !out.contains(term) { out.append(term) }
        }
        return out
    }

    /// The left side of the first comparison: what `{{value}}` shows.
    public var valueSide: GroupExpression? {
        var found: GroupExpression?
        visit { e in
            if found == nil, case .compare(_, let a, _) = e { found = a }
        }
        return found
    }

    /// Calls `body` on this node and every sub-expression, parents first, left to right.
    public func visit(_ body: (GroupExpression) -> Void) {
        body(self)
        switch self {
        case .constant, .bool, .devices, .share, .statistic: break
        case .compare(_, let a, let b), .arithmetic(_, let a, let b), .and(let a, let b), .or(let a, let b):
            a.visit(body)
            b.visit(body)
        case .negate(let x), .not(let x): x.visit(body)
        }
    }
}

/// A per-device expression a group function reads: a condition counted, or a value collected.
public enum GroupTerm: Sendable, Hashable {
    case condition(TypedExpression)
    case value(TypedExpression)

    public var expression: TypedExpression {
        switch self {
        case .condition(let e), .value(let e): e
        }
    }
}

/// What a group-level sub-expression is, for the checker: its kind of value and unit.
struct GroupChecked {
    enum Kind: Equatable {
        case bool
        /// A count of members (`devices()`).
        case count
        /// A ratio (`share()`).
        case ratio
        /// A statistic of a per-device number with its unit.
        case value(unit: String?)
        case duration
        /// A bare number literal: takes the other side's kind.
        case literal
        /// A `30%` literal: 0.3 against a ratio, 30 against a percent value.
        case percent
    }

    var expr: GroupExpression
    var kind: Kind

    var isNumeric: Bool { kind != .bool }

    var kindText: String {
        switch kind {
        case .bool: "a condition"
        case .count: "a count of devices"
        case .ratio: "a share (ratio)"
        case .value(let unit): unit.map { "a value in \($0)" } ?? "a number"
        case .duration: "a duration"
        case .literal: "a number"
        case .percent: "a percentage"
        }
    }
}

extension DecodeContext {
    static let groupFunctions = ["devices", "share"] + GroupStatistic.allCases.map(\.rawValue)

    /// A group rule's `when`, checked: group functions over per-device expressions.
    mutating func groupCondition(_ node: YAMLNode) -> GroupExpression? {
        guard let e = expression(node, "when"), checker.withinLimits(e, "when", &diagnostics),
            let c = groupCheck(e)
        else { return nil }
        guard c.kind == .bool else {
            diagnostics.error(
                .notBoolean, "a group rule's condition must be true or false, but this is \(c.kindText)",
                at: e.range, hint: "compare it, e.g. `\(e.rangeText) > 20%`")
            return nil
        }
        return c.expr
    }

    private mutating func groupCheck(_ e: Expression) -> GroupChecked? {
        // A sub-expression that names something but uses no group function is per-device as a
        // whole (`last(rssi) < -100`): reported once, with the wrapping that makes it a group value.
        if case .binary = e.kind, !Self.uses(e, groupFunctions: true), Self.uses(e, groupFunctions: false) {
            return perDevice(e)
        }
        switch e.kind {
        case .number(let n, let percent):
            return GroupChecked(expr: .constant(n), kind: percent ? .percent : .literal)
        case .duration(let s):
            return GroupChecked(expr: .constant(s), kind: .duration)
        case .bool(let b):
            return GroupChecked(expr: .bool(b), kind: .bool)
        case .call(let name, let args) where Self.groupFunctions.contains(name):
            return groupFunction(name, args, e)
        case .unary(.not, let x):
            guard let c = groupCheck(x) else { return nil }
            guard c.kind == .bool else {
                diagnostics.error(.typeMismatch, "`not` needs a condition, but this is \(c.kindText)", at: x.range)
                return nil
            }
            return GroupChecked(expr: .not(c.expr), kind: .bool)
        case .unary(.negate, let x):
            guard let c = groupCheck(x) else { return nil }
            guard c.isNumeric else {
                diagnostics.error(.typeMismatch, "cannot negate a condition", at: e.range)
                return nil
            }
            return GroupChecked(expr: .negate(c.expr), kind: c.kind)
        case .binary(let op, let lhs, let rhs) where op == .and || op == .or:
            let a = groupCheck(lhs)
            let b = groupCheck(rhs)
            guard let a, let b else { return nil }
            for (c, x) in [(a, lhs), (b, rhs)] where c.kind != .bool {
                diagnostics.error(
                    .notBoolean, "`\(op.rawValue)` needs conditions on both sides, but this is \(c.kindText)",
                    at: x.range, hint: "compare it, e.g. `\(x.rangeText) > 0`")
                return nil
            }
            return GroupChecked(expr: op == .and ? .and(a.expr, b.expr) : .or(a.expr, b.expr), kind: .bool)
        case .binary(let op, let lhs, let rhs) where op.isComparison && op != .in && op != .matches:
            let a = groupCheck(lhs)
            let b = groupCheck(rhs)
            guard let a, let b else { return nil }
            guard let (l, r) = groupUnify(a, b, lhs, rhs, e) else { return nil }
            guard let cmp = ComparisonOperator(rawValue: op.rawValue) else { return nil }
            return GroupChecked(expr: .compare(cmp, l.expr, r.expr), kind: .bool)
        case .binary(let op, let lhs, let rhs)
        where op == .add || op == .subtract || op == .multiply || op == .divide:
            let a = groupCheck(lhs)
            let b = groupCheck(rhs)
            guard let a, let b else { return nil }
            guard let arith = ArithmeticOperator(rawValue: op.rawValue) else { return nil }
            guard a.isNumeric, b.isNumeric else {
                diagnostics.error(
                    .typeMismatch, "`\(op.rawValue)` needs numbers on both sides", at: e.range)
                return nil
            }
            if op == .multiply || op == .divide {
                // Scaling by a bare number keeps the other side's kind: `2 * median_of(x)`.
                let kind: GroupChecked.Kind =
                    b.kind == .literal ? a.kind : a.kind == .literal && op == .multiply ? b.kind : .value(unit: nil)
                return GroupChecked(expr: .arithmetic(arith, a.expr, b.expr), kind: kind)
            }
            guard let (l, r) = groupUnify(a, b, lhs, rhs, e) else { return nil }
            let kind = l.kind == .literal ? r.kind : l.kind
            return GroupChecked(expr: .arithmetic(arith, l.expr, r.expr), kind: kind)
        default:
            return perDevice(e)
        }
    }

    /// Whether `e` calls a group function (`groupFunctions`), or names anything at all: an
    /// identifier or a call.
    private static func uses(_ e: Expression, groupFunctions: Bool) -> Bool {
        switch e.kind {
        case .identifier: return !groupFunctions
        case .call(let name, let args):
            if !groupFunctions || Self.groupFunctions.contains(name) { return true }
            return args.contains { uses($0, groupFunctions: true) }
        case .unary(_, let x): return uses(x, groupFunctions: groupFunctions)
        case .binary(_, let a, let b):
            return uses(a, groupFunctions: groupFunctions) || uses(b, groupFunctions: groupFunctions)
        case .list(let items): return items.contains { uses($0, groupFunctions: groupFunctions) }
        default: return false
        }
    }

    /// A per-device value (a metric's window, an attribute, a macro) where a group value is
    /// needed, or a mistake: says which, with the checker's own diagnostics for a mistake.
    private mutating func perDevice(_ e: Expression) -> GroupChecked? {
        var scratch = DiagnosticBag()
        guard let c = checker.check(e, &scratch), !scratch.hasErrors else {
            diagnostics.append(contentsOf: scratch.items)
            return nil
        }
        let text = e.rangeText
        let example = c.type == .bool ? "share(\(text)) > 20%" : "median_of(\(text))"
        diagnostics.error(
            .perDeviceInGroup,
            "`\(text)` is a per-device \(c.type == .bool ? "condition" : "value"); a group rule reads its members through group functions",
            at: e.range,
            hint: "wrap it in devices(), share() or avg_of()/min_of()/max_of()/median_of()/p90_of(), e.g. \(example)")
        return nil
    }

    /// Makes two numeric sides comparable: a literal takes the other side's kind, `20%` is 0.2
    /// against a share; a count, a share, a duration and values of different units do not mix.
    private mutating func groupUnify(
        _ a: GroupChecked, _ b: GroupChecked, _ lhs: Expression, _ rhs: Expression, _ e: Expression
    ) -> (GroupChecked, GroupChecked)? {
        guard a.isNumeric, b.isNumeric else {
            let bad = a.isNumeric ? rhs : lhs
            diagnostics.error(
                .typeMismatch, "a condition cannot be compared or added; `\(bad.rangeText)` is true or false",
                at: bad.range)
            return nil
        }
        func adapt(_ literal: GroupChecked, to other: GroupChecked, _ node: Expression) -> GroupChecked? {
            guard case .constant(let v) = literal.expr else { return literal }
            switch (literal.kind, other.kind) {
            case (.literal, .duration):
                diagnostics.error(
                    .unitMismatch, "`\(node.rangeText)` is a bare number compared with a duration", at: node.range,
                    hint: "write the duration with its unit, e.g. 15m")
                return nil
            case (.percent, .ratio), (.percent, .value(unit: "ratio")):
                return GroupChecked(expr: .constant(v / 100), kind: other.kind)
            case (.percent, .value(unit: "percent")), (.percent, .value(unit: nil)), (.percent, .literal),
                (.percent, .percent), (.literal, _):
                return GroupChecked(expr: literal.expr, kind: other.kind)
            case (.percent, _):
                diagnostics.error(
                    .unitMismatch, "`\(node.rangeText)` is a percentage, compared with \(other.kindText)",
                    at: node.range,
                    hint: other.kind == .count
                        ? "compare a share with a percentage: share(c) > \(node.rangeText)"
                        : "write the value in the other side's unit")
                return nil
            default:
                return literal
            }
        }
        var l = a
        var r = b
        if a.kind == .literal || a.kind == .percent {
            guard let x = adapt(a, to: b, lhs) else { return nil }
            l = x
        } else if b.kind == .literal || b.kind == .percent {
            guard let x = adapt(b, to: a, rhs) else { return nil }
            r = x
        }
        if l.kind != r.kind, l.kind != .literal, r.kind != .literal {
            diagnostics.error(
                .unitMismatch, "cannot combine \(l.kindText) with \(r.kindText)", at: e.range,
                hint: l.kind == .count || r.kind == .count
                    ? "devices() counts members; share() gives their ratio, which compares with a percentage"
                    : "both sides must have the same unit")
            return nil
        }
        return (l, r)
    }

    private mutating func groupFunction(_ name: String, _ args: [Expression], _ e: Expression) -> GroupChecked? {
        guard args.count == 1 else {
            diagnostics.error(
                .groupFunctionArgument, "\(name)() takes 1 argument, got \(args.count)", at: e.range,
                hint: name == "devices" || name == "share"
                    ? "write \(name)(age(heartbeat) > 15m)" : "write \(name)(avg(temperature, 1h))")
            return nil
        }
        if case .call(let inner, _) = args[0].kind, Self.groupFunctions.contains(inner) {
            diagnostics.error(
                .groupFunctionArgument, "group functions do not nest: \(inner)() inside \(name)()",
                at: args[0].range, hint: "the argument is evaluated per member device")
            return nil
        }
        guard checker.withinLimits(args[0], "\(name)()", &diagnostics), let c = checker.check(args[0], &diagnostics)
        else { return nil }
        switch name {
        case "devices", "share":
            guard c.type == .bool else {
                diagnostics.error(
                    .groupFunctionArgument,
                    "\(name)() counts members for which a condition holds, but this is a \(c.type)",
                    at: args[0].range, hint: "e.g. \(name)(\(args[0].rangeText) > 0), or \(name)(true) for every member"
                )
                return nil
            }
            return GroupChecked(
                expr: name == "devices" ? .devices(c.expr) : .share(c.expr), kind: name == "devices" ? .count : .ratio)
        default:
            guard let stat = GroupStatistic(rawValue: name) else { return nil }
            switch c.type {
            case .number(let unit):
                return GroupChecked(expr: .statistic(stat, c.expr), kind: .value(unit: unit))
            case .duration:
                return GroupChecked(expr: .statistic(stat, c.expr), kind: .duration)
            default:
                diagnostics.error(
                    .groupFunctionArgument, "\(name)() takes a per-device number, but this is a \(c.type)",
                    at: args[0].range, hint: "e.g. \(name)(avg(temperature, 1h)); to count devices use devices(c)")
                return nil
            }
        }
    }
}
