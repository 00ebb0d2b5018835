import Foundation
import Testing

@testable import FleetRules

@Suite struct SimulatorTests {
    static func simulate(_ configure: (inout SimulationOptions) -> Void) throws -> (dir: URL, truth: [String: Any]) {
        var o = SimulationOptions()
        o.devices = 120
        o.days = 2
        o.seed = 9
        configure(&o)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fr-sim-\(UUID().uuidString)")
        _ = try Simulator.run(o, to: dir.path)
        let data = try Data(contentsOf: dir.appendingPathComponent("truth.json"))
        let truth = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return (dir, truth)
    }

    static func read(_ url: URL) throws -> Data { try Data(contentsOf: url) }

    @Test func sameSeedGivesIdenticalFilesAndAnotherSeedDoesNot() throws {
        let a = try Self.simulate { _ in }
        let b = try Self.simulate { _ in }
        let c = try Self.simulate { $0.seed = 10 }
        for name in ["inventory.csv", "telemetry.jsonl", "truth.json"] {
            #expect(
                try Self.read(a.dir.appendingPathComponent(name)) == Self.read(b.dir.appendingPathComponent(name)),
                "\(name)")
        }
        #expect(
            try Self.read(a.dir.appendingPathComponent("telemetry.jsonl"))
                != Self.read(c.dir.appendingPathComponent("telemetry.jsonl")))
    }

    /// Subtle drifts: the sizes drawn from a given list, ramps that reach their size after a given
    /// number of days and stay there (`full_at` in the truth), noisier readings.
    @Test func driftSizesRampDaysAndNoiseAreConfigurable() throws {
        let (dir, truth) = try Self.simulate {
            $0.devices = 80
            $0.days = 5
            $0.interval = 900
            $0.driftRate = 0.5
            $0.driftSizes = [1.0]
            $0.rampDays = 1
            $0.temperatureNoise = 0.25
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let drifts = try #require(truth["drift"] as? [[String: Any]])
        #expect(drifts.count >= 10)
        #expect(drifts.allSatisfy { abs(($0["magnitude"] as? Double ?? 0)) == 1 })
        let ramps = drifts.filter { $0["kind"] as? String == "ramp" }
        #expect(!ramps.isEmpty)
        for ramp in ramps {
            let onset = try #require(Timestamp.parse(ramp["onset"] as? String ?? ""))
            #expect(Timestamp.parse(ramp["full_at"] as? String ?? "") == (onset + 86400).rounded())
        }
        #expect(!drifts.contains { $0["kind"] as? String == "step" && $0["full_at"] != nil })
        // A ramp that was full a day before the end reads its size off its zone over the last half day.
        let inventory = try Inventory.load(path: dir.appendingPathComponent("inventory.csv").path)
        let zoneOf = Dictionary(inventory.rows.map { ($0[0], $0[2] + "/" + $0[3]) }, uniquingKeysWith: { a, _ in a })
        let end = Timestamp.parse("2026-03-06T00:00:00Z") ?? 0
        let full = try #require(
            ramps.first { (Timestamp.parse($0["full_at"] as? String ?? "") ?? .infinity) < end - 86400 })
        let device = try #require(full["device"] as? String)
        let drifting = Set(drifts.compactMap { $0["device"] as? String })
        var own: [Double] = []
        var peers: [Double] = []
        let text = try String(contentsOf: dir.appendingPathComponent("telemetry.jsonl"), encoding: .utf8)
        for line in text.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let id = o["device"] as? String, let t = o["temperature"] as? Double,
                let ts = Timestamp.parse(o["ts"] as? String ?? ""), ts >= end - 43200,
                zoneOf[id] == zoneOf[device]
            else { continue }
            if id == device { own.append(t) } else if !drifting.contains(id) { peers.append(t) }
        }
        let offset = own.reduce(0, +) / Double(max(1, own.count)) - peers.reduce(0, +) / Double(max(1, peers.count))
        let magnitude = try #require(full["magnitude"] as? Double)
        #expect(abs(offset - magnitude) < 0.3, "\(device): \(offset) off, \(own.count) readings")
        // The default options write no `full_at`: a ramp reaches its size at the end of the data.
        let (plainDir, plain) = try Self.simulate { $0.driftRate = 0.5 }
        defer { try? FileManager.default.removeItem(at: plainDir) }
        #expect(!(plain["drift"] as? [[String: Any]] ?? []).contains { $0["full_at"] != nil })
    }

    @Test func aDriftCrossesTheToleranceAtItsOnsetOrAlongItsRamp() {
        let day = 86400.0
        let step = SimulationTruth.Drift(device: "s", metric: "temperature", kind: "step", onset: day, magnitude: -0.8)
        #expect(step.crossing(tolerance: 0.5, end: 10 * day) == day)
        #expect(step.crossing(tolerance: 0.8, end: 10 * day) == nil)
        let ramp = SimulationTruth.Drift(
            device: "r", metric: "temperature", kind: "ramp", onset: day, magnitude: 2, fullAt: 3 * day)
        #expect(ramp.crossing(tolerance: 0.5, end: 10 * day) == 1.5 * day)
        // Without `full_at` the ramp ends with the data.
        let long = SimulationTruth.Drift(device: "l", metric: "temperature", kind: "ramp", onset: day, magnitude: 1)
        #expect(long.crossing(tolerance: 0.5, end: 5 * day) == 3 * day)
        #expect(
            SimulationTruth.Drift(device: "u", metric: "temperature", kind: "ramp", onset: day).crossing(
                tolerance: 0.5, end: 5 * day) == nil)
    }

    @Test func siteNamesRunPastTwoLettersAndStayUnique() {
        #expect(FleetModel.letters(0) == "a")
        #expect(FleetModel.letters(25) == "z")
        #expect(FleetModel.letters(26) == "aa")
        #expect(FleetModel.letters(701) == "zz")
        #expect(FleetModel.letters(702) == "aaa")
        #expect(FleetModel.letters(18277) == "zzz")
        #expect(FleetModel.letters(18278) == "aaaa")
        let names = (0..<20000).map(FleetModel.letters)
        #expect(Set(names).count == names.count)
    }

    /// More than 702 plants (the end of two-letter names) at two sensors a plant: the fleet is
    /// generated, and every site, gateway and device name is unique.
    @Test func aFleetOfMoreThan702SitesHasUniqueNames() throws {
        let (dir, truth) = try Self.simulate {
            $0.devices = 1500
            $0.devicesPerPlant = 2
            $0.days = 0.01
        }
        let inventory = try Inventory.load(path: dir.appendingPathComponent("inventory.csv").path)
        #expect(inventory.rejected.isEmpty)
        let ids = inventory.rows.map { $0[0] }
        #expect(Set(ids).count == ids.count)
        let gateways = try #require(truth["gateways"] as? [[String: Any]])
        let sites = gateways.compactMap { $0["site"] as? String }
        #expect(sites.count == 752)
        #expect(Set(sites).count == sites.count)
        #expect(sites.contains("plant-aaa") && sites.contains("plant-abv"))
        let gatewayNames = gateways.flatMap { ($0["loads"] as? [String: Any])?.keys.map { $0 } ?? [] }
        #expect(gatewayNames.count == 750 * 3 + 2)
        #expect(Set(gatewayNames).count == gatewayNames.count)
        #expect(ids.filter { $0.hasPrefix("plant-") || $0.hasPrefix("site-") }.count == gatewayNames.count)
    }

    @Test func telemetryDecodesExceptTheMalformedLinesTheTruthCounts() throws {
        let (dir, truth) = try Self.simulate { $0.malformedRate = 0.002 }
        let policy = try Policy.parse(
            """
            fleetrules: 1
            pack: s
            metrics:
              battery_pct: { unit: percent, range: [0, 100] }
              temperature: { unit: celsius, range: [-40, 125] }
              humidity: { unit: percent, range: [0, 100] }
              rssi: { unit: dBm }
              vibration_rms: { unit: g }
            rules:
              - alert: low
                when: last(battery_pct) < 5
            """)
        let inventory = try Inventory.load(path: dir.appendingPathComponent("inventory.csv").path)
        var engine = Engine(plan: policy.compile(), inventory: inventory)
        try Replay.run(&engine, files: [dir.appendingPathComponent("telemetry.jsonl").path])
        let faults = try #require(truth["data_faults"] as? [String: Any])
        let malformed = try #require(faults["malformed"] as? Int)
        #expect(malformed > 0)
        #expect(engine.stats.rejected[.malformed] == malformed)
        #expect(inventory.rejected.isEmpty)
        #expect(engine.stats.rejected[.unknownDevice] == nil)
    }

    @Test func faultMixFollowsTheRequestedRates() throws {
        let (_, truth) = try Self.simulate {
            $0.devices = 2000
            $0.days = 1
            $0.interval = 3600
            $0.driftRate = 0.2
            $0.depletingRate = 0.5
            $0.missingRate = 0
            $0.duplicateRate = 0
        }
        let firmware = try #require(truth["firmware"] as? [[String: Any]])
        let drifting = try #require(truth["drift"] as? [[String: Any]])
        let candidates = firmware.filter { ($0["type"] as? String) != "vibration-sensor" }.count
        let share = Double(drifting.count) / Double(candidates)
        #expect(abs(share - 0.2) < 0.04, "drift share \(share)")
        let batteries = try #require(truth["battery"] as? [[String: Any]])
        let start = try #require(Timestamp.parse(truth["start"] as? String ?? ""))
        let end = try #require(Timestamp.parse(truth["end"] as? String ?? ""))
        // Half the batteries were set to cross 5% within the data or the 30 days after (shapes move a few).
        let soon = batteries.filter { b in
            guard let t = (b["crosses_5pct_at"] as? String).flatMap(Timestamp.parse) else { return false }
            return t >= start && t <= end + 30 * 86400
        }
        let soonShare = Double(soon.count) / Double(batteries.count)
        #expect(soonShare > 0.4 && soonShare < 0.65, "depleting share \(soonShare)")
        let faults = try #require(truth["data_faults"] as? [String: Any])
        #expect(faults["missing_readings"] as? Int == 0)
        #expect(faults["duplicates"] as? Int == 0)
        let states = Set(firmware.compactMap { $0["state"] as? String })
        for state in ["compliant", "outdated", "denied", "unknown", "stale", "rollout-failed"] {
            #expect(states.contains(state), "no \(state) device in 2000")
        }
    }

    /// Every shape on either cell type crosses where the truth says; knee cells are steeper at
    /// the end than at the start, drop or replacement or not.
    @Test(arguments: [false, true]) func batteryTruthIsWhereTheModelCrossesFivePercent(knee: Bool) {
        for shape in FleetModel.BatteryShape.allCases {
            var b = FleetModel.Battery(shape: shape, initial: 60, rate: 2, kneeCell: knee)
            if shape == .suddenDrop {
                b.dropAt = 5
                b.dropBy = 20
            }
            if shape == .replaced { b.replaceAt = 16 }
            guard let days = b.crossing() else {
                Issue.record("\(shape) never crosses")
                continue
            }
            #expect(abs(b.level(days) - 5) < 0.01, "\(shape)")
            #expect(b.level(days - 0.01) > 5, "\(shape) crossed earlier")
            let start = shape == .replaced ? 16.0 : 0
            let early = b.level(start + 1) - b.level(start + 2)
            let late = 2 * (b.level(days - 0.5) - b.level(days))
            #expect((late > 2 * early) == knee, "\(shape): \(early)/day early, \(late)/day at the end")
        }
    }

    @Test func crossingsOfKnownCells() {
        // Straight: 60 − 2·d = 5 → 27.5 days.
        #expect(abs((FleetModel.Battery(shape: .linear, initial: 60, rate: 2).crossing() ?? 0) - 27.5) < 1e-6)
        // A straight battery replaced at day 24 starts again from 100: 24 + 95/2.
        var replaced = FleetModel.Battery(shape: .replaced, initial: 60, rate: 2)
        replaced.replaceAt = 24
        #expect(abs((replaced.crossing() ?? 0) - 71.5) < 1e-6)
        // Knee: straight to 30% in 15 days, then rate · (1 + 2(30 − level)/30), which reaches 5%
        // after (15/2)·ln(40/15) = 7.356 more days.
        let knee = FleetModel.Battery(shape: .accelerating, initial: 60, rate: 2, kneeCell: true)
        #expect(abs((knee.crossing() ?? 0) - (15 + 7.5 * log(40.0 / 15))) < 1e-6)
        // A replaced knee cell: the old battery would have crossed as the unreplaced one does.
        var replacedKnee = FleetModel.Battery(shape: .replaced, initial: 60, rate: 2, kneeCell: true)
        replacedKnee.replaceAt = 16
        #expect(replacedKnee.unreplaced.crossing() == knee.crossing())
        #expect(abs((replacedKnee.crossing() ?? 0) - (16 + 35 + 7.5 * log(40.0 / 15))) < 1e-6)
    }

    @Test func theInventoryNamesEachBatterysCellTypeAndOnlyOneTypeBends() throws {
        let (dir, truth) = try Self.simulate { $0.devices = 600 }
        let inventory = try Inventory.load(path: dir.appendingPathComponent("inventory.csv").path)
        let column = try #require(inventory.columns.firstIndex(of: "battery"))
        let power = try #require(inventory.columns.firstIndex(of: "power"))
        var cell: [String: String] = [:]
        for row in inventory.rows {
            #expect((row[power] == "battery") == !row[column].isEmpty, "\(row)")
            cell[row[0]] = row[column]
        }
        let batteries = try #require(truth["battery"] as? [[String: Any]])
        for b in batteries {
            let device = b["device"] as? String ?? ""
            #expect(b["cell"] as? String == cell[device], "\(device)")
            if b["shape"] as? String == "accelerating" { #expect(cell[device] == "li-mno2") }
            if b["shape"] as? String == "linear" { #expect(cell[device] == "li-socl2") }
        }
        let knees = batteries.count { $0["cell"] as? String == "li-mno2" }
        #expect(knees > batteries.count / 8 && knees < batteries.count / 3, "\(knees) of \(batteries.count)")
    }

    @Test func gatewayLoadsCountEveryDeviceOnce() throws {
        let (dir, truth) = try Self.simulate { $0.devices = 600 }
        let gateways = try #require(truth["gateways"] as? [[String: Any]])
        let total = gateways.compactMap { $0["loads"] as? [String: Int] }.flatMap(\.values).reduce(0, +)
        #expect(total == 600)
        #expect(gateways.contains { $0["imbalanced"] as? Bool == true })
        let inventory = try Inventory.load(path: dir.appendingPathComponent("inventory.csv").path)
        #expect(inventory.count == 600 + inventory.rows.count { $0[1] == "gateway" })
    }

    @Test func gzipOutputReadsBack() throws {
        let (dir, _) = try Self.simulate { $0.gzip = true }
        let source = try ByteSource(path: dir.appendingPathComponent("telemetry.jsonl.gz").path)
        var lines = 0
        var splitter = LineSplitter()
        while true {
            let chunk = try source.next()
            splitter.feed(chunk) { _, _ in lines += 1 }
            if chunk.isEmpty { break }
        }
        #expect(lines > 120 * 500)
    }
}
