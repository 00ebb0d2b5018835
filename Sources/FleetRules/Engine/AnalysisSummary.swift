/// Summary templates for analyzer findings: `{{name}}` placeholders filled from the analyzer's
/// own values first, then the rule (rule, pack, severity, kind) and the device's attributes.
extension AnalysisContext {
    func renderSummary(device d: Int, fallback: String, extra: [String: String]) -> String {
        guard let template = rule.summary else { return fallback }
        var out = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                out += rest[open.lowerBound...]
                rest = ""
                break
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            out += extra[name] ?? builtIn(name, device: d)
            rest = rest[close.upperBound...]
        }
        return out + rest
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
