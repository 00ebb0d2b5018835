/// `alert`: a condition that must hold `for` a duration (event time) before it fires.
public struct AlertRule: Sendable {
    public var condition: TypedExpression
    /// Seconds the condition must hold before firing; 0 fires at once.
    public var forDuration: Double
    /// Hysteresis: once firing, the alert resolves only when this holds (default: `not condition`).
    public var clear: TypedExpression?

    static let fields: [FieldSpec] = [
        FieldSpec("when", .condition, required: true, "the condition, e.g. last(battery_pct) < 20"),
        FieldSpec("for", .duration, "how long `when` must hold before the alert fires"),
        FieldSpec("clear", .condition, "once firing, resolve only when this holds (hysteresis)"),
    ]

    static let placeholders = ["value"]

    static func decode(_ f: [String: YAMLEntry], _ ctx: inout DecodeContext, _ defaults: RuleDefaults) -> AlertRule? {
        guard let whenEntry = f["when"], let when = ctx.condition(whenEntry.value, "when") else { return nil }
        ctx.warnIfConstant(when, what: "the alert")
        var forDuration = defaults.forDuration ?? 0
        if let e = f["for"] {
            guard let v = ctx.duration(e.value, "for") else { return nil }
            forDuration = v
            ctx.warnIfShorterThanInterval(v, node: e.value, reading: when.expr)
        }
        var clear: TypedExpression?
        if let e = f["clear"] {
            guard let c = ctx.condition(e.value, "clear") else { return nil }
            clear = c.expr
        }
        return AlertRule(condition: when.expr, forDuration: forDuration, clear: clear)
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
        let slowest = e.windows.compactMap { ref in checker.scope.metrics[ref.metric]?.interval.map { (ref.metric, $0) } }
            .max { $0.1 < $1.1 }
        if let (metric, interval) = slowest, seconds < interval {
            diagnostics.warning(
                .shorterThanInterval,
                "`for: \(DurationText.format(seconds))` is shorter than \(metric)'s reporting interval \(DurationText.format(interval))",
                at: node.range, hint: "the condition is re-evaluated only when a reading arrives; use at least \(DurationText.format(interval))")
        }
    }
}
