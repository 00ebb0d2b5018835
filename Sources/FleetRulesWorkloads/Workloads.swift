import FleetRules
import Foundation

/// Synthetic fleets and the measured workloads behind `fleetrules bench` and the Benchmarks/
/// package: decoding, replaying the example packs, and ingesting through the embedding API.
public enum Workloads {
    public static let start = 1_772_323_200.0  // 2026-03-01T00:00:00Z

    /// An inventory of `devices` battery sensors over 4 sites × 3 zones × 3 gateways.
    public static func inventory(devices: Int) -> Inventory {
        let columns = ["device", "type", "site", "zone", "gateway", "reachable", "firmware", "criticality", "power"]
        let types = ["temp-sensor", "temp-sensor", "vibration-sensor", "tracker"]
        let rows: [[String]] = (0..<devices).map { i in
            let site = "plant-\(["a", "b", "c", "d"][i % 4])"
            let gw = "\(site)-gw\(i / 4 % 3 + 1)"
            return [
                "d-\(i)", types[i / 12 % 4], site, "zone-\(i / 4 % 3)", gw, gw, "2.4.3",
                ["high", "medium", "low"][i % 3],
                "battery",
            ]
        }
        return (try? Inventory(columns: columns, rows: rows)) ?? Inventory()
    }

    /// JSON Lines telemetry, time-ordered: every device reports every `interval` seconds.
    public static func telemetry(devices: Int, readings: Int, interval: Double = 300, seed: UInt64 = 1) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(readings * 150)
        var rng = seed
        func next() -> Double {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(rng >> 11) / Double(1 << 53)
        }
        var n = 0
        var step = 0
        while n < readings {
            let ts = Timestamp.format(start + Double(step) * interval)
            for d in 0..<devices where n < readings {
                let battery = max(0, 100 - Double(step) * 0.01 * Double(d % 7 + 1) + next())
                let line =
                    #"{"ts":"\#(ts)","device":"d-\#(d)","gateway":"plant-gw","battery_pct":\#(JSONValue.format((battery * 10).rounded() / 10)),"temperature":\#(JSONValue.format(((20 + next() * 3) * 100).rounded() / 100)),"humidity":\#(JSONValue.format(((45 + next() * 10) * 10).rounded() / 10)),"rssi":\#(-60 - Int(next() * 30))}"#
                out.append(contentsOf: line.utf8)
                out.append(0x0A)
                n += 1
            }
            step += 1
        }
        return out
    }

    /// A pack of simple threshold rules, for the embedding-API throughput target.
    public static let thresholdPack = """
        fleetrules: 1
        pack: bench
        metrics:
          battery_pct: { unit: percent, range: [0, 100] }
          temperature: { unit: celsius, range: [-40, 125] }
        rules:
          - alert: battery-low
            when: last(battery_pct) < 20
            for: 30m
          - alert: too-hot
            when: last(temperature) > 60
        """

    /// Lines decoded per second, without evaluation.
    public static func decode(_ bytes: [UInt8]) -> Int {
        var decoder = TelemetryDecoder()
        var splitter = LineSplitter()
        var count = 0
        for chunk in [bytes, []] {
            splitter.feed(chunk) { line, _ in
                _ = decoder.decode(line, format: .jsonLines) { _, _ in count += 1 }
            }
        }
        return count
    }

    /// Decodes and evaluates `bytes` with `plan`, returning the finished engine.
    public static func replay(_ plan: EvaluationPlan, inventory: Inventory, bytes: [UInt8]) -> Engine {
        var engine = Engine(plan: plan, inventory: inventory)
        Replay.feed(&engine, bytes: bytes)
        engine.finish()
        return engine
    }

    /// Readings built once, ingested through `Engine.ingest(_:)`.
    public static func readings(devices: Int, count: Int, interval: Double = 300) -> [Reading] {
        (0..<count).map { i in
            let step = i / devices
            let d = i % devices
            return Reading(
                timestamp: start + Double(step) * interval, device: "d-\(d)",
                metrics: ["battery_pct": 100 - Double(step) * 0.05, "temperature": 21])
        }
    }
}
