import Foundation

/// Evaluates a `balance` rule (docs/BALANCE.md): per tumbling `window`, each gateway's load in
/// its group, findings for imbalanced and silent gateways, and at the end of the data the
/// rebalancing plan of the last evaluated window (`Rebalancer`).
struct BalanceAnalyzer: Analyzer {
    var observesApplicableOnly: Bool { true }
    let operatorIndex: Int
    let rule: BalanceRule
    var metrics: [Int] { [] }
    var wantsReadings: Bool { true }
    var tickInterval: Double { rule.window }

    /// Per device in the current window: the first gateway seen and its reading count;
    /// devices seen through several gateways keep every count in `roaming`.
    private var windowGateway: [Int32]
    private var windowCount: [Int32]
    /// Per device, the gateway it was last counted at (-1: never): the plan's view of who is where.
    private var lastGateway: [Int32]
    /// Per device, the time of its latest reading through any gateway (-inf: none), so the plan
    /// can leave out devices silent for longer than the rule's `silent_after`.
    private var lastSeen: [Double]
    private var roaming: [Int: [Int32: Int32]] = [:]
    /// Devices with readings in the current window, in first-reading order.
    private var touched: [Int] = []
    private var dataStart = Double.infinity

    /// Group of every gateway known to the inventory or the gateways CSV (sticky for others once placed).
    private var gatewayGroup: [String: String]
    /// Inventory-known gateways per group (they count with load 0 until seen).
    private let inventoryGateways: [String: [String]]
    /// "group␟gateway" → load in the last evaluated window in which the gateway carried any.
    private var lastLoad: [String: Double] = [:]
    private var open: Set<String> = []
    /// The last evaluated window, kept for the end-of-data plan.
    private var last: Evaluation?
    private var evaluatedComplete = false
    private(set) var plans: [GroupPlan] = []

    private let preferTyped: TypedExpression?

    struct GroupState: Sendable {
        var group: String
        var site: String?
        /// Gateways, sorted: loaded now, known to the inventory, or silent.
        var gateways: [String]
        /// Load in the window; a silent gateway keeps the load of the last window it carried any.
        var loads: [Double]
        /// Carried load before and none in this window.
        var silent: [Bool]
        /// Devices counted in the group: inventory index and index into `gateways`.
        var devices: [(device: Int, gateway: Int)]
    }

    struct Evaluation: Sendable {
        var start: Double
        var end: Double
        var groups: [GroupState]
    }

    struct GroupPlan: Sendable {
        var state: GroupState
        var plan: Rebalancer.Plan?
        var note: String?
        var capacity: [Int?]
        var moveDevices: [String]
        /// Per gateway, the devices counted at it that were silent for longer than `silent_after`
        /// at the end of the data: left out of the plan.
        var silentDevices: [[String]]
    }

