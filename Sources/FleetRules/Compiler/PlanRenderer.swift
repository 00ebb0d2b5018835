/// Prints an evaluation plan as text, JSON or Graphviz dot.
public enum PlanRenderer {
    public static func text(_ plan: EvaluationPlan) -> String {
        var out = "evaluation plan: \(plan.operators.count) rules, \(plan.aggregates.count) window aggregates, "
        out +=
            "~\(plan.stateBytesPerDevice) bytes of state per device, lateness \(DurationText.format(plan.lateness))\n"
        out += "\nwindow aggregates (shared across rules):\n"
        for a in plan.aggregates {
            let shared = a.readers.count > 1 ? "  shared by \(a.readers.count) rules" : ""
            out += "  #\(a.id) \(a.ref)  ← \(a.readers.joined(separator: ", "))\(shared)\n"
        }
        out += "\nmetric history kept per device:\n"
        for (i, m) in plan.metrics.enumerated() where plan.aggregates.contains(where: { $0.metric == i }) {
            let keep =
                plan.retention[i] > 0 ? "\(DurationText.format(plan.retention[i])) of raw points" : "latest value only"
            out += "  \(m.name): \(keep), ~\(plan.historyBytes(metric: i)) bytes\n"
        }
        out += "\nrules:\n"
        for op in plan.operators {
            let r = op.rule
            out +=
                "  \(r.kind.rawValue) \(r.id)  [\(r.location.file):\(r.location.start.line)]  state ~\(op.stateBytesPerDevice) bytes/device\n"
            for step in op.steps { out += "    → \(step)\n" }
        }
        return out
    }

    public static func json(_ plan: EvaluationPlan) -> JSONValue {
        .object([
            ("format", 1),
            ("packs", .array(plan.policy.packs.map { .string($0.name) })),
            ("lateness_seconds", .number(plan.lateness)),
            ("state_bytes_per_device", .number(Double(plan.stateBytesPerDevice))),
            (
                "aggregates",
                .array(
                    plan.aggregates.map { a in
                        .object([
                            ("id", .number(Double(a.id))), ("function", .string(a.ref.function.rawValue)),
                            ("metric", .string(a.ref.metric)),
                            ("window_seconds", a.ref.seconds.map { .number($0) } ?? .null),
                            ("readers", .array(a.readers.map { .string($0) })),
                        ])
                    })
            ),
            (
                "metrics",
                .array(
                    plan.metrics.enumerated().map { i, m in
                        .object([
                            ("name", .string(m.name)), ("unit", .string(m.unit)),
                            ("retention_seconds", .number(plan.retention[i])),
                            ("history_bytes_per_device", .number(Double(plan.historyBytes(metric: i)))),
                        ])
                    })
            ),
            (
                "rules",
                .array(
                    plan.operators.map { op in
                        var evaluated: JSONValue = true
                        if case .notEvaluated = op.evaluation { evaluated = false }
                        return .object([
                            ("id", .string(op.rule.id)), ("kind", .string(op.rule.kind.rawValue)),
                            ("file", .string(op.rule.location.file)),
                            ("line", .number(Double(op.rule.location.start.line))),
                            ("evaluated", evaluated),
                            ("aggregates", .array(op.aggregates.map { .number(Double($0)) })),
                            ("steps", .array(op.steps.map { .string($0) })),
                            ("state_bytes_per_device", .number(Double(op.stateBytesPerDevice))),
                            ("time_dependent", .bool(op.timeDependent)),
                        ])
                    })
            ),
        ])
    }

    public static func dot(_ plan: EvaluationPlan) -> String {
        func quote(_ s: String) -> String { JSONValue.string(s).serialized() }
        var out = "digraph plan {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n"
        for (i, m) in plan.metrics.enumerated() where plan.aggregates.contains(where: { $0.metric == i }) {
            out += "  m\(i) [shape=cylinder, label=\(quote(m.name))];\n"
        }
        for a in plan.aggregates {
            out += "  a\(a.id) [shape=box, label=\(quote(a.ref.description))];\n  m\(a.metric) -> a\(a.id);\n"
        }
        for (i, op) in plan.operators.enumerated() {
            let style = if case .notEvaluated = op.evaluation { ", style=dashed" } else { "" }
            out += "  r\(i) [shape=ellipse\(style), label=\(quote("\(op.rule.kind.rawValue) \(op.rule.id)"))];\n"
            for a in op.aggregates { out += "  a\(a) -> r\(i);\n" }
        }
        return out + "}\n"
    }
}
