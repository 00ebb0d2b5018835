extension ComplianceRule {
    /// Version text (16), parsed version (~40), reported-at (8), state, flags and episode (16).
    static let stateBytesPerDevice = 80

    /// With a health gate, each device also keeps when it took the target (8) and whether it failed (1).
    var stateBytesPerDevice: Int { Self.stateBytesPerDevice + (rollout?.abort != nil ? 9 : 0) }

    var planSteps: [String] {
        var steps: [String] = []
        steps.append("track \(attribute) per device (newest reported value wins, inventory as the start)")
        if !baseline.isEmpty {
            steps.append(
                "baseline "
                    + baseline.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.source)" }.joined(
                        separator: ", "))
        }
        for d in deny {
            steps.append("deny \(d.versions.source)\(d.advisory.map { " (\($0))" } ?? "") → \(d.severity.rawValue)")
        }
        if let stale { steps.append("stale after \(DurationText.format(stale)) without a report") }
        if let r = rollout {
            steps.append(
                "rollout to "
                    + r.target.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                    + " from \(Timestamp.format(r.started)), deadline \(DurationText.format(r.deadline))")
        }
        if let a = rollout?.abort { steps.append(a.planStep(stale: stale)) }
        if let m = maxVersions { steps.append("consistency: at most \(m) versions per type and site") }
        steps.append("emit a finding per non-compliant device")
        return steps
    }
}
