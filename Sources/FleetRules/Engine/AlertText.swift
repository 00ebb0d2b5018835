/// The summary line of an alert: the rule's `summary` template with its placeholders filled
/// (value, rule, pack, severity, kind, a limit's metric and bounds, the device's attributes),
/// or "device: rule (value v)" without a template.
struct AlertText: Sendable {
    let plan: EvaluationPlan
    let program: EngineProgram
    let inventory: Inventory

    /// The summary of operator `o`'s alert for device `d`: its parsed template filled without a
    /// closure, so nothing is copied for every alert.
    func summary(
        op o: Int, device d: Int, row: [String], value: Double?, duration: Bool, extra: [String: String] = [:]
    ) -> String {
        guard let parts = program.summaries[o] else {
            let v = value.map { " (value \(NumberText.format($0)))" } ?? ""
            return "\(inventory.rows[d][0]): \(plan.operators[o].rule.id)\(v)"
        }
        var out = ""
        for part in parts {
            switch part {
            case .text(let s): out += s
            case .placeholder(let name):
                out += extra[name] ?? placeholder(name, op: o, row: row, value: value, duration: duration)
            }
        }
        return out
    }

    private func placeholder(_ name: String, op o: Int, row: [String], value: Double?, duration: Bool) -> String {
        switch name {
        case "value": return value.map { duration ? DurationText.format($0) : NumberText.format($0) } ?? "n/a"
        case "rule": return plan.operators[o].rule.id
        case "pack": return plan.operators[o].rule.pack
        case "severity": return plan.operators[o].rule.severity.rawValue
        case "kind": return plan.operators[o].rule.kind.rawValue
        default: break
        }
        if case .limit(let l) = plan.operators[o].rule.body {
            switch name {
            case "metric": return l.metric
            case "min": return l.low.map(NumberText.format) ?? "-∞"
            case "max": return l.high.map(NumberText.format) ?? "∞"
            default: break
            }
        }
        if let slot = program.attributeSlots[name] { return row[slot] }
        return ""
    }
}
