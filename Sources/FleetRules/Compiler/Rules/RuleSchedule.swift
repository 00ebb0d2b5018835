/// When an alert or limit rule is evaluated and when its alerts are muted: `active_during`
/// (evaluated only inside these intervals) and `mute_during` (evaluated and reported, marked
/// muted, never delivered), both naming intervals of `time_intervals:`.
public struct RuleSchedule: Sendable {
    /// One `mute_during` entry: an interval, for the devices its inventory `where` admits.
    public struct Mute: Sendable {
        public var interval: NamedTimeInterval
        public var scope: TypedExpression?
    }

    /// Empty: the rule is evaluated at every instant.
    public var activeDuring: [NamedTimeInterval] = []
    public var muteDuring: [Mute] = []

    /// The keys of a `{interval, where}` entry of `mute_during`.
    static let muteEntry: [FieldSpec] = [
        FieldSpec("interval", .name, required: true, "a time interval of `time_intervals:`"),
        FieldSpec("where", .condition, "inventory filter: the devices the interval mutes"),
    ]

    static let fields: [FieldSpec] = [
        FieldSpec(
            "active_during", .oneOf([.name, .list(.name)]),
            "time intervals (of `time_intervals:`) outside which the rule is not evaluated"),
        FieldSpec(
            "mute_during",
            .oneOf([
                .name,
                .list(
                    .oneOf([
                        .name,
                        .object(muteEntry),
                    ])),
            ]),
            "time intervals during which the rule's new alerts are reported as muted and not delivered"),
    ]

    /// The plan's steps for the schedule.
    var planSteps: [String] {
        var out: [String] = []
        if !activeDuring.isEmpty { out.append("active during \(activeDuring.map(\.name).joined(separator: ", "))") }
        for m in muteDuring {
            out.append("mute during \(m.interval.name)" + (m.scope.map { " where \($0)" } ?? ""))
        }
        return out
    }
}

extension DecodeContext {
    /// `active_during` and `mute_during` of an alert or limit rule; nil (after reporting) on a
    /// mistake, `.some(nil)` when the rule has neither.
    mutating func schedule(_ f: [String: YAMLEntry]) -> RuleSchedule?? {
        guard f["active_during"] != nil || f["mute_during"] != nil else { return .some(nil) }
        var out = RuleSchedule()
        var ok = true
        if let e = f["active_during"] {
            if let list = TimeIntervalReader.resolve(
                e.value, "active_during", in: timeIntervals, code: .unknownTimeInterval, into: &diagnostics)
            {
                out.activeDuring = list
                usedTimeIntervals.formUnion(list.map(\.name))
            } else {
                ok = false
            }
        }
        if let e = f["mute_during"] {
            let items: [YAMLNode]
            if case .scalar = e.value.kind, !e.value.isNull {
                items = [e.value]
            } else if let list = sequence(e.value, "mute_during") {
                items = list
            } else {
                items = []
                ok = false
            }
            for item in items {
                if case .mapping = item.kind {
                    guard
                        let m = fields(item, RuleSchedule.muteEntry, in: "a mute_during entry"),
                        let name = m["interval"],
                        let interval = TimeIntervalReader.resolve(
                            name.value, "mute_during", in: timeIntervals, code: .unknownTimeInterval,
                            into: &diagnostics)?.first
                    else {
                        ok = false
                        continue
                    }
                    usedTimeIntervals.insert(interval.name)
                    var scope: TypedExpression?
                    if let w = m["where"] {
                        guard let c = condition(w.value, "where") else {
                            ok = false
                            continue
                        }
                        var readsTime = !c.expr.windows.isEmpty
                        c.expr.visit { if case .now = $0 { readsTime = true } }
                        if readsTime {
                            diagnostics.error(
                                .muteScopeReadsTelemetry,
                                "a mute_during `where` may read inventory attributes only", at: w.value.range,
                                hint:
                                    "mute by place or kind, e.g. where: site == \"plant-a\"; put telemetry in the rule's `when`"
                            )
                            ok = false
                            continue
                        }
                        scope = c.expr
                    }
                    out.muteDuring.append(RuleSchedule.Mute(interval: interval, scope: scope))
                } else if let list = TimeIntervalReader.resolve(
                    item, "mute_during", in: timeIntervals, code: .unknownTimeInterval, into: &diagnostics)
                {
                    usedTimeIntervals.formUnion(list.map(\.name))
                    out.muteDuring += list.map { RuleSchedule.Mute(interval: $0, scope: nil) }
                } else {
                    ok = false
                }
            }
        }
        return ok ? .some(out) : nil
    }
}
