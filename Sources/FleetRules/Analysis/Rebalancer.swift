/// Plans device moves between the gateways of one group so that every gateway's load ends within
/// `threshold` of the group's mean, exactly, as a min-cost flow (docs/BALANCE.md, "Solver").
///
/// A move takes one device from the gateway it is counted at to another gateway of the group that
/// the device can reach; moves never change the group's total, so the mean is fixed and the band
/// of allowed loads is `[lo, hi]` = `[⌈M(1−t)⌉, ⌊M(1+t)⌋]`, narrowed per gateway by its capacity.
///
/// Objective, lexicographic: (1) fewest device-units outside their band (the best achievable
/// state; 0 when balance is feasible), (2) fewest moves, (3) fewest moves of devices that do not
/// match `prefer`. Devices with the same gateway, targets and preference are interchangeable and
/// form one flow node; which of them move is decided by device id, so the plan is deterministic.
/// With `maxMoves` binding, augmentation stops at the budget: the plan is the cheapest-first
/// prefix of successive shortest paths, not a proven optimum of the capped problem.
public struct Rebalancer: Sendable {
    public struct Device: Sendable, Equatable {
        /// Stable id; decides which of several interchangeable devices move (ascending).
        public var id: String
        /// Index of the gateway the device is counted at.
        public var gateway: Int
        /// Indices of the gateways it can reach (its own may be listed; unknown ones are ignored).
        public var reachable: [Int]
        public var preferred: Bool

        public init(id: String, gateway: Int, reachable: [Int], preferred: Bool = false) {
            self.id = id
            self.gateway = gateway
            self.reachable = reachable
            self.preferred = preferred
        }
    }

    public struct Move: Sendable, Equatable {
        /// Index into the problem's devices.
        public var device: Int
        public var from: Int
        public var to: Int
    }

    public enum Status: String, Sendable {
        /// Every gateway was already within its band: nothing to do.
        case balanced
        /// The moves bring every gateway within its band.
        case rebalanced
        /// No set of legal moves reaches balance; the moves give the best achievable state.
        case infeasible
        /// Balance needs more than `maxMoves` moves; the moves are the best found within the cap.
        case capped
    }

    public struct Plan: Sendable {
        public var moves: [Move]
        public var before: [Int]
        public var after: [Int]
        public var mean: Double
        /// Allowed load band from the threshold (capacity may narrow it per gateway).
        public var low: Int
        public var high: Int
        public var status: Status
        /// Device-units outside their band before and after the moves.
        public var violationBefore: Int
        public var violationAfter: Int
    }

    public var gateways: Int
    /// Per gateway, the most devices it may serve (nil: no limit).
    public var capacity: [Int?]
    public var threshold: Double
    public var maxMoves: Int
    /// Per gateway, load that counts but cannot move (e.g. a silent gateway's last known devices).
    public var fixedLoad: [Int]

    public init(gateways: Int, capacity: [Int?] = [], threshold: Double, maxMoves: Int = .max, fixedLoad: [Int] = []) {
        self.gateways = gateways
        self.capacity = capacity
        self.threshold = threshold
        self.maxMoves = maxMoves
        self.fixedLoad = fixedLoad
    }

    /// The band [lo, hi] of loads within `threshold` of `mean` (a 1e-9 tolerance keeps exact ties inside).
    /// When no whole number lies in it (small means), the band is the nearest whole numbers
    /// [⌊M⌋, ⌈M⌉]: as balanced as whole devices allow.
    public static func band(mean: Double, threshold: Double) -> (low: Int, high: Int) {
        let lo = max(0, Int((mean * (1 - threshold) - 1e-9).rounded(.up)))
        let hi = Int((mean * (1 + threshold) + 1e-9).rounded(.down))
        if lo > hi { return (Int(mean.rounded(.down)), Int(mean.rounded(.up))) }
        return (lo, hi)
    }

    /// Units of `load` outside [lo, hi].
    static func violation(_ load: Int, _ lo: Int, _ hi: Int) -> Int {
        load < lo ? lo - load : load > hi ? load - hi : 0
    }

