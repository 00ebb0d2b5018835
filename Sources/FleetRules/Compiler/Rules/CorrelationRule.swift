/// `correlation`: a significant link between an environmental signal and a health signal, per group.
public struct CorrelationRule: Sendable {
    public enum Method: String, Sendable, CaseIterable { case spearman, pearson }
    /// Multiple-testing correction across the groups tested.
    public enum Correction: String, Sendable, CaseIterable { case holm, benjaminiHochberg = "benjamini-hochberg", none }

    public var x: TypedExpression
    public var y: TypedExpression
    public var by: [String]
    public var method: Method
    public var minSamples: Int
    public var significance: Double
    public var correction: Correction
    /// Sampling step for the pairs (x, y), in seconds.
    public var step: Double

    static let fields: [FieldSpec] = [
        FieldSpec("x", .numericExpression, required: true, "environmental signal, e.g. avg(humidity, 1h)"),
        FieldSpec("y", .numericExpression, required: true, "health signal, e.g. rate(battery_pct, 1h)"),
        FieldSpec("by", .oneOf([.name, .list(.name)]), "attributes that define the groups (default [site])"),
        FieldSpec("method", .choice(Method.allCases.map(\.rawValue)), "spearman (default) or pearson"),
        FieldSpec("min_samples", .integer(minimum: 3), "groups with fewer pairs are not tested (default 30)"),
        FieldSpec("significance", .number, "largest corrected p-value reported (default 0.01)"),
        FieldSpec(
            "correction", .choice(Correction.allCases.map(\.rawValue)),
            "multiple-testing correction: holm (default), benjamini-hochberg or none"),
        FieldSpec("step", .duration, "one (x, y) pair per device per step (default 1h)"),
    ]

    static let placeholders = ["coefficient", "p_value", "n", "group", "method"]

    static func decode(_ f: [String: YAMLEntry], _ ctx: inout DecodeContext) -> CorrelationRule? {
        let x = f["x"].flatMap { ctx.numeric($0.value, "x") }
        let y = f["y"].flatMap { ctx.numeric($0.value, "y") }
        guard let x, let y else { return nil }
        var by = ["site"]
        if let e = f["by"] {
            guard let attrs = ctx.attributes(e.value, "by") else { return nil }
            by = attrs
        }
        var method = Method.spearman
        if let e = f["method"] {
            guard let s = ctx.choice(e.value, "method", Method.allCases.map(\.rawValue)) else { return nil }
            method = Method(rawValue: s) ?? .spearman
        }
        var minSamples = 30
        if let e = f["min_samples"] {
            guard let v = ctx.integer(e.value, "min_samples", minimum: 3) else { return nil }
            minSamples = v
        }
        var significance = 0.01
        if let e = f["significance"] {
            guard let v = ctx.number(e.value, "significance") else { return nil }
            guard v > 0, v < 1 else {
                ctx.diagnostics.error(
                    .invalidValue, "significance must be between 0 and 1, found \(JSONValue.format(v))",
                    at: e.value.range, hint: "a p-value level such as 0.01 or 0.05")
                return nil
            }
            significance = v
        }
        var correction = Correction.holm
        if let e = f["correction"] {
            guard let s = ctx.choice(e.value, "correction", Correction.allCases.map(\.rawValue)) else { return nil }
            correction = Correction(rawValue: s) ?? .holm
        }
        var step = 3600.0
        if let e = f["step"] {
            guard let v = ctx.duration(e.value, "step") else { return nil }
            step = v
        }
        return CorrelationRule(
            x: x.expr, y: y.expr, by: by, method: method, minSamples: minSamples, significance: significance,
            correction: correction, step: step)
    }
}
