import ArgumentParser
import FleetRules
import Foundation

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Write a simulated fleet with known faults: inventory, telemetry and truth.",
        discussion: """
            Deterministic for a seed. Writes DIR/inventory.csv, DIR/telemetry.jsonl (or
            .jsonl.gz with --gzip) and DIR/truth.json; docs/SIMULATOR.md describes the model.

            Example:
              fleetrules simulate --devices 10000 --days 7 --interval 5m --seed 42 --out /tmp/fleet
            """
    )

    @Option(help: "Number of sensors (gateways are added per site).")
    var devices = 1000

    @Option(help: "Sensors per plant (a plant has three gateways).")
    var devicesPerPlant = 250

    @Option(help: "Days of telemetry.")
    var days = 7.0

    @Option(help: "Reporting interval, e.g. 5m.")
    var interval = "5m"

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Option(help: "Output folder.")
    var out: String

    @Flag(help: "Compress the telemetry (telemetry.jsonl.gz).")
    var gzip = false

    @Option(help: "Share of battery devices that reach 5% within the data or the 30 days after.")
    var depletingRate = 0.15

    @Option(help: "Share of temperature sensors that drift.")
    var driftRate = 0.05

    @Option(help: "Chance of a gap starting at any reading (data faults).")
    var missingRate = 0.002

    @Option(help: "Sizes of the temperature drifts in °C, comma-separated; each drift draws one and a sign.")
    var driftSizes = "0.8,1.5,3"

    @Option(help: "Days a ramp drift takes to reach its size (default: it reaches it at the end of the data).")
    var rampDays: Double?

    @Option(help: "Standard deviation of a temperature reading, °C.")
    var temperatureNoise = 0.15

    /// The parsed --drift-sizes, nil when one is not a positive number.
    var sizes: [Double]? {
        let parts = driftSizes.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0.map { $0.isFinite && $0 > 0 } ?? false }) else { return nil }
        return parts.compactMap { $0 }
    }

    @Option(
        name: .customLong("abrupt-knee"),
        help: ArgumentHelp(
            "A cell type whose gauge falls BEND times faster below LEVEL percent, for SHARE of the batteries "
                + "(default 0.1).",
            valueName: "LEVEL:BEND[:SHARE]"))
    var abruptKnees: [String] = []

    func validate() throws {
        guard devices > 0, devices <= 2_000_000 else { throw ValidationError("--devices must be 1…2,000,000") }
        guard devicesPerPlant >= 1 else { throw ValidationError("--devices-per-plant must be at least 1") }
        guard days > 0, days <= 400 else { throw ValidationError("--days must be in (0, 400]") }
        guard let i = DurationText.seconds(interval), i >= 1 else {
            throw ValidationError("--interval must be a duration ≥ 1s, e.g. 5m")
        }
        for (name, v) in [
            ("--depleting-rate", depletingRate), ("--drift-rate", driftRate), ("--missing-rate", missingRate),
        ]
        where !(0...1).contains(v) {
            throw ValidationError("\(name) must be between 0 and 1")
        }
        guard sizes != nil else { throw ValidationError("--drift-sizes must be positive numbers, e.g. 0.8,1,1.5") }
        if let rampDays, !(rampDays > 0 && rampDays <= 400) { throw ValidationError("--ramp-days must be in (0, 400]") }
        guard temperatureNoise.isFinite, temperatureNoise >= 0, temperatureNoise <= 10 else {
            throw ValidationError("--temperature-noise must be between 0 and 10")
        }
        for k in abruptKnees where AbruptKnee.parse(k) == nil {
            throw ValidationError(
                "--abrupt-knee \(k): expected LEVEL:BEND[:SHARE], level in (5, 100), bend 1…20, share in (0, 1]")
        }
        guard abruptKnees.compactMap(AbruptKnee.parse).map(\.share).reduce(0, +) <= 1 else {
            throw ValidationError("--abrupt-knee: the shares add up to more than 1")
        }
    }

    func run() throws {
        var o = SimulationOptions()
        o.devices = devices
        o.devicesPerPlant = devicesPerPlant
        o.days = days
        o.interval = DurationText.seconds(interval) ?? 300
        o.seed = seed
        o.gzip = gzip
        o.depletingRate = depletingRate
        o.driftRate = driftRate
        o.missingRate = missingRate
        o.driftSizes = sizes ?? o.driftSizes
        o.rampDays = rampDays
        o.temperatureNoise = temperatureNoise
        o.abruptKnees = abruptKnees.compactMap(AbruptKnee.parse)
        let started = Date()
        let summary = try Simulator.run(o, to: out)
        let seconds = Date().timeIntervalSince(started)
        print(
            "wrote \(summary.devices) devices, \(summary.lines) telemetry lines (\(summary.bytes / 1_048_576) MiB) to \(out) in "
                + String(format: "%.1f s", seconds))
    }
}
