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
        guard let m = f["metric"].flatMap({ ctx.metric($0.value, "metric") }) else { return nil }
        guard let rangeEntry = f["range"], let (lo, hi) = ctx.numberRange(rangeEntry.value, "range") else { return nil }
        var forDuration = defaults.forDuration ?? 0
        if let e = f["for"] {
            guard let v = ctx.duration(e.value, "for") else { return nil }
            forDuration = v
            ctx.warnIfShorterThanInterval(v, node: e.value, reading: .window(.last, metric: m.name, seconds: nil))
        }
        if let declared = m.range {
            let f = { (v: Double) in JSONValue.format(v) }
            let declaredText = "\(m.name) is declared in [\(f(declared.lowerBound)), \(f(declared.upperBound))]"
            if (lo ?? -.infinity) <= declared.lowerBound, (hi ?? .infinity) >= declared.upperBound {
                ctx.diagnostics.warning(
                    .neverFires, "the limit can never fire: the range covers every accepted value; \(declaredText)",
                    at: rangeEntry.value.range, hint: "narrow the range to the operating limits")
            } else if let hi, hi < declared.lowerBound {
                ctx.diagnostics.warning(
                    .alwaysTrue, "the limit fires for every device: its maximum is below every accepted value; \(declaredText)",
                    at: rangeEntry.value.range)
            } else if let lo, lo > declared.upperBound {
                ctx.diagnostics.warning(
                    .alwaysTrue, "the limit fires for every device: its minimum is above every accepted value; \(declaredText)",
                    at: rangeEntry.value.range)
            }
        }
        return LimitRule(metric: m.name, low: lo, high: hi, forDuration: forDuration)
    }
}
