/// One severity of an alert with `levels:`: its own condition, hysteresis and `for`.
public struct AlertLevel: Sendable, Hashable {
    public var severity: AlertSeverity
    public var condition: TypedExpression
    /// Once firing, the level falls back only when this holds (default: `not condition`).
    public var clear: TypedExpression?
    /// Seconds the condition must hold before the level is reached.
    public var forDuration: Double

    static let fields: [FieldSpec] = [
        FieldSpec("severity", .severity, required: true, "the severity of the alert while this level holds"),
        FieldSpec("when", .condition, required: true, "the level's condition, e.g. last(battery_pct) < 10"),
        FieldSpec("clear", .condition, "once reached, the level falls back only when this holds"),
        FieldSpec("for", .duration, "how long `when` must hold before the level is reached (default: the rule's)"),
    ]

    /// The JSON Schema and the decoder's table of the `levels:` key.
    static let spec = FieldSpec(
        "levels", .list(.object(fields)),
        "several severities in one alert, mildest first; one episode per device changes severity between them")

    /// Reads `levels:`: a non-empty list of levels, strictly ascending in severity (E0121),
    /// whose simple thresholds on one value are reached in that order (E0122).
    static func decode(_ node: YAMLNode, _ ctx: inout DecodeContext, defaultFor: Double) -> [AlertLevel]? {
        guard let items = ctx.sequence(node, "levels", hint: "e.g. levels: [{ severity: warning, when: … }]") else {
            return nil
        }
        guard !items.isEmpty else {
            ctx.diagnostics.error(
                .invalidLevels, "`levels` needs at least one level", at: node.range,
                hint: "e.g. - { severity: warning, when: last(battery_pct) < 20 }")
            return nil
        }
        var levels: [AlertLevel] = []
        var nodes: [YAMLNode] = []
        var ok = true
        for item in items {
            guard let f = ctx.fields(item, fields, in: "level") else {
                ok = false
                continue
            }
            let severity = f["severity"].flatMap { ctx.severity($0.value) }
            let when = f["when"].flatMap { ctx.condition($0.value, "when") }
            if let when { ctx.warnIfConstant(when, what: "the level") }
            var clear: TypedExpression?
            var clearOK = true
            if let e = f["clear"] {
                clear = ctx.condition(e.value, "clear")?.expr
                clearOK = clear != nil
            }
            var forDuration: Double? = defaultFor
            if let e = f["for"] {
                forDuration = ctx.duration(e.value, "for", allowZero: true)
                if let v = forDuration, let when { ctx.warnIfShorterThanInterval(v, node: e.value, reading: when.expr) }
            }
            guard let severity, let when, clearOK, let forDuration else {
                ok = false
                continue
            }
            levels.append(AlertLevel(severity: severity, condition: when.expr, clear: clear, forDuration: forDuration))
            nodes.append(item)
        }
        guard ok else { return nil }
        for i in levels.indices.dropFirst() where levels[i].severity <= levels[i - 1].severity {
            let same = levels[i].severity == levels[i - 1].severity
            ctx.diagnostics.error(
                .invalidLevels,
                same
                    ? "two levels have severity \(levels[i].severity.rawValue)"
                    : "level \(levels[i].severity.rawValue) comes after the more severe \(levels[i - 1].severity.rawValue)",
                at: nodes[i].range,
                hint: "list the levels from the mildest to the most severe, one per severity (info, warning, critical)")
            ok = false
        }
        guard ok else { return nil }
        for i in levels.indices.dropFirst() {
            guard let lower = threshold(levels[i - 1].condition), let upper = threshold(levels[i].condition),
                lower.left == upper.left, lower.descending == upper.descending
            else { continue }
            // Both `x < a`: the more severe level must be the lower bound (`x < b`, b ≤ a); both `x > a`: b ≥ a.
            let misordered = lower.descending ? upper.bound > lower.bound : upper.bound < lower.bound
            if misordered {
                ctx.diagnostics.error(
                    .overlappingLevels,
                    "level \(levels[i].severity.rawValue) (\(levels[i].condition)) is reached before level \(levels[i - 1].severity.rawValue) (\(levels[i - 1].condition))",
                    at: nodes[i].range,
                    hint:
                        "the more severe level's threshold must lie beyond the milder one's, e.g. warning at < 20 and critical at < 10"
                )
                ok = false
            }
        }
        return ok ? levels : nil
    }

    /// `x < a` / `x <= a` (descending: lower is worse) or `x > a` / `x >= a`, with a number bound.
    private static func threshold(_ e: TypedExpression) -> (left: TypedExpression, bound: Double, descending: Bool)? {
        guard case .compare(let op, let left, .constant(.number(let v))) = e else { return nil }
        switch op {
        case .less, .lessEqual: return (left, v, true)
        case .greater, .greaterEqual: return (left, v, false)
        default: return nil
        }
    }
}

extension AlertRule {
    /// A levels rule's condition as a whole: some level's `when` holds.
    static func anyLevel(_ levels: [AlertLevel]) -> TypedExpression {
        levels.dropFirst().reduce(levels[0].condition) { .or($0, $1.condition) }
    }
}

extension Rule {
    /// The severity levels of an alert rule (empty: one severity).
    var levels: [AlertLevel] {
        if case .alert(let a) = body { return a.levels }
        return []
    }

    /// Expressions of the levels besides the rule's condition (their `clear`s), for the aggregates they read.
    var levelExpressions: [TypedExpression] { levels.compactMap(\.clear) }

    /// Plan steps of a levels rule, one line per level.
    var levelSteps: [String] {
        levels.map { l in
            var s = "level \(l.severity.rawValue): when \(l.condition)"
            if l.forDuration > 0 { s += " for \(DurationText.format(l.forDuration))" }
            if let c = l.clear { s += " clear \(c)" }
            return s
        } + ["emit one alert per device; a change of level updates it"]
    }

    /// State of the levels per device: a phase (1, padded to 8) and its start (8) per level, and the level reached (8).
    var levelStateBytes: Int { levels.isEmpty ? 0 : levels.count * 16 + 8 }
}

extension RuleBody {
    /// The severity levels of an alert rule (empty: one severity).
    var levels: [AlertLevel] {
        if case .alert(let a) = self { return a.levels }
        return []
    }
}

extension AlertRule {
    /// The rule's keys when it has no `levels`: then `when` is required.
    static func fieldsWithoutLevels(_ spec: [FieldSpec]) -> [FieldSpec] {
        spec.map { $0.name == "when" ? FieldSpec($0.name, $0.type, required: true, $0.doc) : $0 }
    }

    /// An alert has either `when` or `levels`.
    static let conditionSchema: JSONValue = .array([
        .object([("required", .array([.string("when")]))]),
        .object([("required", .array([.string("levels")]))]),
    ])
}

extension AlertLevel {
    /// The levels as every alert of the rule carries them in its evidence.
    static func evidence(_ levels: [AlertLevel]) -> JSONValue {
        .array(
            levels.map { l in
                var m: [(String, JSONValue)] = [
                    ("severity", .string(l.severity.rawValue)), ("condition", .string(l.condition.description)),
                ]
                if l.forDuration > 0 { m.append(("for_seconds", .number(l.forDuration))) }
                if let c = l.clear { m.append(("clear", .string(c.description))) }
                return .object(m)
            })
    }
}
