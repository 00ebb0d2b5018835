import Foundation
import Testing

@testable import FleetRules

/// A site with gateways and sensors for balance rules; readings every 10 minutes.
struct BalanceHarness {
    static let t0 = 1_772_323_200.0  // 2026-03-01T00:00:00Z
    var engine: Engine

    /// `devices`: (id, site, gateway, reachable, criticality). Gateways are inventory devices too.
    init(rule: String, devices: [(String, String, String, String, String)], gateways: GatewayTable = GatewayTable())
        throws
    {
        let source = """
            fleetrules: 1
            pack: t
            metrics:
              rssi: { unit: dBm, range: [-150, 0] }
            rules:
            \(rule)
            """
        let policy = try Policy.parse(source)
        var rows = devices.map { [$0.0, "sensor", $0.1, "z1", $0.2, $0.3, $0.4] }
        for g in Set(devices.map { "\($0.2)|\($0.1)" }).sorted() {
            let parts = g.split(separator: "|").map(String.init)
            rows.append([parts[0], "gateway", parts[1], "z1", parts[0], parts[0], "high"])
        }
        var inventory = try Inventory(
            columns: ["device", "type", "site", "zone", "gateway", "reachable", "criticality"], rows: rows)
        inventory.gateways = gateways
        engine = Engine(plan: policy.compile(), inventory: inventory)
    }

    mutating func send(_ minutes: Double, _ device: String, via gateway: String) {
        engine.ingest(
            Reading(timestamp: Self.t0 + minutes * 60, device: device, gateway: gateway, metrics: ["rssi": -70]))
    }

    /// Every device reports through its own gateway every 10 minutes from 0 to `until` minutes.
    mutating func steady(
        _ devices: [(String, String, String, String, String)], until: Double,
        skip: (String, Double) -> Bool = { _, _ in false }
    ) {
        var m = 0.0
        while m <= until {
            for d in devices where !skip(d.0, m) { send(m, d.0, via: d.2) }
            m += 10
        }
    }

    static let rule = """
          - balance: gateway-load
            window: 1h
            threshold: 30%
            rebalance: { reachable: reachable, max_moves: 50, prefer: criticality == "low" }
            summary: "{{gateway}} in {{group}}: {{load}} vs {{mean}} ({{deviation}})"
        """
}

private func fleet(_ site: String, _ counts: [String: Int], reach: String, low: Set<String> = []) -> [(
    String, String, String, String, String
)] {
    var out: [(String, String, String, String, String)] = []
    for (gateway, n) in counts.sorted(by: { $0.key < $1.key }) {
        for i in 0..<n {
            let id = "\(site)-\(gateway)-d\(i)"
            out.append((id, site, gateway, reach, low.contains(id) ? "low" : "medium"))
        }
    }
    return out
}

