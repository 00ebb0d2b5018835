import Foundation
import Testing

@testable import FleetRules

@Suite struct ComplianceTests {
    static let policy = """
        fleetrules: 1
        pack: fw
        metrics:
          rssi: { unit: dBm }
        rules:
          - compliance: firmware
            attribute: firmware
            baseline: { temp-sensor: ">=2.4.1", tracker: ">=3.1.0" }
            deny:
              - versions: "2.4.2"
                advisory: FW-2026-014
                severity: critical
            stale: 24h
            rollout: { target: { temp-sensor: "2.4.3" }, started: 2026-03-01T01:00:00Z, deadline: 2h }
            max_versions: 3
            severity: warning
            summary: "{{device}} firmware {{version}} is {{state}} {{advisory}}"
            maintenance: update-firmware
        """

    /// Seven temp-sensors and a tracker, one per state, over 30 hours.
    static func run() throws -> Engine {
        let rows = (1...8).map { i in ["d\(i)", i == 8 ? "tracker" : "temp-sensor", "plant-a", "z", "gw", "2.4.3"] }
        let inventory = try Inventory(columns: ["device", "type", "site", "zone", "gateway", "firmware"], rows: rows)
        var engine = Engine(plan: try Policy.parse(policy).compile(), inventory: inventory)
        let t0 = Timestamp.parse("2026-03-01T00:00:00Z") ?? 0
        let versions: [String: [(Double, String)]] = [
            "d1": [(0, "2.4.3")],
            "d2": [(0, "2.3.0")],
            "d3": [(0, "2.4.2")],
            "d4": [(0, "build-7")],
            // d5 never reports a version: the inventory's 2.4.3 goes stale after 24 hours.
            "d6": [(0, "2.4.1")],
            "d7": [(0, "2.4.1"), (2, "2.4.3"), (4, "2.4.1"), (6, "2.4.3"), (8, "2.4.1")],
            "d8": [(0, "v3.1.4")],
        ]
        for hour in 0...30 {
            for d in 1...8 {
                let device = "d\(d)"
                var attributes: [String: String] = [:]
                // Everyone but d5 re-reports its latest version every 6 hours.
                if let history = versions[device], let current = history.last(where: { $0.0 <= Double(hour) }),
                    history.contains(where: { $0.0 == Double(hour) }) || hour % 6 == 0
                {
                    attributes["firmware"] = current.1
                }
                engine.ingest(
                    Reading(
                        timestamp: t0 + Double(hour) * 3600, device: device, metrics: ["rssi": -60],
                        attributes: attributes))
            }
        }
        engine.finish()
        return engine
    }

