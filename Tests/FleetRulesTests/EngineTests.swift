import Foundation
import Testing

@testable import FleetRules

/// A tiny harness: a policy with the given rules, an inventory of devices, and readings at minute offsets.
struct EngineHarness {
    static let t0 = 1_772_323_200.0  // 2026-03-01T00:00:00Z
    var engine: Engine

    init(rules: String, devices: [String] = ["d1"], lateness: Double = 300, extra: String = "") throws {
        let source = """
            fleetrules: 1
            pack: t
            metrics:
              battery_pct: { unit: percent, range: [0, 100] }
              temperature: { unit: celsius, range: [-40, 125] }
            \(extra)
            rules:
            \(rules)
            """
        let policy = try Policy.parse(source)
        let rows = devices.enumerated().map { i, d in
            [d, "temp-sensor", i % 2 == 0 ? "plant-a" : "plant-b", "z1", "gw1", "battery", "high"]
        }
        let inventory = try Inventory(
            columns: ["device", "type", "site", "zone", "gateway", "power", "criticality"], rows: rows)
        engine = Engine(plan: policy.compile(lateness: lateness), inventory: inventory)
    }

    static func at(_ minutes: Double) -> Double { t0 + minutes * 60 }

    @discardableResult
    mutating func send(_ minutes: Double, _ metrics: [String: Double], device: String = "d1") -> RejectReason? {
        engine.ingest(Reading(timestamp: Self.at(minutes), device: device, metrics: metrics))
    }

    mutating func finish() -> [AlertEpisode] {
        engine.finish()
        return engine.episodes
    }
}

@Suite struct AlertLifecycleTests {
    @Test func forDelaysFiringByExactlyItsDurationInEventTime() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                    for: 30m
                """)
        h.send(0, ["battery_pct": 25])
        h.send(10, ["battery_pct": 19])  // pending from 00:10
        h.send(20, ["battery_pct": 18])
        h.send(50, ["battery_pct": 17])  // the 00:40 timer fires first
        let e = h.finish()
        #expect(e.count == 1)
        #expect(e.first?.since == EngineHarness.at(40))
        #expect(e.first?.until == nil)
    }

    @Test func conditionThatStopsHoldingResetsThePending() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                    for: 30m
                """)
        h.send(0, ["battery_pct": 19])
        h.send(20, ["battery_pct": 21])  // not 30 minutes yet: back to inactive
        h.send(25, ["battery_pct": 19])  // pending again from 00:25
        h.send(50, ["battery_pct": 19])
        h.send(60, ["battery_pct": 19])
        let e = h.finish()
        #expect(e.map(\.since) == [EngineHarness.at(55)])
    }

    @Test func clearGivesHysteresis() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                    clear: last(battery_pct) > 25
                """)
        h.send(0, ["battery_pct": 19])  // fires at once (no for)
        h.send(5, ["battery_pct": 21])  // above 20 but not above 25: still firing
        h.send(10, ["battery_pct": 24])
        h.send(15, ["battery_pct": 26])  // resolves
        h.send(20, ["battery_pct": 19])  // a second episode
        let e = h.finish()
        #expect(e.map(\.since) == [EngineHarness.at(0), EngineHarness.at(20)])
        #expect(e.map(\.until) == [EngineHarness.at(15), nil])
    }

    @Test func aDeviceThatKeepsFiringIsOneEpisode() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: hot
                    when: last(temperature) > 30
                """)
        for m in stride(from: 0.0, to: 1000, by: 5) { h.send(m, ["temperature": 35]) }
        #expect(h.finish().count == 1)
    }

    @Test func absentFiresWhenTheGapReachesTheWindow() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: silent
                    when: absent(temperature, 1h)
                """, devices: ["d1", "d2"])
        h.send(0, ["temperature": 20])
        h.send(0, ["temperature": 20], device: "d2")
        h.send(30, ["temperature": 20])
        // d2 is silent after 00:00; d1 keeps reporting until 03:00.
        for m in stride(from: 35.0, through: 180, by: 5) { h.send(m, ["temperature": 20]) }
        let e = h.finish()
        #expect(e.map(\.device) == ["d2"])
        #expect(e.first?.since == EngineHarness.at(60))
    }

    @Test func scopeFiltersOnInventory() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: hot
                    where: site == "plant-b"
                    when: last(temperature) > 30
                """, devices: ["d1", "d2"])
        h.send(0, ["temperature": 40])
        h.send(0, ["temperature": 40], device: "d2")
        #expect(h.finish().map(\.device) == ["d2"])
    }

    @Test func scopeFollowsAttributesReportedInTelemetry() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: hot-behind-gw9
                    where: gateway == "gw-9"
                    when: last(temperature) > 30
                """)
        h.send(0, ["temperature": 40])  // inventory gateway is gw1: out of scope
        h.engine.ingest(
            Reading(timestamp: EngineHarness.at(5), device: "d1", gateway: "gw-9", metrics: ["temperature": 41]))
        h.engine.ingest(
            Reading(timestamp: EngineHarness.at(10), device: "d1", gateway: "gw1", metrics: ["temperature": 42]))
        let e = h.finish()
        #expect(e.map(\.since) == [EngineHarness.at(5)])
        #expect(e.map(\.until) == [EngineHarness.at(10)])
    }

    @Test func summaryTemplateIsRendered() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                    summary: "{{device}} at {{site}}: battery {{value}}%"
                """)
        h.send(0, ["battery_pct": 12.345])
        #expect(h.finish().first?.summary == "d1 at plant-a: battery 12.35%")
    }

    @Test func limitFiresOutsideItsRangeAfterFor() throws {
        var h = try EngineHarness(
            rules: """
                  - limit: temp-range
                    metric: temperature
                    range: [0, 30]
                    for: 10m
                """)
        h.send(0, ["temperature": 31])
        h.send(5, ["temperature": 32])
        h.send(15, ["temperature": 29])  // the 00:10 timer fired before this reading
        let e = h.finish()
        #expect(e.map(\.since) == [EngineHarness.at(10)])
        #expect(e.map(\.until) == [EngineHarness.at(15)])
    }
}

