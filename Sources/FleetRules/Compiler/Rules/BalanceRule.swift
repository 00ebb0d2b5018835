/// `balance`: gateways whose load differs from their group's mean by more than `threshold`,
/// and the device moves that bring every gateway back within it.
public struct BalanceRule: Sendable {
    public enum Load: String, Sendable, CaseIterable { case devices, readings }

    public struct Rebalance: Sendable {
        /// Inventory attribute listing the gateways a device can reach, `|`-separated.
        public var reachable: String
        public var maxMoves: Int
        /// Devices matching this are moved first.
        public var prefer: TypedExpression?
        /// A device not seen for longer than this (seconds) at the end of the data stays out of
        /// the plan and is listed as silent: a technician would re-pair a dead device, not move it.
        public var silentAfter: Double = BalanceRule.defaultSilentAfter
    }

    static let defaultSilentAfter = 86400.0

    public var groupBy: [String]
    public var load: Load
    public var window: Double
    /// Ratio: 0.3 for 30%.
    public var threshold: Double
    public var rebalance: Rebalance?

    static let rebalanceFields: [FieldSpec] = [
        FieldSpec("reachable", .name, "inventory column with the gateways a device can reach (default reachable)"),
        FieldSpec("max_moves", .integer(minimum: 0), "most moves proposed per group (default 50)"),
        FieldSpec("prefer", .condition, "devices matching this are moved first, e.g. criticality == \"low\""),
        FieldSpec(
            "silent_after", .duration,
            "a device not seen for longer than this stays out of the plan and is listed as silent (default 1d)"),
    ]

    static let fields: [FieldSpec] = [
        FieldSpec("group_by", .oneOf([.name, .list(.name)]), "attributes grouping gateways (default site)"),
        FieldSpec("load", .choice(Load.allCases.map(\.rawValue)), "devices (default) or readings per window"),
        FieldSpec("window", .duration, "load is measured over this window (default 1h)"),
        FieldSpec("threshold", .ratio, required: true, "largest allowed |load − mean| / mean, e.g. 30%"),
        FieldSpec("rebalance", .object(rebalanceFields), "propose device moves"),
    ]

    static let placeholders = ["gateway", "load", "mean", "deviation", "group"]

    static func decode(_ f: [String: YAMLEntry], _ ctx: inout DecodeContext) -> BalanceRule? {
        var groupBy = ["site"]
        if let e = f["group_by"] {
            guard let attrs = ctx.attributes(e.value, "group_by") else { return nil }
            groupBy = attrs
        }
        var load = Load.devices
        if let e = f["load"] {
            guard let s = ctx.choice(e.value, "load", Load.allCases.map(\.rawValue)) else { return nil }
            load = Load(rawValue: s) ?? .devices
        }
        var window = 3600.0
        if let e = f["window"] {
            guard let v = ctx.duration(e.value, "window") else { return nil }
            window = v
        }
        guard let tEntry = f["threshold"], let threshold = ctx.ratio(tEntry.value, "threshold") else { return nil }
        guard threshold > 0 else {
            ctx.diagnostics.error(.invalidValue, "threshold must be above 0%", at: tEntry.value.range)
            return nil
        }
        var rebalance: Rebalance?
        if let e = f["rebalance"] {
            guard let r = ctx.fields(e.value, rebalanceFields, in: "rebalance") else { return nil }
            var reachable = "reachable"
            if let n = r["reachable"] {
                guard let a = ctx.attribute(n.value, "reachable") else { return nil }
                reachable = a
            }
            var maxMoves = 50
            if let n = r["max_moves"] {
                guard let v = ctx.integer(n.value, "max_moves", minimum: 0) else { return nil }
                maxMoves = v
            }
            var prefer: TypedExpression?
            if let n = r["prefer"] {
                guard let c = ctx.condition(n.value, "prefer") else { return nil }
                prefer = c.expr
            }
            var silentAfter = defaultSilentAfter
            if let n = r["silent_after"] {
                guard let v = ctx.duration(n.value, "silent_after") else { return nil }
                silentAfter = v
            }
            rebalance = Rebalance(reachable: reachable, maxMoves: maxMoves, prefer: prefer, silentAfter: silentAfter)
        }
        return BalanceRule(groupBy: groupBy, load: load, window: window, threshold: threshold, rebalance: rebalance)
    }
}
