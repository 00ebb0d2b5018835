import Testing

@testable import FleetRules

/// Devices for a hand-made group: `count` devices at `gateway` reaching `reach`, ids "g<gateway>-<n>".
private func devices(_ count: Int, at gateway: Int, reach: [Int], preferred: Bool = false, tag: String = "")
    -> [Rebalancer.Device]
{
    (0..<count).map { i in
        Rebalancer.Device(
            id: "g\(gateway)\(tag)-\(String(format: "%03d", i))", gateway: gateway, reachable: reach,
            preferred: preferred)
    }
}

/// Checks what every plan must satisfy: legal moves, each device at most once, loads consistent.
private func checkLegal(
    _ plan: Rebalancer.Plan, _ devs: [Rebalancer.Device], gateways: Int, capacity: [Int?] = [], maxMoves: Int = .max
) {
    var seen = Set<Int>()
    var loads = plan.before
    for m in plan.moves {
        #expect(seen.insert(m.device).inserted, "device moved twice")
        let d = devs[m.device]
        #expect(m.from == d.gateway)
        #expect(m.to != m.from)
        #expect(d.reachable.contains(m.to), "move to an unreachable gateway")
        #expect(m.to >= 0 && m.to < gateways)
        loads[m.from] -= 1
        loads[m.to] += 1
    }
    #expect(loads == plan.after)
    #expect(plan.moves.count <= maxMoves)
    // A capacity is never exceeded by moving devices onto a gateway.
    for g in 0..<gateways where g < capacity.count {
        if let c = capacity[g], plan.after[g] > plan.before[g] { #expect(plan.after[g] <= c) }
    }
    #expect((plan.violationAfter == 0) == (plan.status == .rebalanced || plan.status == .balanced))
}

@Suite struct RebalancerTests {
    @Test func bandIsTheThresholdAroundTheMeanWithExactTiesInside() {
        #expect(Rebalancer.band(mean: 5, threshold: 0.3) == (4, 6))
        #expect(Rebalancer.band(mean: 10, threshold: 0.3) == (7, 13))
        #expect(Rebalancer.band(mean: 100, threshold: 0.3) == (70, 130))
    }

    @Test func overloadedGatewayShedsTheFewestDevices() {
        // Loads 10, 2, 3: mean 5, band [4, 6]: gw0 sheds 4, gw1 takes 2 and gw2 at least 1.
        let devs = devices(10, at: 0, reach: [0, 1, 2]) + devices(2, at: 1, reach: [1]) + devices(3, at: 2, reach: [2])
        let plan = Rebalancer(gateways: 3, threshold: 0.3).plan(devs)
        checkLegal(plan, devs, gateways: 3)
        #expect(plan.moves.count == 4)
        #expect(plan.status == .rebalanced)
        #expect(plan.after[0] == 6)
        #expect(plan.after.allSatisfy { (4...6).contains($0) })
    }

    @Test func balancedGroupNeedsNoMove() {
        let devs = devices(5, at: 0, reach: [1]) + devices(4, at: 1, reach: [0]) + devices(6, at: 2, reach: [0])
        let plan = Rebalancer(gateways: 3, threshold: 0.3).plan(devs)
        #expect(plan.moves.isEmpty)
        #expect(plan.status == .balanced)
    }

    @Test func singleGatewayGroupIsBalancedByDefinition() {
        let plan = Rebalancer(gateways: 1, threshold: 0.3).plan(devices(7, at: 0, reach: [0]))
        #expect(plan.moves.isEmpty)
        #expect(plan.status == .balanced)
        #expect(plan.after == [7])
    }

    @Test func unreachableGatewayMakesBalanceInfeasibleAndGivesTheBestState() {
        // Loads 8, 4, 0: mean 4, band [3, 5]. Nobody reaches gw2, so it stays 3 short; gw0 can
        // still give one device to gw1 (up to 5): the best state has 2 + 3 units outside the band.
        let devs = devices(8, at: 0, reach: [1]) + devices(4, at: 1, reach: [0])
        let plan = Rebalancer(gateways: 3, threshold: 0.3).plan(devs)
        checkLegal(plan, devs, gateways: 3)
        #expect(plan.status == .infeasible)
        #expect(plan.moves.count == 1)
        #expect(plan.after == [7, 5, 0])
        #expect(plan.violationBefore == 6)
        #expect(plan.violationAfter == 5)
    }

    @Test func deviceWithoutReachableGatewaysNeverMoves() {
        let devs = devices(9, at: 0, reach: []) + devices(1, at: 1, reach: [0])
        let plan = Rebalancer(gateways: 2, threshold: 0.3).plan(devs)
        #expect(plan.moves.isEmpty)
        #expect(plan.status == .infeasible)
    }

    @Test func capacityBelowTheBandIsInfeasibleButFilledToCapacity() {
        // Loads 9, 0, 3: mean 4, band [3, 5]; gw1 holds at most 2, so it ends 1 short; gw0 still
        // gets down to 5 (2 devices to gw1, 2 to gw2).
        let devs = devices(9, at: 0, reach: [1, 2]) + devices(3, at: 2, reach: [0])
        let capacity: [Int?] = [nil, 2, nil]
        let plan = Rebalancer(gateways: 3, capacity: capacity, threshold: 0.3).plan(devs)
        checkLegal(plan, devs, gateways: 3, capacity: capacity)
        #expect(plan.status == .infeasible)
        #expect(plan.after == [5, 2, 5])
        #expect(plan.moves.count == 4)
        #expect(plan.violationAfter == 1)
    }

    @Test func capacityBelowCurrentLoadForcesMovesInsideTheBand() {
        // Loads 5, 4, 3 are within [3, 5], but gw0 may hold 3: two devices leave it.
        let devs = devices(5, at: 0, reach: [1, 2]) + devices(4, at: 1, reach: [0]) + devices(3, at: 2, reach: [0])
        let capacity: [Int?] = [3, nil, nil]
        let plan = Rebalancer(gateways: 3, capacity: capacity, threshold: 0.3).plan(devs)
        checkLegal(plan, devs, gateways: 3, capacity: capacity)
        #expect(plan.status == .rebalanced)
        #expect(plan.moves.count == 2)
        #expect(plan.after[0] == 3)
    }

    @Test func chainsThroughAGatewayWhenNoDirectRouteExists() {
        // A reaches only B, B only C. Loads 6, 3, 0: mean 3, band [3, 3]: 3 devices A→B and 3 B→C.
        let devs = devices(6, at: 0, reach: [1]) + devices(3, at: 1, reach: [2])
        let plan = Rebalancer(gateways: 3, threshold: 0.3).plan(devs)
        checkLegal(plan, devs, gateways: 3)
        #expect(plan.status == .rebalanced)
        #expect(plan.moves.count == 6)
        #expect(plan.after == [3, 3, 3])
    }

    @Test func tiesGoToPreferredDevicesAndAreStableUnderInputOrder() {
        // Loads 6, 0, 6: gw1 needs 3; gw0 and gw2 must each give at least one. Preferred devices
        // sit on gw2, so gw2 gives two and gw0 one.
        let devs = devices(6, at: 0, reach: [1]) + devices(6, at: 2, reach: [1], preferred: true)
        let plan = Rebalancer(gateways: 3, threshold: 0.3).plan(devs)
        checkLegal(plan, devs, gateways: 3)
        #expect(plan.moves.count == 3)
        #expect(plan.moves.count { devs[$0.device].preferred } == 2)
        // The same devices in another order give the same moves.
        let reversed = Array(devs.reversed())
        let again = Rebalancer(gateways: 3, threshold: 0.3).plan(reversed)
        #expect(again.moves.map { reversed[$0.device].id } == plan.moves.map { devs[$0.device].id })
        #expect(again.moves.map(\.to) == plan.moves.map(\.to))
    }

    @Test func interchangeableDevicesMoveInIdOrder() {
        let devs = devices(10, at: 0, reach: [1]) + devices(2, at: 1, reach: [0])
        let plan = Rebalancer(gateways: 2, threshold: 0.3).plan(devs)
        // Mean 6, band [5, 7]: three devices leave gw0, the three first by id.
        #expect(plan.moves.map { devs[$0.device].id } == ["g0-000", "g0-001", "g0-002"])
    }

    @Test func maxMovesCapsThePlanAndSaysSo() {
        let devs = devices(10, at: 0, reach: [1, 2]) + devices(2, at: 1, reach: [1]) + devices(3, at: 2, reach: [2])
        let plan = Rebalancer(gateways: 3, threshold: 0.3, maxMoves: 2).plan(devs)
        checkLegal(plan, devs, gateways: 3, maxMoves: 2)
        #expect(plan.moves.count == 2)
        #expect(plan.status == .capped)
        #expect(plan.violationAfter < plan.violationBefore)
        let none = Rebalancer(gateways: 3, threshold: 0.3, maxMoves: 0).plan(devs)
        #expect(none.moves.isEmpty)
        #expect(none.status == .capped)
    }

    @Test func emptyAndUnknownInputDoNotCrash() {
        #expect(Rebalancer(gateways: 0, threshold: 0.3).plan([]).status == .balanced)
        #expect(Rebalancer(gateways: 3, threshold: 0.3).plan([]).status == .balanced)
        // Out-of-range gateways and reachable entries are ignored.
        let devs = [
            Rebalancer.Device(id: "x", gateway: 7, reachable: [0]),
            Rebalancer.Device(id: "y", gateway: 0, reachable: [-1, 9, 1]),
            Rebalancer.Device(id: "z", gateway: 0, reachable: [1]),
        ]
        let plan = Rebalancer(gateways: 2, threshold: 0.3).plan(devs)
        checkLegal(plan, devs, gateways: 2)
        #expect(plan.after == [1, 1])
    }
}

/// A small deterministic generator for the property tests.
private struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
    mutating func chance(_ p: Double) -> Bool { Double(next() % 1_000_000) / 1_000_000 < p }
}