@Suite struct BalanceAnalyzerTests {
    @Test func imbalancedGatewaysAreFlaggedAndTheFewestPreferredDevicesMove() throws {
        let reach = "gw1|gw2|gw3"
        let low: Set<String> = ["a-gw1-d3", "a-gw1-d4", "a-gw1-d5"]
        let a = fleet("a", ["gw1": 6, "gw2": 1, "gw3": 2], reach: reach, low: low)
        let b = fleet("b", ["gwb": 3], reach: "gwb")
        var h = try BalanceHarness(rule: BalanceHarness.rule, devices: a + b)
        h.steady(a + b, until: 130)
        // Gateways report through themselves; that is not load.
        for g in ["gw1", "gw2", "gw3", "gwb"] { h.send(5, g, via: g) }
        h.engine.finish()
        let report = h.engine.report()
        let balance = report.alerts.filter { $0.episode.kind == .balance }
        // Mean 3, band [3, 3]: gw1 (6), gw2 (1) and gw3 (2, 33% off) are imbalanced; site b has one gateway.
        #expect(
            Set(balance.map { $0.episode.evidence.first { $0.0 == "gateway" }?.1 }) == [
                .string("gw1"), .string("gw2"), .string("gw3"),
            ])
        #expect(balance.allSatisfy { $0.site == "a" && $0.episode.device == "" })
        #expect(balance.first { $0.episode.summary.hasPrefix("gw1") }?.episode.summary == "gw1 in a: 6 vs 3 (100%)")
        #expect(report.rebalancing.count == 3)
        #expect(Set(report.rebalancing.map(\.device)) == low)
        #expect(report.rebalancing.allSatisfy { $0.from == "gw1" && $0.site == "a" && $0.rule == "gateway-load" })
        #expect(report.rebalancing.filter { $0.to == "gw2" }.count == 2)
        let groupA = try #require(report.rebalancingGroups.first { $0.group == "a" })
        #expect(groupA.status == "rebalanced")
        #expect(groupA.gateways.map(\.before) == [6, 1, 2])
        #expect(groupA.gateways.map(\.after) == [3, 3, 3])
        #expect(report.rebalancingGroups.first { $0.group == "b" }?.status == "balanced")
        #expect(report.evaluatedKinds.contains("balance"))
        #expect(!report.notEvaluated.contains("gateway-load"))
        // The JSON carries moves and group loads.
        let json = report.json().serialized(pretty: false)
        #expect(json.contains(#""rebalancing":[{"site":"a","device":"a-gw1-d3","from":"gw1","to":"#))
        #expect(json.contains(#""rebalancing_groups":[{"rule":"gateway-load","group":"a""#))
    }

    @Test func roamingDeviceCountsWhereSeenMost() throws {
        let a = fleet("a", ["gw1": 3, "gw2": 3], reach: "gw1|gw2")
        var h = try BalanceHarness(rule: BalanceHarness.rule, devices: a)
        // a-gw1-d0 is listed at gw1 but heard mostly through gw2 (readings in time order).
        for m in stride(from: 0.0, through: 130, by: 10) {
            for d in a where d.0 != "a-gw1-d0" { h.send(m, d.0, via: d.2) }
            h.send(m + 1, "a-gw1-d0", via: Int(m) % 30 == 0 ? "gw1" : "gw2")
        }
        h.engine.finish()
        let group = try #require(h.engine.report().rebalancingGroups.first)
        #expect(group.gateways.map(\.before) == [2, 4])
    }

    @Test func silentGatewayIsItsOwnFindingAndKeepsItsLoad() throws {
        let a = fleet("a", ["gw1": 3, "gw2": 3, "gw3": 3], reach: "gw1|gw2|gw3")
        var h = try BalanceHarness(rule: BalanceHarness.rule, devices: a)
        // gw3 and its devices go off the air after the first hour.
        h.steady(a, until: 190, skip: { id, m in id.hasPrefix("a-gw3") && m >= 60 })
        h.engine.finish()
        let report = h.engine.report()
        let findings = report.alerts.filter { $0.episode.kind == .balance }
        #expect(findings.count == 1)
        let silent = try #require(findings.first)
        #expect(silent.episode.evidence.contains { $0.0 == "finding" && $0.1 == .string("silent") })
        #expect(silent.episode.until == nil)
        #expect(silent.episode.since == BalanceHarness.t0 + 3600)
        let group = try #require(report.rebalancingGroups.first)
        #expect(group.status == "balanced")
        #expect(group.gateways.map(\.silent) == [false, false, true])
        #expect(group.gateways.map(\.before) == [3, 3, 3])
        #expect(report.rebalancing.isEmpty)
    }

    /// Three of gw1's six devices stop reporting after the first hour of two days: they are
    /// neither moved nor counted in the plan (gw1 carries 3 like the others) but named in it.
    /// With `silent_after` beyond the data they count again and one of them would be moved.
    @Test func devicesSilentLongerThanTheBoundStayOutOfThePlanAndAreNamed() throws {
        let a = fleet("a", ["gw1": 6, "gw2": 3, "gw3": 3], reach: "gw1|gw2|gw3")
        let dead: Set<String> = ["a-gw1-d0", "a-gw1-d1", "a-gw1-d2"]
        func run(_ rule: String) throws -> Report {
            var h = try BalanceHarness(rule: rule, devices: a)
            h.steady(a, until: 2 * 1440, skip: { id, m in dead.contains(id) && m >= 60 })
            h.engine.finish()
            return h.engine.report()
        }
        let report = try run(BalanceHarness.rule)
        #expect(report.rebalancing.isEmpty, "\(report.rebalancing.map(\.device))")
        let group = try #require(report.rebalancingGroups.first)
        #expect(group.status == "balanced")
        #expect(group.gateways.map(\.before) == [3, 3, 3])
        #expect(group.gateways.map(\.silentDevices) == [dead.sorted(), [], []])
        #expect(group.silentAfter == 86400)
        let json = report.json().serialized(pretty: false)
        #expect(json.contains(#""silent_devices":["a-gw1-d0","a-gw1-d1","a-gw1-d2"]"#))
        #expect(json.contains(#""silent_after_seconds":86400"#))
        #expect(
            TableRenderer.render(report).contains(
                "gw1: 3 silent for more than 1d, not moved: a-gw1-d0, a-gw1-d1, a-gw1-d2"))
        #expect(HTMLRenderer.render(report).contains("a · gw1: a-gw1-d0, a-gw1-d1, a-gw1-d2"))

        let lenient = try run(
            BalanceHarness.rule.replacingOccurrences(of: "max_moves: 50,", with: "max_moves: 50, silent_after: 3d,"))
        #expect(lenient.rebalancing.map(\.device) == ["a-gw1-d0"])
        #expect(lenient.rebalancingGroups.first?.gateways.map(\.before) == [6, 3, 3])
        #expect(lenient.rebalancingGroups.first?.gateways.allSatisfy(\.silentDevices.isEmpty) == true)
    }

    /// b-gwb-d0's clock runs 20 hours ahead: its last 20 hours of readings come after the fleet's
    /// end, which is where the plan is made, so the others are not silent for `silent_after: 6h`.
    @Test func oneClockTwentyHoursAheadDoesNotMakeTheOthersSilent() throws {
        let reach = "gw1|gw2|gw3"
        let low: Set<String> = ["a-gw1-d3", "a-gw1-d4", "a-gw1-d5"]
        let a = fleet("a", ["gw1": 6, "gw2": 1, "gw3": 2], reach: reach, low: low)
        let b = fleet("b", ["gwb": 3], reach: "gwb")
        let rule = BalanceHarness.rule.replacingOccurrences(
            of: "max_moves: 50,", with: "max_moves: 50, silent_after: 6h,")
        var h = try BalanceHarness(rule: rule, devices: a + b)
        for m in stride(from: 0.0, through: 480, by: 10) {
            for d in a + b { h.send(d.0 == "b-gwb-d0" ? m + 20 * 60 : m, d.0, via: d.2) }
        }
        h.engine.finish()
        #expect(h.engine.stats.rejectedTotal == 0)
        let report = h.engine.report()
        #expect(Set(report.rebalancing.map(\.device)) == low)
        #expect(report.rebalancingGroups.allSatisfy { $0.gateways.allSatisfy(\.silentDevices.isEmpty) })
        #expect(report.rebalancingGroups.first { $0.group == "a" }?.gateways.map(\.before) == [6, 1, 2])
    }

    @Test func zeroLoadGatewayFromTheGatewaysFileTakesDevicesUpToItsCapacity() throws {
        let table = try GatewayTable.parse("gateway,site,capacity\ngw4,a,2\ngw1,a,\n", path: "gateways.csv")
        let a = fleet("a", ["gw1": 4, "gw2": 4, "gw3": 4], reach: "gw1|gw2|gw3|gw4")
        var h = try BalanceHarness(rule: BalanceHarness.rule, devices: a, gateways: table)
        h.steady(a, until: 70)
        h.engine.finish()
        let report = h.engine.report()
        // gw4 has never carried load: it counts as 0 (mean 3) and is flagged under-loaded.
        #expect(report.alerts.contains { $0.episode.summary.hasPrefix("gw4 in a: 0 vs 3") })
        let group = try #require(report.rebalancingGroups.first)
        #expect(group.gateways.map(\.gateway) == ["gw1", "gw2", "gw3", "gw4"])
        // Capacity 2 keeps gw4 below the band: infeasible, best state with 2 moves.
        #expect(group.status == "infeasible")
        #expect(group.gateways.map(\.after).last == 2)
        #expect(group.gateways.last?.capacity == 2)
        #expect(report.rebalancing.count == 2)
        #expect(report.rebalancing.allSatisfy { $0.to == "gw4" })
    }

    @Test func samePlanForTheSameInput() throws {
        func run() throws -> String {
            let a = fleet("a", ["gw1": 9, "gw2": 2, "gw3": 1], reach: "gw1|gw2|gw3")
            var h = try BalanceHarness(rule: BalanceHarness.rule, devices: a)
            h.steady(a, until: 70)
            h.engine.finish()
            return h.engine.report().json().serialized(pretty: false)
        }
        let first = try run()
        #expect(first.contains(#""status":"rebalanced""#))
        #expect(try run() == first)
    }

    @Test func readingsLoadIsFlaggedButNotPlanned() throws {
        let rule = """
              - balance: chatty
                load: readings
                window: 1h
                threshold: 30%
                rebalance: { max_moves: 5 }
            """
        let a = fleet("a", ["gw1": 2, "gw2": 2], reach: "gw1|gw2")
        var h = try BalanceHarness(rule: rule, devices: a)
        // gw1's devices send three times as much (readings in time order).
        for m in stride(from: 0.0, through: 70, by: 10) {
            for d in a { h.send(m, d.0, via: d.2) }
            for d in a where d.2 == "gw1" { h.send(m + 2, d.0, via: "gw1") }
            for d in a where d.2 == "gw1" { h.send(m + 4, d.0, via: "gw1") }
        }
        h.engine.finish()
        let report = h.engine.report()
        #expect(report.alerts.filter { $0.episode.kind == .balance }.count == 2)
        let group = try #require(report.rebalancingGroups.first)
        #expect(group.status == "not planned")
        #expect(group.note?.contains("load: devices") == true)
        #expect(report.rebalancing.isEmpty)
    }

    @Test func planShowsTheBalanceSteps() throws {
        let policy = try Policy.parse(
            """
            fleetrules: 1
            pack: t
            rules:
            \(BalanceHarness.rule)
            """)
        let op = try #require(policy.compile().operators.first)
        guard case .analysis = op.evaluation else {
            Issue.record("balance should be evaluated as an analysis")
            return
        }
        #expect(op.steps.contains { $0.contains("min-cost flow") })
        #expect(op.stateBytesPerDevice > 0)
    }
}

