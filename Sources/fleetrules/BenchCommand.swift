import ArgumentParser
import FleetRules
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

    @Option(help: "Write the synthetic telemetry to this file and stop.")
    var writeTelemetry: String?

    func run() throws {
        let bytes = Workloads.telemetry(devices: devices, readings: readings)
        if let path = writeTelemetry {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            print("wrote \(readings) readings (\(bytes.count / 1_048_576) MiB) to \(path)")
            return
        }
        let inventory = Workloads.inventory(devices: devices)
        print("synthetic fleet: \(devices) devices, \(readings) readings, \(bytes.count / 1_048_576) MiB of JSON Lines")

        var t = Date()
        let decoded = Workloads.decode(bytes)
        report("decode JSON Lines", decoded, Date().timeIntervalSince(t))

        let (policy, _) = PolicyInput.load([rules])
        let plan = policy.compile()
        t = Date()
        let engine = Workloads.replay(plan, inventory: inventory, bytes: bytes)
        report("run \(rules) (decode + evaluate)", engine.stats.readings, Date().timeIntervalSince(t))
        print("    \(engine.episodes.count) alert episodes; plan state estimate \(plan.stateBytesPerDevice) bytes/device")

        let threshold = try Policy.parse(Workloads.thresholdPack).compile()
        let batch = Workloads.readings(devices: devices, count: readings)
        var api = Engine(plan: threshold, inventory: inventory)
        t = Date()
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
        print("    state per device per threshold rule: \(perRule + history) bytes (rule \(perRule) + latest value \(history))")
    }

    private func report(_ name: String, _ count: Int, _ seconds: Double) {
        let rate = Double(count) / max(seconds, 1e-9)
        let label = name.count < 48 ? name + String(repeating: " ", count: 48 - name.count) : name
        print(label + String(format: "%10d in %7.3f s = %6.2f M readings/s", count, seconds, rate / 1e6))
    }
}