    public func plan(_ devices: [Device]) -> Plan {
        let n = gateways
        var before = Array(repeating: 0, count: n)
        for d in devices where d.gateway >= 0 && d.gateway < n { before[d.gateway] += 1 }
        for (g, k) in fixedLoad.enumerated() where g < n { before[g] += max(0, k) }
        let total = before.reduce(0, +)
        let mean = n > 0 ? Double(total) / Double(n) : 0
        let (lo, hi) = Self.band(mean: mean, threshold: threshold)
        // Per-gateway band: capacity lowers the top; a capacity below `lo` makes the band [cap, cap].
        var gLo = Array(repeating: lo, count: n)
        var gHi = Array(repeating: hi, count: n)
        for g in 0..<n {
            if g < capacity.count, let c = capacity[g] {
                gHi[g] = min(hi, max(0, c))
                gLo[g] = min(lo, gHi[g])
            }
        }
        // Units outside each gateway's band, plus, for a capacity below the band, the gap no
        // move can close: 0 exactly when every gateway is within the threshold and its capacity.
        func strictViolation(_ loads: [Int]) -> Int {
            (0..<n).map { g in Self.violation(loads[g], gLo[g], gHi[g]) + (lo - gLo[g]) }.reduce(0, +)
        }
        let violationBefore = strictViolation(before)
        if n <= 1 || total == 0 || violationBefore == 0 {
            return Plan(
                moves: [], before: before, after: before, mean: mean, low: lo, high: hi,
                status: violationBefore == 0 ? .balanced : .infeasible, violationBefore: violationBefore,
                violationAfter: violationBefore)
        }

        // Classes of interchangeable devices: (gateway, targets, preferred).
        struct ClassKey: Hashable, Comparable {
            var gateway: Int
            var targets: [Int]
            var preferred: Bool
            static func < (a: ClassKey, b: ClassKey) -> Bool {
                if a.gateway != b.gateway { return a.gateway < b.gateway }
                if a.preferred != b.preferred { return a.preferred }
                return a.targets.lexicographicallyPrecedes(b.targets)
            }
        }
        var classIndex: [ClassKey: Int] = [:]
        var keys: [ClassKey] = []
        var members: [[Int]] = []
        for (i, d) in devices.enumerated() where d.gateway >= 0 && d.gateway < n {
            let targets = Array(Set(d.reachable.filter { $0 >= 0 && $0 < n && $0 != d.gateway })).sorted()
            guard !targets.isEmpty else { continue }
            let key = ClassKey(gateway: d.gateway, targets: targets, preferred: d.preferred)
            if let c = classIndex[key] {
                members[c].append(i)
            } else {
                classIndex[key] = keys.count
                keys.append(key)
                members.append([i])
            }
        }
        // Sorted classes, members by id: independent of input order and hashing.
        let order = keys.indices.sorted { keys[$0] < keys[$1] }
        let sortedKeys = order.map { keys[$0] }
        let sortedMembers = order.map { c in members[c].sorted { (devices[$0].id, $0) < (devices[$1].id, $1) } }
        let movable = sortedMembers.reduce(0) { $0 + $1.count }

        // Costs: a move costs W (W + 1 when not preferred); a unit of band violation repaired is worth BIG.
        let w = movable + 2
        let big = (movable + 1) * (w + 2) + 1
        var graph = FlowGraph(nodes: 2 + n + sortedKeys.count)
        let source = 0
        let sink = 1
        for g in 0..<n {
            let l = before[g]
            let mandatoryShed = max(0, l - gHi[g])
            let optionalShed = max(0, l - gLo[g]) - mandatoryShed
            let mandatoryTake = max(0, gLo[g] - l)
            let optionalTake = max(0, gHi[g] - l) - mandatoryTake
            if mandatoryShed > 0 { graph.add(source, 2 + g, capacity: mandatoryShed, cost: -big) }
            if optionalShed > 0 { graph.add(source, 2 + g, capacity: optionalShed, cost: 0) }
            if mandatoryTake > 0 { graph.add(2 + g, sink, capacity: mandatoryTake, cost: -big) }
            if optionalTake > 0 { graph.add(2 + g, sink, capacity: optionalTake, cost: 0) }
        }
        var classEdge: [Int] = []
        var targetEdges: [[(to: Int, edge: Int)]] = []
        for (c, key) in sortedKeys.enumerated() {
            let node = 2 + n + c
            classEdge.append(
                graph.add(2 + key.gateway, node, capacity: sortedMembers[c].count, cost: key.preferred ? w : w + 1))
            targetEdges.append(
                key.targets.map { (to: $0, edge: graph.add(node, 2 + $0, capacity: sortedMembers[c].count, cost: 0)) })
        }
        let moveEdges = Set(classEdge)
        let capped = graph.minCostFlow(source: source, sink: sink, moveEdges: moveEdges, maxMoves: maxMoves)

        var moves: [Move] = []
        var after = before
        for (c, key) in sortedKeys.enumerated() {
            var next = 0
            for t in targetEdges[c] {
                let k = graph.flow(t.edge)
                for _ in 0..<k where next < sortedMembers[c].count {
                    moves.append(Move(device: sortedMembers[c][next], from: key.gateway, to: t.to))
                    next += 1
                    after[key.gateway] -= 1
                    after[t.to] += 1
                }
            }
        }
        moves.sort { (devices[$0.device].id, $0.device) < (devices[$1.device].id, $1.device) }
        let violationAfter = strictViolation(after)
        let status: Status = violationAfter == 0 ? .rebalanced : capped ? .capped : .infeasible
        return Plan(
            moves: moves, before: before, after: after, mean: mean, low: lo, high: hi, status: status,
            violationBefore: violationBefore, violationAfter: violationAfter)
    }
}