    @Test func everyStateOnHandMadeData() throws {
        let engine = try Self.run()
        let report = engine.report()
        let c = try #require(report.compliance.first)
        let states = Dictionary(uniqueKeysWithValues: c.devices.map { ($0.device, $0.state) })
        #expect(
            states == [
                "d1": .compliant, "d2": .outdated, "d3": .denied, "d4": .unknown, "d5": .stale,
                "d6": .rolloutPending, "d7": .rolloutFailed, "d8": .compliant,
            ])
        #expect(c.counts[.compliant] == 2)
    }

    @Test func findingsCarryTimesAdvisoriesAndEvidence() throws {
        let engine = try Self.run()
        let t0 = Timestamp.parse("2026-03-01T00:00:00Z") ?? 0
        func open(_ device: String) -> AlertEpisode? { engine.episodes.last { $0.device == device && $0.until == nil } }
        #expect(open("d1") == nil)
        #expect(open("d3")?.severity == .critical)
        #expect(open("d3")?.summary == "d3 firmware 2.4.2 is denied FW-2026-014")
        #expect(open("d2")?.severity == .warning)
        // Stale from 24 hours after the start of the data, the inventory's version never confirmed.
        #expect(open("d5")?.since == t0 + 86400)
        // Rollout pending becomes a finding at the deadline (started 01:00 + 2h), overdue since then.
        let pending = try #require(open("d6"))
        #expect(pending.since == t0 + 3 * 3600)
        let reported = try #require(
            engine.report().alerts.first { $0.episode.device == "d6" && $0.episode.until == nil })
        let overdue = reported.episode.evidence.first { $0.0 == "overdue_seconds" }?.1
        #expect(overdue == .number(27 * 3600))
        // Fell back from the target twice: a failed update that needs a visit.
        let failed = try #require(open("d7"))
        #expect(failed.evidence.first { $0.0 == "failed_updates" }?.1 == .number(2))
        #expect(failed.maintenance?.task == "update-firmware")
        // The first fallback was already a finding, without a visit.
        let first = engine.episodes.first {
            $0.device == "d7" && $0.evidence.contains { $0.0 == "state" && $0.1 == "rollout-failed" }
        }
        #expect(first?.since == t0 + 4 * 3600)
        #expect(first?.maintenance == nil)
    }

    /// Devices whose inventory has no version and whose first report, at the data's first
    /// timestamp, carries one are settled by that report: no `unknown` finding opens and closes at
    /// the same instant. A device that reports its version an hour later was unknown for that hour.
    @Test func aVersionReportedAtTheFirstTimestampOpensNoZeroLengthFinding() throws {
        let rows = (1...4).map { ["d\($0)", "temp-sensor", "plant-a", "z", "gw", ""] }
        let inventory = try Inventory(columns: ["device", "type", "site", "zone", "gateway", "firmware"], rows: rows)
        var engine = Engine(plan: try Policy.parse(Self.policy).compile(), inventory: inventory)
        let t0 = Timestamp.parse("2026-03-01T00:00:00Z") ?? 0
        for hour in 0...3 {
            for d in 1...4 {
                // d1–d3 report 2.4.3 from the first timestamp on, d4 from the second hour.
                let reports = d < 4 || hour >= 1
                engine.ingest(
                    Reading(
                        timestamp: t0 + Double(hour) * 3600, device: "d\(d)", metrics: ["rssi": -60],
                        attributes: reports ? ["firmware": "2.4.3"] : [:]))
            }
        }
        engine.finish()
        #expect(
            !engine.episodes.contains { $0.until == $0.since },
            "\(engine.episodes.map { ($0.device, $0.since, $0.until) })")
        let unknown = engine.episodes.filter { $0.evidence.contains { $0.0 == "state" && $0.1 == "unknown" } }
        #expect(unknown.map(\.device) == ["d4"])
        #expect(unknown.first?.since == t0)
        #expect(unknown.first?.until == t0 + 3600)
    }

    @Test func newestReportedVersionWinsOverTheInventory() throws {
        let engine = try Self.run()
        // d2's inventory says 2.4.3, its telemetry says 2.3.0.
        let c = try #require(engine.report().compliance.first)
        #expect(c.devices.first { $0.device == "d2" }?.state == .outdated)
    }

    @Test func consistencyCountsVersionsPerTypeAndSite() throws {
        let report = try Self.run().report()
        let c = try #require(report.compliance.first)
        // temp-sensors at plant-a run 2.4.3, 2.3.0, 2.4.2, build-7 and 2.4.1: five versions > 3.
        #expect(c.inconsistent.count == 1)
        #expect(c.inconsistent.first?.type == "temp-sensor")
        #expect(c.inconsistent.first?.versions.count == 5)
        let sprawl = report.alerts.filter { $0.episode.severity == .info && $0.episode.device.isEmpty }
        #expect(sprawl.map(\.site) == ["plant-a"])
        #expect(sprawl.first?.episode.summary.hasPrefix("plant-a: 5 temp-sensor firmware versions") == true)
        let json = report.json().serialized()
        #expect(
            json.contains(
                #""compliance":{"firmware":{"counts":{"compliant":2,"outdated":1,"denied":1,"unknown":1,"stale":1,"rollout-pending":1,"rollout-failed":1}"#
            ))
    }

    /// Compliance states scored against the simulator's labelled firmware states, end to end.
    @Test func scoresTheSimulatedFleetsFirmwareStates() throws {
        var o = SimulationOptions()
        o.devices = 400
        o.days = 4
        o.seed = 21
        o.clockSkewRate = 0  // clocks far behind lose every report as late: see docs/SIMULATOR.md
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fr-fw-\(UUID().uuidString)")
        _ = try Simulator.run(o, to: dir.path)
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let policy = try Policy.load(paths: [repo.appendingPathComponent("rules").path])
        var engine = Engine(
            plan: policy.compile(),
            inventory: try Inventory.load(path: dir.appendingPathComponent("inventory.csv").path))
        try Replay.run(&engine, files: [dir.appendingPathComponent("telemetry.jsonl").path])
        let truthData = try Data(contentsOf: dir.appendingPathComponent("truth.json"))
        let truth = try #require(try JSONSerialization.jsonObject(with: truthData) as? [String: Any])
        let labelled = try #require(truth["firmware"] as? [[String: Any]])
        let states = try #require(engine.report().compliance.first { $0.rule == "firmware-baseline" })
        let got = Dictionary(uniqueKeysWithValues: states.devices.map { ($0.device, $0.state.rawValue) })
        var wrong: [String] = []
        var seen: Set<String> = []
        for entry in labelled {
            let device = entry["device"] as? String ?? ""
            let state = entry["state"] as? String ?? ""
            seen.insert(state)
            if got[device] != state { wrong.append("\(device): truth \(state), report \(got[device] ?? "none")") }
        }
        #expect(wrong.isEmpty, "\(wrong)")
        #expect(seen.count >= 6)
    }
}
