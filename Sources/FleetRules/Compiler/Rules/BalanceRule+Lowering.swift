extension BalanceRule {
    /// Bytes of analyzer state per device: window gateway and count (8), last counted gateway (4,
    /// padded to 8 in the estimate), latest reading time (8), touched entry (8). Roaming devices
    /// add a small map.
    static let stateBytesPerDevice = 32

    /// The plan steps `fleetrules plan` shows for a balance rule.
    var planSteps: [String] {
        var steps = [
            "track each device's gateway per \(DurationText.format(window)) window (roaming: where seen most)",
            "group gateways by \(groupBy.joined(separator: ", ")); load = \(load == .devices ? "distinct devices" : "readings") per gateway",
            "imbalanced when |load − mean| / mean > \(NumberText.format(threshold * 100))%; silent gateways reported apart",
        ]
        if let r = rebalance {
            steps.append(
                "plan moves at the end of the data (min-cost flow): reachable from `\(r.reachable)`, at most \(r.maxMoves) per group"
                    + (r.prefer.map { ", prefer \($0)" } ?? "")
                    + "; devices silent for more than \(DurationText.format(r.silentAfter)) left out")
        }
        return steps
    }
}