@Suite struct RebalancerPropertyTests {
    /// Exhaustive search: the lexicographic optimum (units outside the band, moves, moves of
    /// devices not preferred) over every assignment of devices to a reachable gateway.
    private func bruteForce(_ devs: [Rebalancer.Device], gateways: Int, capacity: [Int?], threshold: Double) -> (
        Int, Int, Int
    ) {
        var before = Array(repeating: 0, count: gateways)
        for d in devs { before[d.gateway] += 1 }
        let mean = Double(devs.count) / Double(gateways)
        let (lo, hi) = Rebalancer.band(mean: mean, threshold: threshold)
        let options = devs.map { d in
            [d.gateway] + Array(Set(d.reachable.filter { $0 != d.gateway && $0 >= 0 && $0 < gateways })).sorted()
        }
        var best = (Int.max, Int.max, Int.max)
        var choice = Array(repeating: 0, count: devs.count)
        func visit(_ i: Int, _ loads: inout [Int], _ moves: Int, _ other: Int) {
            if i == devs.count {
                var violation = 0
                for g in 0..<gateways {
                    let top = min(hi, (g < capacity.count ? capacity[g] : nil) ?? Int.max)
                    let bottom = min(lo, top)
                    violation += loads[g] < bottom ? bottom - loads[g] : loads[g] > top ? loads[g] - top : 0
                    violation += lo - bottom
                }
                let score = (violation, moves, other)
                if score < best { best = score }
                return
            }
            for (k, g) in options[i].enumerated() {
                choice[i] = k
                loads[devs[i].gateway] -= 1
                loads[g] += 1
                let moved = k == 0 ? 0 : 1
                visit(i + 1, &loads, moves + moved, other + (moved == 1 && !devs[i].preferred ? 1 : 0))
                loads[g] -= 1
                loads[devs[i].gateway] += 1
            }
        }
        visit(0, &before, 0, 0)
        return best
    }