@Suite struct BalanceScoringTests {
    @Test func silentGatewayFindingsDoNotFlagTheSite() throws {
        let truth = ScoreFixture.truth(
            gateways: #"[{"site": "plant-a", "imbalanced": false, "loads": {"plant-a-gw1": 3, "plant-a-gw2": 3}}]"#)
        let silent = ScoreFixture.alert(
            "balance", "", since: "2026-03-01T01:00:00Z", site: "plant-a",
            evidence: #"{"finding": "silent", "site": "plant-a"}"#)
        let imbalanced = ScoreFixture.alert(
            "balance", "", since: "2026-03-01T01:00:00Z", site: "plant-a",
            evidence: #"{"finding": "imbalanced", "site": "plant-a"}"#)
        let quiet = try #require(try ScoreFixture.score(truth, ScoreFixture.report(alerts: [silent])).gateway.value)
        #expect(quiet.flagged == 0)
        let flagged = try #require(
            try ScoreFixture.score(truth, ScoreFixture.report(alerts: [silent, imbalanced])).gateway.value)
        #expect(flagged.flagged == 1)
    }
}

@Suite struct GatewayTableTests {
    @Test func readsGatewaysAndRejectsBadRowsWithTheirLines() throws {
        let t = try GatewayTable.parse(
            "# gateways\ngateway,site,capacity\ngw1,a,10\ngw2,a,\ngw3,b,-1\n,a,3\ngw1,b,4\ngw4,b\ngw5,b,x\n",
            path: "g.csv")
        #expect(t.entries.map(\.gateway) == ["gw1", "gw2"])
        #expect(t["gw1"]?.capacity == 10)
        #expect(t["gw2"]?.capacity == nil)
        #expect(t.rejected.map(\.line) == [5, 6, 7, 8, 9])
    }

    @Test func headerWithoutGatewayColumnIsAnError() {
        #expect(throws: TelemetryError.self) { try GatewayTable.parse("name,site\nx,y\n", path: "g.csv") }
        #expect(throws: TelemetryError.self) { try GatewayTable.parse("", path: "g.csv") }
    }
}

@Suite(.serialized) struct BalanceEndToEndTests {
    /// A simulated fleet (two plants, one imbalanced; two one-gateway remote sites) run through
    /// the example pack and scored against the simulator's truth.
    @Test func simulatedFleetIsFoundAndBalancedByTheMoves() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "fleetrules-balance-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sim = try CLI.run([
            "simulate", "--devices", "300", "--days", "2", "--interval", "5m", "--seed", "3", "--out", dir,
        ])
        #expect(sim.status == 0, "\(sim.stderr)")
        // Lateness 15m: the simulator's clock-skewed devices (up to 10 min) are counted, as in the truth.
        let run = try CLI.run([
            "run", "rules/", "--telemetry", "\(dir)/telemetry.jsonl", "--inventory", "\(dir)/inventory.csv",
            "--lateness", "15m", "--out", "\(dir)/report.json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let score = try CLI.run([
            "score", "--truth", "\(dir)/truth.json", "--report", "\(dir)/report.json", "--format", "json",
        ])
        #expect(score.status == 0, "\(score.stderr)")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(score.stdout.utf8)) as? [String: Any])
        let gateway = try #require(root["gateway"] as? [String: Any])
        let sites = try #require(gateway["sites"] as? [[String: Any]])
        // The case is not vacuous: one imbalanced site and balanced ones.
        #expect(gateway["imbalanced"] as? Int == 1)
        #expect(sites.count == 4)
        #expect(gateway["found"] as? Int == 1)
        #expect(gateway["flagged"] as? Int == 1)
        #expect(gateway["skipped_moves"] as? Int == 0)
        #expect((gateway["moves"] as? Int ?? 0) > 0)
        #expect(gateway["all_within_after"] as? Bool == true)
        for s in sites { #expect((s["after"] as? Double ?? 1) <= 0.3 + 1e-9, "\(s)") }
        // Every move is legal: the device's current gateway, a reachable one of the same site, once.
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/report.json")))
                as? [String: Any])
        let moves = try #require(report["rebalancing"] as? [[String: String]])
        let inventory = try String(contentsOfFile: "\(dir)/inventory.csv", encoding: .utf8).split(separator: "\n")
            .dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let rows = Dictionary(inventory.map { ($0[0], $0) }, uniquingKeysWith: { a, _ in a })
        #expect(Set(moves.compactMap { $0["device"] }).count == moves.count)
        for m in moves {
            let row = try #require(rows[m["device"] ?? ""])
            #expect(row[2] == m["site"] && row[4] == m["from"], "\(m)")
            #expect(row[5].split(separator: "|").map(String.init).contains(m["to"] ?? ""), "\(m)")
            #expect(m["to"]?.hasPrefix(row[2] + "-") == true)
        }
        // The table view shows the before/after per site.
        let table = try CLI.run([
            "run", "rules/", "--telemetry", "\(dir)/telemetry.jsonl", "--inventory", "\(dir)/inventory.csv",
            "--lateness", "15m", "--format", "table",
        ])
        #expect(table.stdout.contains("REBALANCING gateway-load"))
        #expect(table.stdout.contains("plant-a     rebalanced"))
    }

    @Test func sameMovesInEveryProcess() throws {
        // Hashing is seeded per process: the plan must not depend on dictionary order.
        func moves() throws -> String {
            let out = try CLI.run([
                "run", "rules/", "--telemetry", "examples/fleet/telemetry.jsonl.gz", "--inventory",
                "examples/fleet/inventory.csv",
                "--format", "json",
            ])
            let root = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
            let sections: [Any] = [root["rebalancing"] ?? [], root["rebalancing_groups"] ?? []]
            return String(
                decoding: try JSONSerialization.data(withJSONObject: sections, options: [.sortedKeys]), as: UTF8.self)
        }
        let first = try moves()
        #expect(first.contains("plant-a-gw1"))
        #expect(try moves() == first)
    }

    @Test func gatewaysOptionReadsCapacities() throws {
        let path = try CLI.temporaryFile("gateways.csv", "gateway,site,capacity\nplant-a-gw2,plant-a,5\n")
        let out = try CLI.run([
            "run", "rules/", "--telemetry", "examples/fleet/telemetry.jsonl.gz", "--inventory",
            "examples/fleet/inventory.csv",
            "--gateways", path, "--format", "json",
        ])
        #expect(out.status == 0, "\(out.stderr)")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        let groups = try #require(root["rebalancing_groups"] as? [[String: Any]])
        let a = try #require(groups.first { $0["group"] as? String == "plant-a" })
        let gw2 = try #require((a["gateways"] as? [[String: Any]])?.first { $0["gateway"] as? String == "plant-a-gw2" })
        #expect(gw2["capacity"] as? Int == 5)
        #expect((gw2["after"] as? Int ?? 99) <= 5)
        let missing = try CLI.run([
            "run", "rules/", "--telemetry", "examples/fleet/telemetry.jsonl.gz", "--inventory",
            "examples/fleet/inventory.csv",
            "--gateways", "/nonexistent/gateways.csv",
        ])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no such gateways file"))
    }
}
