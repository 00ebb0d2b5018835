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
            report(Workloads.timeDecode(bytes))
        }
        if only == nil || only == .run {
            let (policy, _) = PolicyInput.load([rules])
            let plan = policy.compile()
            let (timing, engine) = Workloads.timeReplay(
                plan, named: "run \(rules) (decode + evaluate)", inventory: inventory, bytes: bytes)
            report(timing)
            print(
                "    \(engine.episodes.count) alert episodes; plan state estimate \(plan.stateBytesPerDevice) bytes/device"
            )
        }
        if only == nil || only == .api {
            let api = try Workloads.timeEmbeddingAPI(devices: devices, readings: readings, inventory: inventory)
            api.timings.forEach(report)
            print(
                "    state per device per threshold rule: \(api.ruleBytesPerDevice + api.latestValueBytes) bytes "
                    + "(rule \(api.ruleBytesPerDevice) + latest value \(api.latestValueBytes))")
        }
    }

    /// Plans one synthetic site exactly (no move cap) and with the example pack's cap of 50.
    private func benchRebalance(_ spec: String) throws {
        let parts = spec.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts[0] > 0, parts[1] >= 0 else {
            throw ValidationError("--rebalance takes GATEWAYSxDEVICES, e.g. 100x100000")
        }
        print("rebalancing planner: one site, \(parts[0]) gateways, \(parts[1]) devices, threshold 30%")
        for t in Workloads.timeRebalance(gateways: parts[0], devices: parts[1]) {
            print(
                String(
                    format: "  max_moves %@: %6d moves, %@, max deviation %.1f%% → %.1f%%, planned in %.3f s",
                    t.maxMoves.map { "\($0)" } ?? "none", t.moves, t.status.rawValue, t.deviationBefore * 100,
                    t.deviationAfter * 100, t.seconds))
        }
    }

    private func report(_ timing: Timing) {
        let name = timing.name
        let label = name.count < 48 ? name + String(repeating: " ", count: 48 - name.count) : name
        print(
            label
                + String(
                    format: "%10d in %7.3f s = %6.2f M readings/s", timing.readings, timing.seconds,
                    timing.readingsPerSecond / 1e6))
    }
}
