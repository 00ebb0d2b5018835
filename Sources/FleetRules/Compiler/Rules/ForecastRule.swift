/// `forecast`: fits a metric's trend and acts before it crosses a threshold.
public struct ForecastRule: Sendable {
    public enum Direction: String, Sendable { case falling, rising }

    public var metric: String
    public var threshold: Double
    public var direction: Direction
    /// History used for the trend, in seconds.
    public var fit: Double
    /// Furthest predicted crossing that may alert, in seconds.
    public var horizon: Double
    /// Severity by time left, shortest first: the first entry whose limit is ≥ the time left applies.
    public var severityByTimeLeft: [(seconds: Double, severity: AlertSeverity)]
    /// `auto` switches to the accelerating model when the recent rate is significantly higher.
    public var model: Model = .auto
    /// Attributes whose values define cohorts sharing a learned level curve (empty: none).
    public var curveBy: [String] = []

    public enum Model: String, Sendable, CaseIterable { case auto, linear }

    static let fields: [FieldSpec] = [
        FieldSpec("metric", .name, required: true, "the metric to forecast"),
        FieldSpec("threshold", .number, required: true, "crossing level, in the metric's unit"),
        FieldSpec("direction", .choice(["falling", "rising"]), "falling (default) or rising towards the threshold"),
        FieldSpec("fit", .duration, "history used for the robust trend (default 7d)"),
        FieldSpec("horizon", .duration, "furthest prediction that may alert (default 30d)"),
        FieldSpec(
            "model", .choice(Model.allCases.map(\.rawValue)),
            "auto (default: straight line, or accelerating when the recent rate is significantly higher) or linear"),
        FieldSpec(
            "curve_by", .oneOf([.name, .list(.name)]),
            "attributes of devices that share a discharge curve (e.g. the cell type): the rate's change with the level is learned from those that have been through it"
        ),
        FieldSpec(
            "severity", .oneOf([.severity, .map(.severity)]),
            "a severity, or severity by time left: {3d: critical, 7d: warning, 30d: info}"),
    ]

    static let placeholders = [
        "value", "metric", "threshold", "time_left", "crossing_at", "slope_per_day", "interval_low", "interval_high",
        "points",
    ]

    static func decode(_ f: [String: YAMLEntry], _ ctx: inout DecodeContext, _ severity: inout AlertSeverity?)
        -> ForecastRule?
    {
        guard let m = f["metric"].flatMap({ ctx.metric($0.value, "metric") }) else { return nil }
        guard let tEntry = f["threshold"], let threshold = ctx.number(tEntry.value, "threshold") else { return nil }
        var direction = Direction.falling
        if let e = f["direction"] {
            guard let s = ctx.choice(e.value, "direction", ["falling", "rising"]) else { return nil }
            direction = Direction(rawValue: s) ?? .falling
        }
        if let r = m.range, !r.contains(threshold) {
            ctx.diagnostics.warning(
                .neverFires,
                "the forecast can never fire: threshold \(JSONValue.format(threshold)) is outside \(m.name)'s declared range [\(JSONValue.format(r.lowerBound)), \(JSONValue.format(r.upperBound))]",
                at: tEntry.value.range)
        }
        var fit = 7 * 86400.0
        if let e = f["fit"] {
            guard let v = ctx.duration(e.value, "fit") else { return nil }
            fit = v
        }
        var horizon = 30 * 86400.0
        if let e = f["horizon"] {
            guard let v = ctx.duration(e.value, "horizon") else { return nil }
            horizon = v
        }
        var model = Model.auto
        if let e = f["model"] {
            guard let s = ctx.choice(e.value, "model", Model.allCases.map(\.rawValue)) else { return nil }
            model = Model(rawValue: s) ?? .auto
        }
        var curveBy: [String] = []
        if let e = f["curve_by"] {
            guard let attrs = ctx.attributes(e.value, "curve_by") else { return nil }
            curveBy = attrs
            if model == .linear {
                ctx.diagnostics.warning(
                    .ignoredSetting, "`curve_by` is ignored with `model: linear`, which keeps a straight line",
                    at: e.value.range)
            }
            if m.range == nil {
                ctx.diagnostics.warning(
                    .ignoredSetting,
                    "`curve_by` needs a declared `range` for \(m.name): the curve is learned in bands of it",
                    at: e.value.range)
            }
        }
        var table: [(Double, AlertSeverity)] = []
        if let e = f["severity"] {
            if case .mapping = e.value.kind {
                guard let entries = ctx.mapping(e.value, "severity") else { return nil }
                for entry in entries {
                    guard let limit = ctx.duration(entry.key, "severity key"), let s = ctx.severity(entry.value) else {
                        return nil
                    }
                    table.append((limit, s))
                }
                table.sort { $0.0 < $1.0 }
                severity = table.first?.1
            }
        }
        if table.isEmpty { table = [(horizon, severity ?? .warning)] }
        return ForecastRule(
            metric: m.name, threshold: threshold, direction: direction, fit: fit, horizon: horizon,
            severityByTimeLeft: table, model: model, curveBy: curveBy)
    }
}
