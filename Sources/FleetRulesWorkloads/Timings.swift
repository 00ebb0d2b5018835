import FleetRules
import Foundation

/// One workload timed once: what it processed and how long it took (wall clock).
public struct Timing: Sendable {
    public var name: String
    public var readings: Int
    public var seconds: Double

    public var readingsPerSecond: Double { Double(readings) / max(seconds, 1e-9) }
}

/// The workloads `fleetrules bench` times, each run once on one core.
extension Workloads {
    /// Decoding the JSON Lines without evaluation.
    public static func timeDecode(_ bytes: [UInt8]) -> Timing {
        let started = Date()
        let lines = decode(bytes)
        return Timing(name: "decode JSON Lines", readings: lines, seconds: Date().timeIntervalSince(started))
    }

    /// Decoding and evaluating the telemetry with `plan`; the finished engine holds the episodes.
    public static func timeReplay(_ plan: EvaluationPlan, named name: String, inventory: Inventory, bytes: [UInt8])
        -> (timing: Timing, engine: Engine)
    {
        let started = Date()
        let engine = replay(plan, inventory: inventory, bytes: bytes)
        return (Timing(name: name, readings: engine.stats.readings, seconds: Date().timeIntervalSince(started)), engine)
    }

    /// `Engine.ingest(contentsOf:)` of `batch`, then `finish()`.
    public static func ingest(_ plan: EvaluationPlan, inventory: Inventory, batch: [Reading]) -> Engine {
        var engine = Engine(plan: plan, inventory: inventory)
        engine.ingest(contentsOf: batch)
        engine.finish()
        return engine
    }

    /// `batch`'s battery readings through the handle API (device i of `readings(devices:count:)`
    /// is `d-i`), then `finish()`; nil when the plan has no `battery_pct` or a device is unknown.
    public static func ingestWithHandles(_ plan: EvaluationPlan, inventory: Inventory, devices: Int, batch: [Reading])
        -> Engine?
    {
        var engine = Engine(plan: plan, inventory: inventory)
        guard let battery = engine.metric("battery_pct") else { return nil }
        let handles = (0..<devices).compactMap { engine.device("d-\($0)") }
        guard handles.count == devices else { return nil }
        for (i, r) in batch.enumerated() {
            engine.ingest(
                time: r.timestamp, device: handles[i % devices], metric: battery, value: r.metrics["battery_pct"] ?? 0)
        }
        engine.finish()
        return engine
    }

    /// The embedding API on `thresholdPack`: `readings` readings of `devices` devices ingested as
    /// `Reading`s, then through handles; and the state a threshold rule keeps per device.
    public static func timeEmbeddingAPI(devices: Int, readings count: Int, inventory: Inventory) throws
        -> (timings: [Timing], ruleBytesPerDevice: Int, latestValueBytes: Int)
    {
        let threshold = try Policy.parse(thresholdPack).compile()
        let batch = readings(devices: devices, count: count)
        var started = Date()
        let api = ingest(threshold, inventory: inventory, batch: batch)
        var timings = [
            Timing(
                name: "embedding API, threshold rules", readings: api.stats.readings,
                seconds: Date().timeIntervalSince(started))
        ]
        started = Date()
        if let handles = ingestWithHandles(threshold, inventory: inventory, devices: devices, batch: batch) {
            timings.append(
                Timing(
                    name: "embedding API with handles, threshold rules", readings: handles.stats.readings,
                    seconds: Date().timeIntervalSince(started)))
        }
        let perRule = threshold.operators.first?.stateBytesPerDevice ?? 0
        let history = threshold.historyBytes(metric: threshold.metricIndex["battery_pct"] ?? 0)
        return (timings, perRule, history)
    }

    /// The rebalancing planner on one synthetic site, with a move cap (nil: none).
    public struct RebalanceTiming: Sendable {
        public var maxMoves: Int?
        public var moves: Int
        public var status: Rebalancer.Status
        /// The largest gateway load's distance from the mean, as a share of the mean.
        public var deviationBefore: Double
        public var deviationAfter: Double
        public var seconds: Double
    }

    /// Plans one site of `gateways` gateways and `devices` devices at a 30% threshold, exactly
    /// (no move cap) and with the example pack's cap of 50.
    public static func timeRebalance(gateways: Int, devices: Int) -> [RebalanceTiming] {
        let site = Rebalancer.benchmarkSite(gateways: gateways, devices: devices)
        return [Int.max, 50].map { cap in
            let solver = Rebalancer(gateways: gateways, threshold: 0.3, maxMoves: cap)
            let started = Date()
            let plan = solver.plan(site)
            let seconds = Date().timeIntervalSince(started)
            let worst = { (loads: [Int]) in
                loads.map { abs(Double($0) - plan.mean) / max(plan.mean, 1e-9) }.max() ?? 0
            }
            return RebalanceTiming(
                maxMoves: cap == Int.max ? nil : cap, moves: plan.moves.count, status: plan.status,
                deviationBefore: worst(plan.before), deviationAfter: worst(plan.after), seconds: seconds)
        }
    }
}
