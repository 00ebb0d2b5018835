/// The report's `rebalancing` moves and `rebalancing_groups` loads (docs/REPORT.md, docs/BALANCE.md).
extension Report {
    /// One proposed device move of a balance rule.
    public struct Move: Sendable, Equatable {
        /// The balance rule's id.
        public var rule: String
        /// The balance group (the `by` values joined by `/`).
        public var group: String
        /// The group's site.
        public var site: String
        /// The device to move.
        public var device: String
        /// The gateway it leaves.
        public var from: String
        /// The gateway it joins.
        public var to: String

        var json: JSONValue {
            .object([
                ("site", .string(site)), ("device", .string(device)), ("from", .string(from)), ("to", .string(to)),
                ("rule", .string(rule)), ("group", .string(group)),
            ])
        }
    }

    /// One group of a balance rule in the last evaluated window: loads before and after the moves.
    public struct BalanceGroup: Sendable {
        /// One gateway of the group: its load before and after the moves.
        public struct Gateway: Sendable {
            /// The gateway's id.
            public var gateway: String
            /// Its load in the last window.
            public var before: Double
            /// Its load after the proposed moves.
            public var after: Double
            /// Its capacity, when the gateway table gives one.
            public var capacity: Int?
            /// Carried load earlier but none in the window: keeps its last load, gives and takes no device.
            public var silent: Bool
            /// Devices counted at this gateway but silent for longer than the rule's `silent_after`
            /// at the end of the data: left out of the plan (sorted ids).
            public var silentDevices: [String] = []
        }

        /// The balance rule's id.
        public var rule: String
        /// The balance group (the `by` values joined by `/`).
        public var group: String
        /// The group's site.
        public var site: String
        /// What is counted as load (`devices`, or a metric).
        public var load: String
        /// The evaluated window, seconds since the epoch.
        public var window: (start: Double, end: Double)
        /// The group's mean load.
        public var mean: Double
        /// Allowed loads [low, high] from the threshold (nil when no plan was made).
        public var band: (low: Int, high: Int)?
        /// balanced, rebalanced, infeasible, capped, or "not planned".
        public var status: String
        /// Why no plan was made, or what limited it.
        public var note: String?
        /// How many moves were proposed.
        public var moves: Int
        /// The rule's `silent_after` in seconds when a plan was made.
        public var silentAfter: Double?
        /// The group's gateways, by id.
        public var gateways: [Gateway]

        var json: JSONValue {
            var fields: [(String, JSONValue)] = [
                ("rule", .string(rule)), ("group", .string(group)), ("site", .string(site)), ("load", .string(load)),
                (
                    "window",
                    .object([
                        ("from", .string(Timestamp.format(window.start))),
                        ("to", .string(Timestamp.format(window.end))),
                    ])
                ),
                ("mean", .number((mean * 100).rounded() / 100)),
                ("band", band.map { .array([.number(Double($0.low)), .number(Double($0.high))]) } ?? .null),
                ("status", .string(status)), ("moves", .number(Double(moves))),
                ("silent_after_seconds", silentAfter.map { .number($0) } ?? .null),
            ]
            if let note { fields.append(("note", .string(note))) }
            fields.append(
                (
                    "gateways",
                    .array(
                        gateways.map { g in
                            .object([
                                ("gateway", .string(g.gateway)), ("before", .number(g.before)),
                                ("after", .number(g.after)),
                                ("capacity", g.capacity.map { .number(Double($0)) } ?? .null),
                                ("silent", .bool(g.silent)),
                                ("silent_devices", .array(g.silentDevices.map { .string($0) })),
                            ])
                        })
                ))
            return .object(fields)
        }
    }
}

extension TableRenderer {
    /// Per balance rule, one line per group: status, moves and each gateway's load before → after.
    static func rebalancing(_ r: Report) -> String {
        var out = ""
        var rules: [String] = []
        for g in r.rebalancingGroups where !rules.contains(g.rule) { rules.append(g.rule) }
        for rule in rules {
            let groups = r.rebalancingGroups.filter { $0.rule == rule }
            let moves = groups.reduce(0) { $0 + $1.moves }
            out += "\nREBALANCING \(rule) (\(moves) moves; full list in the JSON report)\n"
            let rows = groups.map { g -> [String] in
                let loads = g.gateways.map { gw in
                    "\(gw.gateway) \(Engine.format(gw.before))→\(Engine.format(gw.after))"
                        + (gw.capacity.map { "/\($0)" } ?? "") + (gw.silent ? " (silent)" : "")
                }
                return [g.group, g.status, String(g.moves), Engine.format(g.mean), loads.joined(separator: ", ")]
            }
            out += table(["GROUP", "STATUS", "MOVES", "MEAN", "LOAD BEFORE→AFTER (/CAPACITY)"], rows)
            for g in groups {
                for gw in g.gateways where !gw.silentDevices.isEmpty {
                    let silence = g.silentAfter.map { " for more than \(DurationText.format($0))" } ?? ""
                    out +=
                        "\(gw.gateway): \(gw.silentDevices.count) silent\(silence), not moved: "
                        + Self.shortList(gw.silentDevices) + "\n"
                }
            }
        }
        return out
    }

    /// The first ten ids, then how many more.
    static func shortList(_ ids: [String]) -> String {
        ids.prefix(10).joined(separator: ", ") + (ids.count > 10 ? ", … \(ids.count - 10) more" : "")
    }
}