/// A residual graph for successive shortest paths with potentials (Dijkstra after one Bellman–Ford).
struct FlowGraph {
    private(set) var to: [Int] = []
    private(set) var cap: [Int] = []
    private(set) var cost: [Int] = []
    private var adjacency: [[Int]]
    private var originalCap: [Int] = []

    init(nodes: Int) {
        adjacency = Array(repeating: [], count: nodes)
    }

    /// Adds an edge and its reverse; returns the forward edge's id.
    @discardableResult
    mutating func add(_ u: Int, _ v: Int, capacity: Int, cost c: Int) -> Int {
        let e = to.count
        to.append(v)
        cap.append(capacity)
        cost.append(c)
        originalCap.append(capacity)
        adjacency[u].append(e)
        to.append(u)
        cap.append(0)
        cost.append(-c)
        originalCap.append(0)
        adjacency[v].append(e + 1)
        return e
    }

    /// Units sent along forward edge `e`.
    func flow(_ e: Int) -> Int { originalCap[e] - cap[e] }

    /// Sends flow along cheapest paths while they have negative cost; returns true when the move
    /// budget stopped it early. A path's moves = forward move edges − reversed move edges on it.
    mutating func minCostFlow(source s: Int, sink t: Int, moveEdges: Set<Int>, maxMoves: Int) -> Bool {
        let nodes = adjacency.count
        var isMove = Array(repeating: false, count: to.count)
        for e in moveEdges where e >= 0 && e < isMove.count { isMove[e] = true }
        let inf = Int.max / 4
        // Initial potentials: Bellman–Ford (queue-based); every cycle costs moves, so none is negative.
        var potential = Array(repeating: inf, count: nodes)
        potential[s] = 0
        var queue = [s]
        var queued = Array(repeating: false, count: nodes)
        queued[s] = true
        var head = 0
        while head < queue.count {
            let u = queue[head]
            head += 1
            queued[u] = false
            for e in adjacency[u] where cap[e] > 0 {
                let v = to[e]
                if potential[u] + cost[e] < potential[v] {
                    potential[v] = potential[u] + cost[e]
                    if !queued[v] {
                        queued[v] = true
                        queue.append(v)
                    }
                }
            }
            if head > 4096 {
                queue.removeFirst(head)
                head = 0
            }
        }
        for v in 0..<nodes where potential[v] == inf { potential[v] = 0 }
        var moves = 0
        var dist = Array(repeating: inf, count: nodes)
        var parent = Array(repeating: -1, count: nodes)
        while true {
            for v in 0..<nodes {
                dist[v] = inf
                parent[v] = -1
            }
            dist[s] = 0
            var heap = MinHeap<HeapItem>()
            heap.push(HeapItem(distance: 0, node: s))
            while let item = heap.pop() {
                let u = item.node
                guard item.distance == dist[u] else { continue }
                for e in adjacency[u] where cap[e] > 0 {
                    let v = to[e]
                    let reduced = cost[e] + potential[u] - potential[v]
                    let nd = dist[u] + reduced
                    if nd < dist[v] {
                        dist[v] = nd
                        parent[v] = e
                        heap.push(HeapItem(distance: nd, node: v))
                    }
                }
            }
            guard dist[t] < inf else { return false }
            // The path's true cost: reduced distance plus the potential difference.
            let pathCost = dist[t] + potential[t] - potential[s]
            for v in 0..<nodes { potential[v] += min(dist[v], dist[t]) }
            guard pathCost < 0 else { return false }
            // Every shortest path has the same true cost, hence the same number of moves per unit
            // (costs separate band repairs, moves and preference by orders of magnitude).
            var pathMoves = 0
            var v = t
            while v != s {
                let e = parent[v]
                if isMove[e] { pathMoves += 1 }
                if isMove[e ^ 1] { pathMoves -= 1 }
                v = to[e ^ 1]
            }
            var limit = inf
            if pathMoves > 0 {
                limit = (maxMoves - moves) / pathMoves
                if limit <= 0 { return true }
            }
            // Primal–dual phase: a blocking flow (Dinic) over the edges of zero reduced cost.
            let pushed = blockingFlow(source: s, sink: t, potential: potential, limit: limit)
            moves += pushed * pathMoves
        }
    }

