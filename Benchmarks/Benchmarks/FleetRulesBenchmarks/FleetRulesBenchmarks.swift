import Benchmark
import FleetRules
import FleetRulesWorkloads
import Foundation

/// The performance targets of the engine, measured on a synthetic fleet of 10k devices:
/// decode 1M JSON lines, run the rules/ packs over 1M readings, ingest 1M readings through the
/// embedding API (threshold rules), with thresholds so a regression fails `swift package benchmark`.
let benchmarks: @Sendable () -> Void = {
    let devices = 10_000
    let readings = 1_000_000
    let telemetry = Workloads.telemetry(devices: devices, readings: readings)
    let inventory = Workloads.inventory(devices: devices)
    let rulesPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("rules").path

    // Each iteration processes the whole million readings; wall clock per iteration is the figure
    // (1 s per iteration = 1M readings/s). Thresholds fail the run on a 25% regression.
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
        maxDuration: .seconds(30),
        maxIterations: 5,
        thresholds: [.wallClock: .init(relative: [.p50: 25.0])]
    )

    Benchmark("decode 1M JSON lines") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(Workloads.decode(telemetry))
        }
    }

    if let policy = try? Policy.load(paths: [rulesPath]) {
        let plan = policy.compile()
        Benchmark("run rules/ over 1M readings") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(Workloads.replay(plan, inventory: inventory, bytes: telemetry).stats.readings)
            }
        }
    }

    if let threshold = try? Policy.parse(Workloads.thresholdPack).compile() {
        let batch = Workloads.readings(devices: devices, count: readings)
        Benchmark("embedding API ingest 1M readings, threshold rules") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(Workloads.ingest(threshold, inventory: inventory, batch: batch).episodes.count)
            }
        }
        Benchmark("embedding API ingest with handles, 1M readings") { benchmark in
            for _ in benchmark.scaledIterations {
                let engine = Workloads.ingestWithHandles(
                    threshold, inventory: inventory, devices: devices, batch: batch)
                blackHole(engine?.episodes.count)
            }
        }
    }
}