    @Test func plansAreExactOnSmallRandomGroups() {
        var rng = SplitMix(state: 42)
        var withMoves = 0
        for _ in 0..<300 {
            let gateways = 2 + rng.int(3)
            let count = rng.int(8)
            var devs: [Rebalancer.Device] = []
            for i in 0..<count {
                // Skewed towards gateway 0 so most groups need moves.
                let g = rng.chance(0.5) ? 0 : rng.int(gateways)
                let reach = (0..<gateways).filter { _ in rng.chance(0.5) }
                devs.append(Rebalancer.Device(id: "d\(i)", gateway: g, reachable: reach, preferred: rng.chance(0.4)))
            }
            let capacity: [Int?] = (0..<gateways).map { _ in rng.chance(0.2) ? rng.int(4) : nil }
            let threshold = [0.1, 0.3, 0.5][rng.int(3)]
            let plan = Rebalancer(gateways: gateways, capacity: capacity, threshold: threshold).plan(devs)
            checkLegal(plan, devs, gateways: gateways, capacity: capacity)
            let expected = bruteForce(devs, gateways: gateways, capacity: capacity, threshold: threshold)
            let other = plan.moves.count { !devs[$0.device].preferred }
            #expect(
                (plan.violationAfter, plan.moves.count, other) == expected,
                "devices \(devs) capacity \(capacity) t \(threshold)")
            if !plan.moves.isEmpty { withMoves += 1 }
        }
        // The generator must produce groups that need moves, or the comparison proves little.
        #expect(withMoves >= 60)
    }

    @Test func feasibleGroupsEndWithinTheThreshold() {
        // Built feasible: every device reaches a "home" gateway of a balanced assignment; the
        // current gateways are a perturbation of it, so moving the perturbed devices home balances.
        var rng = SplitMix(state: 7)
        for _ in 0..<100 {
            let gateways = 2 + rng.int(12)
            let perGateway = 5 + rng.int(40)
            var devs: [Rebalancer.Device] = []
            var perturbed = 0
            for g in 0..<gateways {
                for k in 0..<perGateway {
                    let current = rng.chance(0.35) ? rng.int(gateways) : g
                    if current != g { perturbed += 1 }
                    var reach = [g]
                    for _ in 0..<rng.int(3) { reach.append(rng.int(gateways)) }
                    devs.append(
                        Rebalancer.Device(
                            id: "d\(g)-\(k)", gateway: current, reachable: reach, preferred: rng.chance(0.3)))
                }
            }
            let plan = Rebalancer(gateways: gateways, threshold: 0.3).plan(devs)
            checkLegal(plan, devs, gateways: gateways)
            #expect(plan.violationAfter == 0)
            #expect(plan.status != .infeasible && plan.status != .capped)
            // Moving the perturbed devices home is one solution, so the optimum uses no more.
            #expect(plan.moves.count <= perturbed)
            let mean = Double(devs.count) / Double(gateways)
            for load in plan.after { #expect(abs(Double(load) - mean) / mean <= 0.3 + 1e-9) }
        }
    }
}