    /// Sends up to `limit` units from s to t along edges of zero reduced cost; returns the units sent.
    private mutating func blockingFlow(source s: Int, sink t: Int, potential: [Int], limit: Int) -> Int {
        let nodes = adjacency.count
        var total = 0
        var level = Array(repeating: -1, count: nodes)
        var next = Array(repeating: 0, count: nodes)
        func admissible(_ u: Int, _ e: Int) -> Bool { cap[e] > 0 && cost[e] + potential[u] - potential[to[e]] == 0 }
        while total < limit {
            for v in 0..<nodes { level[v] = -1 }
            level[s] = 0
            var queue = [s]
            var head = 0
            while head < queue.count {
                let u = queue[head]
                head += 1
                for e in adjacency[u] where level[to[e]] < 0 && admissible(u, e) {
                    level[to[e]] = level[u] + 1
                    queue.append(to[e])
                }
            }
            guard level[t] >= 0 else { break }
            for v in 0..<nodes { next[v] = 0 }
            // Iterative depth-first search along the level graph.
            var pathEdges: [Int] = []
            var u = s
            while total < limit {
                if u == t {
                    var amount = limit - total
                    for e in pathEdges { amount = min(amount, cap[e]) }
                    for e in pathEdges {
                        cap[e] -= amount
                        cap[e ^ 1] += amount
                    }
                    total += amount
                    // Restart from the tail of the first saturated edge.
                    var cut = pathEdges.count
                    for (i, e) in pathEdges.enumerated() where cap[e] == 0 {
                        cut = i
                        break
                    }
                    pathEdges.removeSubrange(cut...)
                    u = pathEdges.last.map { to[$0] } ?? s
                    continue
                }
                var advanced = false
                while next[u] < adjacency[u].count {
                    let e = adjacency[u][next[u]]
                    if level[to[e]] == level[u] + 1, admissible(u, e) {
                        pathEdges.append(e)
                        u = to[e]
                        advanced = true
                        break
                    }
                    next[u] += 1
                }
                if advanced { continue }
                // Dead end: retreat.
                level[u] = -1
                guard let back = pathEdges.popLast() else { break }
                u = to[back ^ 1]
                next[u] += 1
            }
        }
        return total
    }

    private struct HeapItem: Comparable, Sendable {
        var distance: Int
        var node: Int
        static func < (a: HeapItem, b: HeapItem) -> Bool { (a.distance, a.node) < (b.distance, b.node) }
    }
}
