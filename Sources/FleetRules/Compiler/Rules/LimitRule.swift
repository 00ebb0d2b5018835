/// `limit`: an operating range for a metric; outside it `for` long, the rule fires.
public struct LimitRule: Sendable {
    public var metric: String
    public var low: Double?
    public var high: Double?
    public var forDuration: Double

    static let fields: [FieldSpec] = [
        FieldSpec("metric", .name, required: true, "the metric to watch"),
        FieldSpec("range", .numberRange, required: true, "allowed [min, max]; null for an open end"),
        FieldSpec("for", .duration, "how long the value must stay outside before the rule fires"),
    ]

    static let placeholders = ["value", "metric", "min", "max"]

    static func decode(_ f: [String: YAMLEntry], _ ctx: inout DecodeContext, _ defaults: RuleDefaults) -> LimitRule? {
        // Every field is checked even after an error, so one run reports all of the rule's mistakes.
        let metric = f["metric"].flatMap { ctx.metric($0.value, "metric") }
        let rangeEntry = f["range"]
        let range = rangeEntry.flatMap { ctx.numberRange($0.value, "range") }
        var forDuration: Double? = defaults.forDuration ?? 0
        if let e = f["for"] {
            forDuration = ctx.duration(e.value, "for", allowZero: true)
            if let v = forDuration, let metric {
                ctx.warnIfShorterThanInterval(
                    v, node: e.value, reading: .window(.last, metric: metric.name, seconds: nil))
            }
        }
        guard let m = metric, let rangeEntry, let (lo, hi) = range, let forDuration else { return nil }
        if let declared = m.range {
            let f = { (v: Double) in JSONValue.format(v) }
            let declaredText = "\(m.name) is declared in [\(f(declared.lowerBound)), \(f(declared.upperBound))]"
            if (lo ?? -.infinity) <= declared.lowerBound, (hi ?? .infinity) >= declared.upperBound {
                ctx.diagnostics.warning(
                    .neverFires, "the limit can never fire: the range covers every accepted value; \(declaredText)",
                    at: rangeEntry.value.range, hint: "narrow the range to the operating limits")
            } else if let hi, hi < declared.lowerBound {
                ctx.diagnostics.warning(
                    .alwaysTrue,
                    "the limit fires for every device: its maximum is below every accepted value; \(declaredText)",
                    at: rangeEntry.value.range)
            } else if let lo, lo > declared.upperBound {
                ctx.diagnostics.warning(
                    .alwaysTrue,
                    "the limit fires for every device: its minimum is above every accepted value; \(declaredText)",
                    at: rangeEntry.value.range)
            }
        }
        return LimitRule(metric: m.name, low: lo, high: hi, forDuration: forDuration)
    }
}
