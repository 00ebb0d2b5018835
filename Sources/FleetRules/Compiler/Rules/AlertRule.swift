/// `alert`: a condition that must hold `for` a duration (event time) before it fires.
public struct AlertRule: Sendable {
    public var condition: TypedExpression
    /// Seconds the condition must hold before firing; 0 fires at once.
    public var forDuration: Double
    /// Hysteresis: once firing, the alert resolves only when this holds (default: `not condition`).
    public var clear: TypedExpression?
    /// Severity levels, mildest first (empty: the rule's one severity); `condition` is then any level's.
    public var levels: [AlertLevel] = []
    /// A `for` counted in readings and the `clear_for` (empty: `forDuration` alone).
    public var debounce = Debounce()

    static let fields: [FieldSpec] = [
        FieldSpec("when", .condition, "the condition, e.g. last(battery_pct) < 20 (required unless `levels` is given)"),
        FieldSpec(
            "for", Debounce.forType,
            "how long `when` must hold before the alert fires, or on how many consecutive readings (`3 readings`)"),
        FieldSpec("clear", .condition, "once firing, resolve only when this holds (hysteresis)"),
        AlertLevel.spec,
        Debounce.clearForSpec,
    ]

    static let placeholders = ["value"]

    static func decode(_ f: [String: YAMLEntry], _ ctx: inout DecodeContext, _ defaults: RuleDefaults) -> AlertRule? {
        if let e = f["levels"] { return decodeLevels(e, f, &ctx, defaults) }
        // Every field is checked even after an error, so one run reports all of the rule's mistakes.
        let when = f["when"].flatMap { ctx.condition($0.value, "when") }
        if let when { ctx.warnIfConstant(when, what: "the alert") }
        var forDuration: Double? = defaults.forDuration ?? 0
        var debounce = Debounce()
        if let e = f["for"] {
            switch ctx.span(e.value, "for", allowZero: true) {
            case .duration(let v)?:
                forDuration = v
                if let when { ctx.warnIfShorterThanInterval(v, node: e.value, reading: when.expr) }
            case .readings(let n)?:
                forDuration = 0
                debounce.forReadings = n
            case nil:
                forDuration = nil
            }
        }
        var clearForOK = true
        if let e = f["clear_for"] {
            if let span = ctx.span(e.value, "clear_for", allowZero: false) {
                debounce.clearFor = span
            } else {
                clearForOK = false
            }
        }
        var clear: TypedExpression?
        var clearOK = true
        if let e = f["clear"] {
            clear = ctx.condition(e.value, "clear")?.expr
            clearOK = clear != nil
        }
        guard let when, let forDuration, clearOK, clearForOK else { return nil }
        return AlertRule(condition: when.expr, forDuration: forDuration, clear: clear, debounce: debounce)
    }

    /// An alert with `levels:`: `when`, `clear` and `severity` belong to each level (E0120); the
    /// rule's `for` is the levels' default.
    private static func decodeLevels(
        _ entry: YAMLEntry, _ f: [String: YAMLEntry], _ ctx: inout DecodeContext, _ defaults: RuleDefaults
    ) -> AlertRule? {
        var ok = true
        for key in ["when", "clear", "severity"] {
            guard let e = f[key] else { continue }
            ctx.diagnostics.error(
                .levelsConflict, "`\(key)` is given per level in an alert with `levels`", at: e.key.range,
                hint: "move it into each level: - { severity: …, when: …, clear: … }")
            ok = false
        }
        var forDuration: Double? = defaults.forDuration ?? 0
        if let e = f["for"] {
            switch ctx.span(e.value, "for", allowZero: true) {
            case .duration(let v)?: forDuration = v
            case .readings?:
                ctx.diagnostics.error(
                    .debounceWithLevels, "an alert with `levels` waits a duration, not a count of readings",
                    at: e.value.range, hint: "give `for` as a duration, e.g. for: 15m")
                forDuration = nil
            case nil: forDuration = nil
            }
        }
        if let e = f["clear_for"] {
            ctx.diagnostics.error(
                .debounceWithLevels, "`clear_for` does not combine with `levels`", at: e.key.range,
                hint: "give each level its own `clear` condition instead")
            ok = false
        }
        guard let forDuration else { return nil }
        guard let levels = AlertLevel.decode(entry.value, &ctx, defaultFor: forDuration), ok else { return nil }
        return AlertRule(condition: anyLevel(levels), forDuration: 0, clear: nil, levels: levels)
    }
}

/// Per-file defaults (`defaults:`) that rules fall back on.
struct RuleDefaults {
    var forDuration: Double?
    var severity: AlertSeverity?
    var labels: [String: String] = [:]
}

extension DecodeContext {
    /// W0303/W0304 when declared metric ranges make a condition constant.
    mutating func warnIfConstant(_ c: Checked, what: String) {
        switch c.truth {
        case .never:
            let (range, text) = c.reason ?? (c.range, "the condition can never hold")
            diagnostics.warning(
                .neverFires, "\(what) can never fire: \(text)", at: range,
                hint: "check the threshold against the metric's declared range")
        case .always:
            let (range, text) = c.reason ?? (c.range, "the condition always holds")
            diagnostics.warning(
                .alwaysTrue, "\(what) fires for every device: \(text)", at: range,
                hint: "check the threshold against the metric's declared range")
        case .unknown:
            break
        }
    }

    /// W0306 when `for` is shorter than the reporting interval of a metric the condition reads.
    mutating func warnIfShorterThanInterval(_ seconds: Double, node: YAMLNode, reading e: TypedExpression) {
        let slowest = e.windows.compactMap { ref in checker.scope.metrics[ref.metric]?.interval.map { (ref.metric, $0) }
        }
        .max { $0.1 < $1.1 }
        if let (metric, interval) = slowest, seconds > 0, seconds < interval {
            diagnostics.warning(
                .shorterThanInterval,
                "`for: \(DurationText.format(seconds))` is shorter than \(metric)'s reporting interval \(DurationText.format(interval))",
                at: node.range,
                hint:
                    "the condition is re-evaluated only when a reading arrives; use at least \(DurationText.format(interval))"
            )
        }
    }
}
