/// Summary templates for analyzer findings: `{{name}}` placeholders filled from the analyzer's
/// own values first, then the rule (rule, pack, severity, kind) and the device's attributes.
extension AnalysisContext {
    func renderSummary(device d: Int, fallback: String, extra: [String: String]) -> String {
        guard let template = rule.summary else { return fallback }
        return SummaryTemplate.render(template) { name in extra[name] ?? builtIn(name, device: d) }
    }

    private func builtIn(_ name: String, device d: Int) -> String {
        switch name {
        case "rule": return rule.id
        case "pack": return rule.pack
        case "severity": return rule.severity.rawValue
        case "kind": return rule.kind.rawValue
        case "device": return d >= 0 ? deviceID(d) : ""
        default: return d >= 0 ? attribute(name, device: d) : ""
        }
    }
}