    init(operatorIndex: Int, rule: BalanceRule, plan: EvaluationPlan, inventory: Inventory) {
        self.operatorIndex = operatorIndex
        self.rule = rule
        let n = inventory.count
        windowGateway = Array(repeating: -1, count: n)
        windowCount = Array(repeating: 0, count: n)
        lastGateway = Array(repeating: -1, count: n)
        lastSeen = Array(repeating: -.infinity, count: n)
        let column = Dictionary(
            inventory.columns.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
        func value(_ row: [String], _ name: String) -> String {
            guard let c = column[name], c < row.count else { return "" }
            return row[c]
        }
        func group(_ row: [String]) -> String { rule.groupBy.map { value(row, $0) }.joined(separator: "/") }
        // Gateways the inventory names: the CSV (by site when grouping by site), a gateway's own
        // inventory row, else the group most of the devices listing it as their `gateway` belong to.
        var groups: [String: String] = [:]
        var votes: [String: [String: Int]] = [:]
        for row in inventory.rows {
            let g = value(row, "gateway")
            if !g.isEmpty { votes[g, default: [:]][group(row), default: 0] += 1 }
        }
        for (g, counts) in votes {
            if let own = inventory.deviceIndex[g] {
                groups[g] = group(inventory.rows[own])
            } else if let best = counts.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }) {
                groups[g] = best.key
            }
        }
        if rule.groupBy == ["site"] {
            for e in inventory.gateways.entries where !e.site.isEmpty { groups[e.gateway] = e.site }
        }
        gatewayGroup = groups
        var known: [String: [String]] = [:]
        for (g, key) in groups { known[key, default: []].append(g) }
        inventoryGateways = known.mapValues { $0.sorted() }
        preferTyped = rule.rebalance?.prefer
    }

    mutating func observe(device: Int, metric: Int, value: Double, time: Double) {}

    mutating func prefetch(device: Int) {
        windowGateway.prefetch(device)
        windowCount.prefetch(device)
    }

    mutating func observeReading(device d: Int, time: Double, gateway: Int32) {
        guard gateway >= 0, d >= 0, d < windowGateway.count else { return }
        dataStart = min(dataStart, time)
        lastSeen[d] = max(lastSeen[d], time)
        if windowGateway[d] < 0 {
            windowGateway[d] = gateway
            windowCount[d] = 1
            touched.append(d)
        } else if windowGateway[d] == gateway, roaming[d] == nil {
            windowCount[d] += 1
        } else {
            if roaming[d] == nil { roaming[d] = [windowGateway[d]: windowCount[d]] }
            roaming[d]?[gateway, default: 0] += 1
        }
    }

    mutating func tick(at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink) {
        // Only windows the data covers completely are judged; a partial first window is dropped.
        if dataStart <= time - rule.window {
            if let e = evaluate(start: time - rule.window, end: time, context) {
                report(e, context, &findings)
                last = e
                evaluatedComplete = true
            }
        }
        reset()
    }

    mutating func finish(at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink) {
        // Short data: no complete window was judged, so the partial window is the best there is.
        if !evaluatedComplete, !touched.isEmpty,
            let e = evaluate(start: max(dataStart, time - rule.window), end: time, context)
        {
            report(e, context, &findings)
            last = e
        }
        reset()
        plans = []
        guard let last else { return }
        // The plan counts every device at the gateway it was last counted at: a device missing
        // from the last window (a data gap, or behind a silent gateway) still occupies its gateway.
        var known: [String: [(device: Int, gateway: String)]] = [:]
        for d in lastGateway.indices where lastGateway[d] >= 0 && Int(lastGateway[d]) < context.gatewayNames.count {
            let name = context.gatewayNames[Int(lastGateway[d])]
            guard let group = gatewayGroup[name] else { continue }
            known[group, default: []].append((d, name))
        }
        for state in last.groups { plans.append(planGroup(state, known[state.group] ?? [], context)) }
    }

    private mutating func reset() {
        for d in touched {
            windowGateway[d] = -1
            windowCount[d] = 0
        }
        touched.removeAll(keepingCapacity: true)
        roaming.removeAll(keepingCapacity: true)
    }

    /// A condition over device attributes; window functions read no data here (so never hold).
    private static func lower(_ e: TypedExpression?, _ context: AnalysisContext) -> RuntimeExpression? {
        e.map { RuntimeExpression($0, attributeSlot: { context.attributeSlots[$0] ?? -1 }, aggregateId: { _ in -1 }) }
    }

    private static func holds(_ e: RuntimeExpression, device d: Int, _ context: AnalysisContext) -> Bool {
        var inputs = AttributeInputs(attributes: context.attributes[d], now: context.now)
        if case .bool(true)? = e.evaluate(&inputs) { return true }
        return false
    }

    /// The gateway a device counts at: where it was seen most; ties go to the gateway name that sorts first.
    private func primary(_ d: Int, _ names: [String]) -> Int32 {
        guard let counts = roaming[d] else { return windowGateway[d] }
        var best: (gateway: Int32, count: Int32)?
        for (g, c) in counts {
            guard let b = best else {
                best = (g, c)
                continue
            }
            if c > b.count || (c == b.count && names[Int(g)] < names[Int(b.gateway)]) { best = (g, c) }
        }
        return best?.gateway ?? windowGateway[d]
    }

    private mutating func evaluate(start: Double, end: Double, _ context: AnalysisContext) -> Evaluation? {
        guard !touched.isEmpty else { return nil }
        let names = context.gatewayNames
        var loads: [String: [String: Double]] = [:]
        var members: [String: [(device: Int, gateway: String)]] = [:]
        var unplaced: [String: [String: Int]] = [:]
        var counted: [(device: Int, gateway: String, group: String)] = []
        var countedAt: [(device: Int, gateway: Int32)] = []
        for d in touched where context.applies(d) {
            let g = primary(d, names)
            guard g >= 0, Int(g) < names.count else { continue }
            let name = names[Int(g)]
            // A gateway's own uplink is not load on itself.
            if context.deviceID(d) == name { continue }
            let group = rule.groupBy.map { context.attribute($0, device: d) }.joined(separator: "/")
            counted.append((d, name, group))
            countedAt.append((d, g))
            if gatewayGroup[name] == nil { unplaced[name, default: [:]][group, default: 0] += 1 }
        }
        // Gateways the inventory does not place join the group most of their devices belong to.
        for (g, votes) in unplaced {
            if let best = votes.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }) { gatewayGroup[g] = best.key }
        }
        for c in counted {
            let group = gatewayGroup[c.gateway] ?? c.group
            let weight: Double
            switch rule.load {
            case .devices: weight = 1
            case .readings:
                weight = Double(roaming[c.device]?.values.reduce(0, +) ?? windowCount[c.device])
            }
            loads[group, default: [:]][c.gateway, default: 0] += weight
            members[group, default: []].append((c.device, c.gateway))
        }
        var groups: [GroupState] = []
        var remembered: [String: [String]] = [:]
        for k in lastLoad.keys {
            let (group, gateway) = Self.split(k)
            remembered[group, default: []].append(gateway)
        }
        let allGroups = Set(loads.keys).union(inventoryGateways.keys).union(remembered.keys)
        for group in allGroups.sorted() {
            let loaded = loads[group] ?? [:]
            let gateways = Set(loaded.keys).union(inventoryGateways[group] ?? []).union(remembered[group] ?? [])
                .sorted()
            let silent = gateways.map { loaded[$0] == nil && lastLoad[Self.key(group, $0)] != nil }
            let position = Dictionary(uniqueKeysWithValues: gateways.enumerated().map { ($0.element, $0.offset) })
            let devices = (members[group] ?? []).compactMap { m in position[m.gateway].map { (m.device, $0) } }
            let site = rule.groupBy.firstIndex(of: "site").map { i in
                group.split(separator: "/", omittingEmptySubsequences: false).map(String.init)[safe: i] ?? ""
            }
            groups.append(
                GroupState(
                    group: group, site: site, gateways: gateways,
                    loads: gateways.map { loaded[$0] ?? lastLoad[Self.key(group, $0)] ?? 0 }, silent: silent,
                    devices: devices))
        }
        for (group, l) in loads { for (g, v) in l where v > 0 { lastLoad[Self.key(group, g)] = v } }
        for c in countedAt { lastGateway[c.device] = c.gateway }
        return Evaluation(start: start, end: end, groups: groups)
    }

    static func key(_ group: String, _ gateway: String) -> String { "\(group)\u{1F}\(gateway)" }
    static func split(_ key: String) -> (String, String) {
        let parts = key.split(separator: "\u{1F}", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        return (parts.first ?? "", parts.count > 1 ? parts[1] : "")
    }

    private mutating func report(_ e: Evaluation, _ context: AnalysisContext, _ findings: inout FindingSink) {
        var now: Set<String> = []
        let r = context.rule
        for s in e.groups {
            let total = s.loads.reduce(0, +)
            let mean = s.gateways.isEmpty ? 0 : total / Double(s.gateways.count)
            // A group of one gateway, or with no load, has nothing to balance.
            if s.gateways.count > 1, mean > 0 {
                for (i, g) in s.gateways.enumerated() where !s.silent[i] {
                    let deviation = abs(s.loads[i] - mean) / mean
                    guard deviation > rule.threshold + 1e-9 else { continue }
                    let key = Self.key(s.group, g)
                    now.insert(key)
                    let values: [String: String] = [
                        "gateway": g, "load": Engine.format(s.loads[i]), "mean": Engine.format(mean),
                        "deviation": "\(Engine.format(deviation * 100))%", "group": s.group,
                    ]
                    var evidence: [(String, JSONValue)] = [
                        ("finding", "imbalanced"), ("group", .string(s.group)), ("gateway", .string(g)),
                        ("load", .number(s.loads[i])), ("mean", .number((mean * 100).rounded() / 100)),
                        ("deviation", .number((deviation * 1000).rounded() / 1000)),
                        ("direction", .string(s.loads[i] > mean ? "over" : "under")),
                        ("window_start", .string(Timestamp.format(e.start))),
                    ]
                    if let site = s.site { evidence.insert(("site", .string(site)), at: 1) }
                    findings.report(
                        FindingSink.Finding(
                            key: key, device: -1, site: s.site, severity: r.severity, value: s.loads[i],
                            summary: context.renderSummary(
                                device: -1,
                                fallback:
                                    "\(g) in \(s.group): load \(values["load"] ?? "") vs mean \(values["mean"] ?? "") (\(values["deviation"] ?? ""))",
                                extra: values),
                            evidence: evidence, maintenance: r.maintenance, since: e.start))
                }
            }
            // Silence is its own finding: the gateway carried load before and none in this window.
            for (i, g) in s.gateways.enumerated() where s.silent[i] {
                let key = Self.key(s.group, g) + "\u{1F}silent"
                now.insert(key)
                var evidence: [(String, JSONValue)] = [
                    ("finding", "silent"), ("group", .string(s.group)), ("gateway", .string(g)),
                    ("window_start", .string(Timestamp.format(e.start))),
                ]
                if let site = s.site { evidence.insert(("site", .string(site)), at: 1) }
                findings.report(
                    FindingSink.Finding(
                        key: key, device: -1, site: s.site, severity: r.severity, value: 0,
                        summary:
                            "\(g) in \(s.group): no device seen in the last \(DurationText.format(rule.window)) (silent; its last load \(Engine.format(s.loads[i])) stays in the mean)",
                        evidence: evidence, maintenance: nil, since: e.start))
            }
        }
        for key in open.subtracting(now).sorted() { findings.resolve(key, at: e.start) }
        open = now
    }

    private func planGroup(_ s: GroupState, _ known: [(device: Int, gateway: String)], _ context: AnalysisContext)
        -> GroupPlan
    {
        let capacity: [Int?] = s.gateways.map { context.inventory.gateways[$0]?.capacity }
        guard let rebalance = rule.rebalance else {
            return GroupPlan(
                state: s, plan: nil, note: "no `rebalance` in the rule", capacity: capacity, moveDevices: [],
                silentDevices: [])
        }
        guard rule.load == .devices else {
            return GroupPlan(
                state: s, plan: nil, note: "rebalancing moves devices; it needs `load: devices`", capacity: capacity,
                moveDevices: [], silentDevices: [])
        }
        let position = Dictionary(uniqueKeysWithValues: s.gateways.enumerated().map { ($0.element, $0.offset) })
        let prefer = Self.lower(preferTyped, context)
        // Devices behind a silent gateway stay where they are: it is off the air and takes none.
        // A device silent for longer than `silent_after` behind a gateway that is on the air is
        // left out (neither moved nor counted) and named: it needs a visit, not a new gateway.
        var fixed = Array(repeating: 0, count: s.gateways.count)
        var movable: [(device: Int, gateway: Int)] = []
        var silentDevices = Array(repeating: [String](), count: s.gateways.count)
        for m in known {
            guard let g = position[m.gateway] else { continue }
            if s.silent[g] {
                fixed[g] += 1
            } else if context.now - lastSeen[m.device] > rebalance.silentAfter {
                silentDevices[g].append(context.deviceID(m.device))
            } else {
                movable.append((m.device, g))
            }
        }
        let devices: [Rebalancer.Device] = movable.map { m in
            let reach = context.attribute(rebalance.reachable, device: m.device)
                .split(separator: "|").compactMap { position[$0.trimmingCharacters(in: .whitespaces)] }
            let preferred = prefer.map { Self.holds($0, device: m.device, context) } ?? false
            return Rebalancer.Device(
                id: context.deviceID(m.device), gateway: m.gateway, reachable: reach, preferred: preferred)
        }
        let limits = s.gateways.indices.map { i in s.silent[i] ? min(capacity[i] ?? Int.max, fixed[i]) : capacity[i] }
        let solver = Rebalancer(
            gateways: s.gateways.count, capacity: limits, threshold: rule.threshold, maxMoves: rebalance.maxMoves,
            fixedLoad: fixed)
        let plan = solver.plan(devices)
        return GroupPlan(
            state: s, plan: plan, note: nil, capacity: capacity, moveDevices: plan.moves.map { devices[$0.device].id },
            silentDevices: silentDevices.map { $0.sorted() })
    }

    func sections(_ context: AnalysisContext) -> AnalysisSections {
        var sections = AnalysisSections()
        let ruleID = context.rule.id
        for p in plans {
            let s = p.state
            if let plan = p.plan {
                for (i, m) in plan.moves.enumerated() {
                    sections.rebalancing.append(
                        Report.Move(
                            rule: ruleID, group: s.group, site: s.site ?? "", device: p.moveDevices[i],
                            from: s.gateways[m.from],
                            to: s.gateways[m.to]))
                }
            }
            let before = p.plan.map { $0.before.map(Double.init) } ?? s.loads
            let after = p.plan.map { $0.after.map(Double.init) } ?? s.loads
            let total = s.loads.reduce(0, +)
            let mean = s.gateways.isEmpty ? 0 : total / Double(s.gateways.count)
            sections.rebalancingGroups.append(
                Report.BalanceGroup(
                    rule: ruleID, group: s.group, site: s.site ?? "", load: rule.load.rawValue,
                    window: (last?.start ?? 0, last?.end ?? 0), mean: mean,
                    band: p.plan.map { ($0.low, $0.high) }, status: p.plan?.status.rawValue ?? "not planned",
                    note: p.note,
                    moves: p.plan?.moves.count ?? 0, silentAfter: p.plan == nil ? nil : rule.rebalance?.silentAfter,
                    gateways: s.gateways.enumerated().map { i, g in
                        Report.BalanceGroup.Gateway(
                            gateway: g, before: before[i], after: after[i], capacity: p.capacity[i],
                            silent: s.silent[i],
                            silentDevices: i < p.silentDevices.count ? p.silentDevices[i] : [])
                    }))
        }
        return sections
    }
}

/// Expression inputs of one device's attributes only: window functions have no data here.
struct AttributeInputs: EvaluationInputs {
    let attributes: [String]
    let now: Double
    func attribute(_ slot: Int) -> String? { slot >= 0 && slot < attributes.count ? attributes[slot] : nil }
    mutating func aggregate(_ id: Int) -> RuntimeValue? { nil }
}

extension Array {
    fileprivate subscript(safe i: Int) -> Element? { i >= 0 && i < count ? self[i] : nil }
}