@Suite struct WindowSemanticsTests {
    /// Window aggregates cover exactly the readings with ts in (t − w, t].
    @Test func windowIsOpenAtItsStartAndClosedAtItsEnd() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: many
                    when: count(temperature, 1h) >= 3
                """)
        h.send(0, ["temperature": 20])
        h.send(30, ["temperature": 20])
        h.send(60, ["temperature": 20])  // window (00:00, 01:00]: the 00:00 reading is out → 2
        h.send(61, ["temperature": 20])  // (00:01, 01:01]: 00:30, 01:00, 01:01 → 3
        #expect(h.finish().map(\.since) == [EngineHarness.at(61)])
    }

    @Test func rateUsesRealTimestampsOnIrregularIntervals() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: draining
                    when: rate(battery_pct, 6h) < -2
                """)
        h.send(0, ["battery_pct": 80])
        h.send(7, ["battery_pct": 79.9])  // -0.857 %/h over 7 minutes
        h.send(90, ["battery_pct": 76.7])  // first to last: -3.3 over 1.5 h = -2.2 %/h
        let e = h.finish()
        #expect(e.map(\.since) == [EngineHarness.at(90)])
        #expect(e.first?.value.map { ($0 * 1000).rounded() / 1000 } == -2.2)
    }

    @Test func slopeIsLeastSquaresPerHour() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: falling
                    when: slope(battery_pct, 1d) < -1.5
                """)
        // Exactly -2 %/h, one reading every 20 minutes at irregular offsets of a straight line.
        for (m, v) in [(0.0, 90.0), (20, 89.3333333333), (50, 88.3333333333), (60, 88.0)] {
            h.send(m, ["battery_pct": v])
        }
        let e = h.finish()
        #expect(e.count == 1)
        #expect(e.first.flatMap(\.value).map { ($0 * 100).rounded() / 100 } == -2)
    }
}

@Suite struct EventTimeTests {
    @Test func aDeviceWhoseClockRunsAheadDoesNotMakeOthersLate() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                """, devices: (1...11).map { "d\($0)" })
        for m in stride(from: 0.0, to: 60, by: 5) {
            h.send(m + 10, ["battery_pct": 50], device: "d11")  // its clock runs ten minutes ahead
            for d in (2...10).map({ "d\($0)" }) { h.send(m, ["battery_pct": 50], device: d) }
            #expect(h.send(m, ["battery_pct": m == 55 ? 10 : 50]) == nil)
        }
        _ = h.finish()
        #expect(h.engine.stats.rejectedTotal == 0)
        #expect(h.engine.episodes.map(\.since) == [EngineHarness.at(55)])
    }

    @Test func outOfOrderReadingsWithinLatenessArePlacedInOrder() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                """)
        h.send(0, ["battery_pct": 50])
        h.send(4, ["battery_pct": 10])  // arrives before 00:02 but is later in event time
        #expect(h.send(2, ["battery_pct": 60]) == nil)
        let e = h.finish()
        // In event order: 50 (00:00), 60 (00:02), 10 (00:04): fires at 00:04 and stays firing.
        #expect(e.map(\.since) == [EngineHarness.at(4)])
        #expect(e.map(\.until) == [nil])
    }

    @Test func readingsBeyondLatenessAreCountedAsLate() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                """)
        for m in [0.0, 30, 40, 50, 60] { h.send(m, ["battery_pct": 50]) }  // 00:30 is evaluated by now
        #expect(h.send(10, ["battery_pct": 5]) == .late)
        _ = h.finish()
        #expect(h.engine.stats.rejected[.late] == 1)
        #expect(h.engine.episodes.isEmpty)
    }

    @Test func badReadingsAreCountedPerReasonAndTheRunGoesOn() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                """)
        #expect(
            h.engine.ingest(Reading(timestamp: EngineHarness.at(0), device: "nope", metrics: ["battery_pct": 1]))
                == .unknownDevice)
        #expect(h.send(1, ["battery_pct": 140]) == .outOfRange)
        #expect(h.send(2, ["battery_pct": 50]) == nil)
        // 2100-01-01: ahead of the wall clock.
        #expect(
            h.engine.ingest(Reading(timestamp: 4_102_444_800, device: "d1", metrics: ["battery_pct": 1])) == .future)
        #expect(h.engine.ingest(Reading(timestamp: 0, device: "d1", metrics: ["battery_pct": 1])) == .tooOld)
        // A line whose only metric is not a number is no reading.
        #expect(
            h.engine.ingest(Reading(timestamp: EngineHarness.at(3), device: "d1", attributes: ["battery_pct": "low"]))
                == .nonNumeric)
        // A line with one bad and one good value is a reading; the bad value is counted apart.
        #expect(
            h.engine.ingest(
                Reading(timestamp: EngineHarness.at(3), device: "d1", metrics: ["battery_pct": 150, "temperature": 20]))
                == .outOfRange)
        h.send(4, ["battery_pct": 10])
        let e = h.finish()
        #expect(e.count == 1)
        let s = h.engine.stats
        #expect(s.rejected == [.unknownDevice: 1, .outOfRange: 1, .future: 1, .tooOld: 1, .nonNumeric: 1])
        #expect(s.droppedValues == [.outOfRange: 1])
        #expect(s.readings == 3)
    }
}

@Suite struct ReplayTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func decoderHandlesEscapesNumbersAndTimestampForms() throws {
        var decoder = TelemetryDecoder()
        var got: [(Double, String, Double?)] = []
        let lines = [
            #"{"ts":"2026-03-01T00:05:00Z","device":"d-\u00e9","battery_pct":8.72e1}"#,
            #"{"ts":1772323500,"device":"d2","battery_pct":-0.5}"#,
            #"{"ts":1772323500000,"device":"d3","battery_pct":1}"#,
            #"{"ts":"2026-03-01T01:05:00+01:00","device":"d\"4","battery_pct":2,"x":null,"ok":true}"#,
        ]
        for line in lines {
            var bytes = Array(line.utf8)
            let failure = bytes.withUnsafeMutableBufferPointer { b in
                decoder.decode(UnsafeBufferPointer(b), format: .jsonLines) { d, names in
                    got.append((d.timestamp, String(decoding: d.device, as: UTF8.self), d.numbers.first?.value))
                }
            }
            #expect(failure == nil, "\(line)")
        }
        #expect(got.map(\.0) == Array(repeating: 1_772_323_500, count: 4))
        #expect(got.map(\.1) == ["d-é", "d2", "d3", "d\"4"])
        #expect(got.map(\.2) == [87.2, -0.5, 1, 2])
    }

    @Test(arguments: [
        (#"{"ts":"2026-03-01T00:05:00Z","device":"d1","battery_pct":"#, RejectReason.malformed),
        (#"{"device":"d1","battery_pct":1}"#, .missingTimestamp),
        (#"{"ts":"2026-03-01T00:05:00Z","battery_pct":1}"#, .missingDevice),
        (#"{"ts":"yesterday","device":"d1"}"#, .badTimestamp),
        (#"{"ts":"2026-03-01T00:05:00Z","device":"d1","nested":{"a":1}}"#, .malformed),
        (#"["not","an","object"]"#, .malformed),
        (#"{"ts":"2026-03-01T00:05:00Z","device":"d1"} trailing"#, .malformed),
        (#"{"ts":"2026-03-01T00:05:00Z","device":"d1","v":01}"#, .malformed),
    ])
    func malformedLinesAreRejectedWithAReason(_ line: String, _ reason: RejectReason) {
        var decoder = TelemetryDecoder()
        var bytes = Array(line.utf8)
        let failure = bytes.withUnsafeMutableBufferPointer { b in
            decoder.decode(UnsafeBufferPointer(b), format: .jsonLines) { _, _ in }
        }
        #expect(failure?.0 == reason)
    }

    func replayExample() throws -> (Engine, String) {
        let policy = try Policy.load(paths: [Self.repo.appendingPathComponent("rules").path])
        let inventory = try Inventory.load(path: Self.repo.appendingPathComponent("examples/fleet/inventory.csv").path)
        var engine = Engine(plan: policy.compile(), inventory: inventory)
        try Replay.run(&engine, files: [Self.repo.appendingPathComponent("examples/fleet/telemetry.jsonl.gz").path])
        return (engine, engine.report().json().serialized(pretty: true))
    }

    /// The example fleet is `fleetrules simulate --devices 60 --days 3 --seed 40 --gzip`; its
    /// truth.json says what was planted, and the packs in rules/ must find it.
    @Test func exampleFleetReportIsDeterministicAndFindsThePlantedProblems() throws {
        let (engine, first) = try replayExample()
        let (_, second) = try replayExample()
        #expect(first == second)
        let report = engine.report()
        let truthData = try Data(contentsOf: Self.repo.appendingPathComponent("examples/fleet/truth.json"))
        let truth = try #require(try JSONSerialization.jsonObject(with: truthData) as? [String: Any])
        func time(_ v: Any?) -> Double { (v as? String).flatMap(Timestamp.parse) ?? .nan }
        let faults = try #require(truth["data_faults"] as? [String: Any])
        // Malformed lines are rejected; out-of-order lines (within lateness) and duplicates are not.
        #expect(report.input.rejected == [.malformed: faults["malformed"] as? Int ?? -1])
        #expect((faults["out_of_order"] as? Int ?? 0) > 0)

        let outages = try #require(truth["outages"] as? [[String: Any]])
        #expect(!outages.isEmpty)
        for outage in outages {
            let gateway = outage["gateway"] as? String ?? ""
            let start = time(outage["start"])
            let found = report.alerts.contains {
                $0.episode.rule == "gateway-silent" && $0.episode.device == gateway && $0.episode.since >= start
                    && $0.episode.since <= start + 1800
            }
            #expect(found, "outage of \(gateway) at \(outage["start"] ?? "") not found")
        }

        let critical = ["plant-a", "plant-c"]
        let excursions = try #require(truth["excursions"] as? [[String: Any]])
        var checked = 0
        for e in excursions {
            let site = e["site"] as? String ?? ""
            let zone = e["zone"] as? String ?? ""
            let metric = e["metric"] as? String ?? ""
            let rule: String
            if metric == "temperature", zone.hasPrefix("cold-store") {
                rule = "cold-store-temperature"
            } else if metric == "humidity", critical.contains(site), !zone.hasPrefix("cold-store") {
                rule = "humidity-critical-sites"
            } else {
                continue
            }
            let (start, end) = (time(e["start"]), time(e["end"]))
            let found = report.alerts.contains {
                $0.episode.rule == rule && $0.site == site && $0.zone == zone && $0.episode.since <= end
                    && ($0.episode.until ?? .infinity) >= start
            }
            #expect(found, "\(metric) excursion in \(site)/\(zone) not found by \(rule)")
            checked += 1
        }
        #expect(checked >= 2)

        // Every battery whose true charge reaches 5% two hours before the end is critical by then.
        let end = time(truth["end"])
        let batteries = try #require(truth["battery"] as? [[String: Any]])
        let empty = batteries.filter { time($0["crosses_5pct_at"]) < end - 7200 }.compactMap { $0["device"] as? String }
        #expect(!empty.isEmpty)
        for device in empty {
            #expect(report.alerts.contains { $0.episode.rule == "battery-critical" && $0.episode.device == device })
        }
        #expect(report.alerts.map(\.priority) == report.alerts.map(\.priority).sorted(by: >))
    }

    @Test func csvAndJSONLinesGiveTheSameAlerts() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var json = ""
        var csv = "ts,device,gateway,battery_pct\n"
        for m in 0..<20 {
            let t = Timestamp.format(EngineHarness.at(Double(m * 5)))
            json += #"{"ts":"\#(t)","device":"d1","gateway":"gw1","battery_pct":\#(30 - m)}"# + "\n"
            csv += "\(t),d1,gw1,\(30 - m)\n"
        }
        try json.write(to: dir.appendingPathComponent("t.jsonl"), atomically: true, encoding: .utf8)
        try csv.write(to: dir.appendingPathComponent("t.csv"), atomically: true, encoding: .utf8)
        var results: [[Double]] = []
        for name in ["t.jsonl", "t.csv"] {
            var h = try EngineHarness(
                rules: """
                      - alert: low
                        when: last(battery_pct) < 20
                    """)
            try Replay.run(&h.engine, files: [dir.appendingPathComponent(name).path])
            results.append(h.engine.episodes.map(\.since))
            #expect(h.engine.stats.readings == 20)
        }
        #expect(results[0] == [EngineHarness.at(55)])
        #expect(results[0] == results[1])
    }

    @Test func severalFilesAreMergedInEventTime() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Two gateways' files, each covering the whole period: read one after the other, the
        // second would be all late; merged, nothing is.
        for (name, device) in [("a.jsonl", "d1"), ("b.jsonl", "d2")] {
            var text = ""
            for m in 0..<50 {
                text +=
                    #"{"ts":"\#(Timestamp.format(EngineHarness.at(Double(m * 5))))","device":"\#(device)","temperature":20}"#
                    + "\n"
            }
            try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        var h = try EngineHarness(
            rules: """
                  - alert: hot
                    when: last(temperature) > 30
                """, devices: ["d1", "d2"])
        try Replay.run(&h.engine, files: ["a.jsonl", "b.jsonl"].map { dir.appendingPathComponent($0).path })
        #expect(h.engine.stats.readings == 100)
        #expect(h.engine.stats.rejectedTotal == 0)
    }
}
