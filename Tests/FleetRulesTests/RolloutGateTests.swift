import Foundation
import Testing

@testable import FleetRules
@testable import FleetRulesDelivery

/// `rollout.abort`: the campaign-level health gate of a compliance rule's rollout.
@Suite struct RolloutGateTests {
    static func policy(abort: String = "{ failed: 20%, min_devices: 5 }", stale: String = "stale: 48h") -> String {
        """
        fleetrules: 1
        pack: fw
        metrics:
          rssi: { unit: dBm }
        rules:
          - compliance: rollout-gate
            attribute: firmware
            \(stale)
            rollout:
              target: { temp-sensor: "2.4.3" }
              started: 2026-03-01T01:00:00Z
              deadline: 2d
              abort: \(abort)
            severity: info
        """
    }

    static let t0 = 1_772_323_200.0  // 2026-03-01T00:00:00Z

    /// Ten temp-sensors on 2.4.1; `script` gives each device's firmware reports (hours, version).
    static func run(_ policy: String, _ script: [String: [(Double, String)]], hours: Double = 20) throws -> Engine {
        let rows = (1...10).map { ["d\($0)", "temp-sensor", "plant-a", "z", "gw", "2.4.1"] }
        let inventory = try Inventory(columns: ["device", "type", "site", "zone", "gateway", "firmware"], rows: rows)
        var engine = Engine(plan: try Policy.parse(policy).compile(), inventory: inventory)
        // Every device sends rssi every 30 minutes; firmware only where the script says.
        for step in 0...Int(hours * 2) {
            let h = Double(step) / 2
            for i in 1...10 {
                let d = "d\(i)"
                var attributes: [String: String] = [:]
                if let v = script[d]?.last(where: { $0.0 <= h && $0.0 > h - 0.5 }) { attributes["firmware"] = v.1 }
                engine.ingest(
                    Reading(
                        timestamp: t0 + h * 3600 + Double(i), device: d, metrics: ["rssi": -70],
                        attributes: attributes))
            }
        }
        engine.finish()
        return engine
    }

    static func gateAlerts(_ engine: Engine) -> [AlertEpisode] {
        engine.episodes.filter { $0.device.isEmpty && $0.rule == "rollout-gate" }
    }

    @Test func oneCriticalCampaignAlertWhenTheFailedShareReachesTheGate() throws {
        // Six devices take 2.4.3 at 2h; d1 falls back at 5h (1 of 6: 17%), d2 at 8h (2 of 6: 33%).
        var script: [String: [(Double, String)]] = [:]
        for i in 1...6 { script["d\(i)"] = [(2, "2.4.3")] }
        script["d1"]?.append((5, "2.4.1"))
        script["d2"]?.append((8, "2.4.1"))
        let engine = try Self.run(Self.policy(), script)
        let gate = Self.gateAlerts(engine)
        #expect(gate.count == 1)
        let alert = try #require(gate.first)
        #expect(alert.severity == .critical)
        #expect(alert.since == Self.t0 + 8 * 3600 + 2)
        #expect(alert.summary.hasPrefix("rollout of rollout-gate aborted: 2 of 6 devices that took the target failed"))
        let evidence = Dictionary(uniqueKeysWithValues: alert.evidence.map { ($0.0, $0.1) })
        #expect(evidence["took_target"] == .number(6))
        #expect(evidence["failed"] == .number(2))
        #expect(evidence["first_failed"] == .array([.string("d1"), .string("d2")]))

        // Delivery sends the campaign's alert once, as one alert.
        var engineCopy = engine
        var router = AlertRouter(
            config: try #require(
                DeliveryLoader.check(
                    bytes: Array(
                        """
                        delivery: 1
                        receivers:
                          - name: ops
                            webhook: { url: http://127.0.0.1:9/hooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }
                        route: { receiver: ops, group_by: [rule, severity] }
                        """.utf8), file: "d.yaml"
                ).config))
        let sent = router.process(engineCopy.drainAlerts(), inventory: engine.inventory) + router.finish()
        let critical = sent.filter { $0.alerts.contains { $0.severity == "critical" } }
        #expect(critical.flatMap(\.alerts).count == 1)
    }

    @Test func belowMinDevicesOrBelowTheShareNothingOpens() throws {
        // Four take the target and one falls back: 25%, but fewer than min_devices 5.
        var few: [String: [(Double, String)]] = [:]
        for i in 1...4 { few["d\(i)"] = [(2, "2.4.3")] }
        few["d1"]?.append((5, "2.4.1"))
        #expect(Self.gateAlerts(try Self.run(Self.policy(), few)).isEmpty)
        // Ten take it and one falls back: 10%, below 20%.
        var many: [String: [(Double, String)]] = [:]
        for i in 1...10 { many["d\(i)"] = [(2, "2.4.3")] }
        many["d1"]?.append((5, "2.4.1"))
        #expect(Self.gateAlerts(try Self.run(Self.policy(), many)).isEmpty)
        // Reports before the rollout started do not count as taking it; a device that never
        // reported the target cannot fail it.
        var early: [String: [(Double, String)]] = [:]
        for i in 1...5 { early["d\(i)"] = [(0, "2.4.3"), (0.5, "2.4.1")] }
        #expect(Self.gateAlerts(try Self.run(Self.policy(), early)).isEmpty)
    }

    @Test func goingSilentWithinStaleOfTakingTheTargetIsAFailure() throws {
        // Five take 2.4.3 at 2h; d1 and d2 report it once more at 3h and then no version:
        // stale (6h) at 9h, within 6h of taking it: 2 of 5 failed.
        var script: [String: [(Double, String)]] = [:]
        for i in 1...5 { script["d\(i)"] = [(2, "2.4.3")] }
        for i in 3...5 { script["d\(i)"]? += stride(from: 3.0, through: 20, by: 2).map { ($0, "2.4.3") } }
        script["d1"]?.append((3, "2.4.3"))
        script["d2"]?.append((3, "2.4.3"))
        let engine = try Self.run(Self.policy(abort: "{ failed: 30%, min_devices: 5 }", stale: "stale: 6h"), script)
        let alert = try #require(Self.gateAlerts(engine).first)
        #expect(alert.since == Self.t0 + 9 * 3600 + 2)
        #expect(alert.summary.contains("2 of 5 devices"))
    }

    @Test func checkReadsTheGateAndWarnsWithoutStale() throws {
        let ok = PolicyLoader().check(sources: [(file: "p.yaml", bytes: Array(Self.policy().utf8))])
        #expect(ok.diagnostics.isEmpty, "\(ok.diagnostics.map(\.message))")
        let plan = try #require(ok.policy).compile()
        #expect(
            plan.operators[0].steps.contains(
                "abort the rollout (one critical alert) when ≥ 20% of ≥ 5 devices that took the target fall back or go silent within 2d of taking it"
            ))
        let noStale = PolicyLoader().check(sources: [
            (file: "p.yaml", bytes: Array(Self.policy(stale: "max_versions: 9").utf8))
        ])
        #expect(noStale.diagnostics.map(\.code) == [.abortWithoutStale])
        let zero = PolicyLoader().check(sources: [
            (file: "p.yaml", bytes: Array(Self.policy(abort: "{ failed: 0% }").utf8))
        ])
        #expect(zero.diagnostics.map(\.code) == [.invalidValue])
        let unknown = PolicyLoader().check(sources: [
            (file: "p.yaml", bytes: Array(Self.policy(abort: "{ failed: 10%, min_device: 3 }").utf8))
        ])
        #expect(unknown.diagnostics.first?.hint == "did you mean 'min_devices'?")
    }
}
