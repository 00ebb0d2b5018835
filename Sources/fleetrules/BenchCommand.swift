import ArgumentParser
import FleetRules
import FleetRulesWorkloads
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure decode, replay and embedding throughput on a synthetic fleet.",
        discussion: """
            Builds the telemetry in memory first, then times each workload on one core. Build
            with `swift build -c release` for meaningful figures; compare ratios within one run.

            Example:
              fleetrules bench --devices 10000 --readings 1000000 --rules rules/
              fleetrules bench --write-telemetry /tmp/bench.jsonl   # for the DuckDB comparison
            """
    )

    @Option(help: "Devices in the synthetic fleet.")
    var devices = 10_000

    @Option(help: "Readings to generate.")
    var readings = 1_000_000

    @Option(help: "Policy pack for the end-to-end replay.")
    var rules = "rules/"

    @Option(help: "Time only this workload (decode, run, api), e.g. under a profiler.")
    var only: Workload?

    enum Workload: String, ExpressibleByArgument, CaseIterable { case decode, run, api }

    @Option(help: "Write the synthetic telemetry to this file and stop.")
    var writeTelemetry: String?

    @Option(help: "Time the rebalancing planner on one site of GATEWAYSxDEVICES (e.g. 100x100000) and stop.")
    var rebalance: String?

    func run() throws {
        if let rebalance {
            try benchRebalance(rebalance)
            return
        }
        let bytes = Workloads.telemetry(devices: devices, readings: readings)
        if let path = writeTelemetry {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            print("wrote \(readings) readings (\(bytes.count / 1_048_576) MiB) to \(path)")
            return
        }
        let inventory = Workloads.inventory(devices: devices)
        print("synthetic fleet: \(devices) devices, \(readings) readings, \(bytes.count / 1_048_576) MiB of JSON Lines")

        if only == nil || only == .decode {
            let t = Date()
            let decoded = Workloads.decode(bytes)
            report("decode JSON Lines", decoded, Date().timeIntervalSince(t))
        }
        if only == nil || only == .run {
            benchRun(bytes, inventory: inventory)
        }
        if only == nil || only == .api {
            try benchAPI(inventory: inventory)
        }
    }

    private func benchRun(_ bytes: [UInt8], inventory: Inventory) {
        let (policy, _) = PolicyInput.load([rules])
        let plan = policy.compile()
        let t = Date()
        let engine = Workloads.replay(plan, inventory: inventory, bytes: bytes)
        report("run \(rules) (decode + evaluate)", engine.stats.readings, Date().timeIntervalSince(t))
        print(
            "    \(engine.episodes.count) alert episodes; plan state estimate \(plan.stateBytesPerDevice) bytes/device")
    }

    private func benchAPI(inventory: Inventory) throws {
        let threshold = try Policy.parse(Workloads.thresholdPack).compile()
        let batch = Workloads.readings(devices: devices, count: readings)
        var api = Engine(plan: threshold, inventory: inventory)
        var t = Date()
        api.ingest(contentsOf: batch)
        api.finish()
        report("embedding API, threshold rules", api.stats.readings, Date().timeIntervalSince(t))
        var handles = Engine(plan: threshold, inventory: inventory)
        let battery = handles.metric("battery_pct")
        let deviceHandles = (0..<devices).compactMap { handles.device("d-\($0)") }
        if let battery, deviceHandles.count == devices {
            t = Date()
            for (i, r) in batch.enumerated() {
                handles.ingest(
                    time: r.timestamp, device: deviceHandles[i % devices], metric: battery,
                    value: r.metrics["battery_pct"] ?? 0)
            }
            handles.finish()
            report("embedding API with handles, threshold rules", handles.stats.readings, Date().timeIntervalSince(t))
        }
        let perRule = threshold.operators.first?.stateBytesPerDevice ?? 0
        let history = threshold.historyBytes(metric: threshold.metricIndex["battery_pct"] ?? 0)
        print(
            "    state per device per threshold rule: \(perRule + history) bytes (rule \(perRule) + latest value \(history))"
        )
    }

    /// Plans one synthetic site exactly (no move cap) and with the example pack's cap of 50.
    private func benchRebalance(_ spec: String) throws {
        let parts = spec.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts[0] > 0, parts[1] >= 0 else {
            throw ValidationError("--rebalance takes GATEWAYSxDEVICES, e.g. 100x100000")
        }
        let devices = Rebalancer.benchmarkSite(gateways: parts[0], devices: parts[1])
        print("rebalancing planner: one site, \(parts[0]) gateways, \(parts[1]) devices, threshold 30%")
        for cap in [Int.max, 50] {
            let solver = Rebalancer(gateways: parts[0], threshold: 0.3, maxMoves: cap)
            let t = Date()
            let plan = solver.plan(devices)
            let seconds = Date().timeIntervalSince(t)
            let worst = { (loads: [Int]) in
                loads.map { abs(Double($0) - plan.mean) / max(plan.mean, 1e-9) }.max() ?? 0
            }
            print(
                String(
                    format: "  max_moves %@: %6d moves, %@, max deviation %.1f%% → %.1f%%, planned in %.3f s",
                    cap == Int.max ? "none" : "\(cap)", plan.moves.count, plan.status.rawValue,
                    worst(plan.before) * 100,
                    worst(plan.after) * 100, seconds))
        }
    }

    private func report(_ name: String, _ count: Int, _ seconds: Double) {
        let rate = Double(count) / max(seconds, 1e-9)
        let label = name.count < 48 ? name + String(repeating: " ", count: 48 - name.count) : name
        print(label + String(format: "%10d in %7.3f s = %6.2f M readings/s", count, seconds, rate / 1e6))
    }
}
