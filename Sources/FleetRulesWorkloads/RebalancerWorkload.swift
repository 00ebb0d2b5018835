import FleetRules

/// A synthetic site for timing the rebalancing planner (`fleetrules bench --rebalance`).
extension Rebalancer {
    /// 30% of the devices crowd the first tenth of the gateways, the rest spread evenly. Each
    /// device reaches its own gateway, 1–2 neighbours (within three places) and one gateway
    /// anywhere; 30% match `prefer`. Deterministic for a seed.
    public static func benchmarkSite(gateways: Int, devices: Int, seed: UInt64 = 1) -> [Device] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return n <= 0 ? 0 : Int((state >> 33) % UInt64(n))
        }
        let g = max(1, gateways)
        let hot = max(1, g / 10)
        var out: [Device] = []
        out.reserveCapacity(devices)
        for i in 0..<devices {
            let home = next(10) < 3 ? next(hot) : next(g)
            var reach = [home]
            for _ in 0..<(1 + next(2)) {
                let other = min(g - 1, max(0, home + next(7) - 3))
                if !reach.contains(other) { reach.append(other) }
            }
            let far = next(g)
            if !reach.contains(far) { reach.append(far) }
            out.append(Device(id: "d-\(i)", gateway: home, reachable: reach, preferred: next(10) < 3))
        }
        return out
    }
}
