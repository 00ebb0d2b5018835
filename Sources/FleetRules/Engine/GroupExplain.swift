extension Engine {
    /// A group rule explained for a device: its group at the latest tick, every group function's
    /// value there, the verdict and the `for` state, and the group's findings.
    func explainGroup(_ out: inout Explanation, operator o: Int, device d: Int) {
        guard case .group(let rule) = plan.operators[o].rule.body else { return }
        out.forDuration = rule.forDuration
        guard let analyzer = analyses.analyzers.group(operator: o) else { return }
        let key = analyzer.group(of: d)
        guard !key.isEmpty, var g = analyzer.explanation(group: key) else {
            out.notes.append("no tick has evaluated the rule yet (it ticks every \(DurationText.format(rule.every)))")
            return
        }
        g.matchingDevices = g.matching.map { inventory.rows[$0][0] }
        out.group = g
        if !analyzer.admits(d) { out.state = .outOfScope }
        let groupEpisodes = episodes.filter { e in
            e.rule == out.rule && e.since <= out.time
                && e.evidence.contains { $0.0 == "group" && $0.1 == .string(key) }
        }
        out.findings = groupEpisodes.filter { $0.until.map { $0 > out.time } ?? true }
        if out.findings.isEmpty { out.lastResolved = groupEpisodes.last { $0.until != nil } }
        if out.state != .outOfScope {
            out.state = g.phase == "firing" ? .firing : g.phase == "pending" ? .pending : .idle
        }
        out.since = g.since
        if g.phase == "pending", let since = g.since {
            out.pendingFor = max(0, out.time - since)
        }
        out.notes.append(
            "a group rule: device \(out.device) is in group \(key); values are those of the latest tick (every \(DurationText.format(rule.every)))"
        )
    }
}

extension GroupExplanation {
    /// The terminal lines `fleetrules explain` prints for the group.
    func text() -> String {
        var out = "group \(group): \(members) members\n"
        for (expression, value) in terms { out += "  = \(expression)  → \(value)\n" }
        out +=
            "  \(holds == true ? "✓" : holds == false ? "✗" : "?") condition \(holds == true ? "holds" : holds == false ? "does not hold" : "has no value")\n"
        if !matchingDevices.isEmpty { out += "  matching: \(matchingDevices.joined(separator: ", "))\n" }
        return out
    }

    func json() -> JSONValue {
        .object([
            ("group", .string(group)), ("members", .number(Double(members))),
            ("functions", .object(terms.map { ($0.0, .string($0.1)) })),
            ("value", value.map { .number($0) } ?? .null), ("holds", holds.map { .bool($0) } ?? .null),
            ("phase", .string(phase)), ("since", since.map { .string(Timestamp.format($0)) } ?? .null),
            ("matching", .array(matchingDevices.map { .string($0) })),
        ])
    }
}
