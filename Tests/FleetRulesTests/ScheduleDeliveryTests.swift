import Foundation
import Testing

@testable import FleetRules
@testable import FleetRulesDelivery

/// Schedules in delivery: alerts a rule's `mute_during` muted, and routes' time intervals.
@Suite struct ScheduleDeliveryTests {
    static let receivers = """
        receivers:
          - name: ops
            webhook: { url: http://127.0.0.1:9/hooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }
        """

    static func router(_ text: String) throws -> AlertRouter {
        let check = DeliveryLoader.check(bytes: Array(text.utf8), file: "d.yaml")
        #expect(check.diagnostics.isEmpty, "\(check.diagnostics.map(\.message))")
        return AlertRouter(config: try #require(check.config))
    }

    @Test func alertsMutedByTheRuleAreNeverRouted() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    mute_during:
                      - { interval: maintenance, where: site == "plant-a" }
                    when: last(battery_pct) < 20
                """, devices: ["d1", "d2"],
            extra: """
                time_intervals:
                  maintenance:
                    - { weekdays: [sunday], times: ["06:00-10:00"], location: Europe/Berlin }
                """)
        // Sunday 2026-03-01 06:00Z (07:00 in Berlin): both fire; d1 (plant-a) is muted.
        h.send(360, ["battery_pct": 10], device: "d1")
        h.send(360, ["battery_pct": 10], device: "d2")
        h.send(400, ["battery_pct": 50], device: "d1")
        h.send(400, ["battery_pct": 50], device: "d2")
        h.engine.finish()
        var router = try Self.router("delivery: 1\n" + Self.receivers + "\nroute: { receiver: ops }\n")
        let sent = router.process(h.engine.drainAlerts(), inventory: h.engine.inventory) + router.finish()
        let devices = sent.flatMap { $0.alerts.map { $0.labels["device"] ?? "" } }
        #expect(Set(devices) == ["d2"])
        #expect(sent.flatMap(\.alerts).map(\.status) == [.firing, .resolved])
        #expect(router.stats.muted == 1)
    }

    static let routed = """
        delivery: 1
        time_intervals:
          maintenance:
            - { weekdays: [sunday], times: ["06:00-10:00"], location: Europe/Berlin }
          office-hours:
            - { weekdays: [monday:friday], times: ["08:00-18:00"], location: Europe/Berlin }
        \(receivers)
        route:
          receiver: ops
          group_by: [rule]
          group_wait: 30s
          group_interval: 5m
          routes:
            - match: { rule: hot }
              mute_time_intervals: [maintenance]
            - match: { rule: info }
              active_time_intervals: [office-hours]
        """

    static func at(_ s: String) throws -> Double { try #require(Timestamp.parse(s)) }

    @Test func aMutedRouteSendsWhatStillFiresAtTheIntervalsEnd() throws {
        var r = try Self.router(Self.routed)
        let t = try Self.at("2026-03-01T06:00:00Z")  // 07:00 in Berlin, inside maintenance
        var out = r.process(
            [
                AlertRouterTests.event("hot", "d1", .fired, at: t),
                AlertRouterTests.event("hot", "d2", .fired, at: t + 60),
                AlertRouterTests.event("hot", "d2", .resolved, at: t + 600),
            ], inventory: AlertRouterTests.inventory)
        #expect(out.isEmpty)
        // Maintenance ends at 10:00 Berlin = 09:00Z: d1 still fires and is sent then; d2 never.
        out = r.process(
            [AlertRouterTests.event("other", "d3", .fired, at: try Self.at("2026-03-01T12:00:00Z"))],
            inventory: AlertRouterTests.inventory)
        let hot = try #require(out.first { $0.alerts.contains { $0.rule == "hot" } })
        #expect(hot.time == (try Self.at("2026-03-01T09:00:00Z")))
        #expect(hot.alerts.map { $0.labels["device"] } == ["d1"])
        #expect(r.stats.muted > 0)
    }

    @Test func anActiveIntervalRouteSendsOnlyInsideAndDropsAtTheEndOfTheData() throws {
        var r = try Self.router(Self.routed)
        // Sunday: outside office hours; the data ends before Monday 08:00.
        let sunday = try Self.at("2026-03-01T12:00:00Z")
        var out = r.process(
            [AlertRouterTests.event("info", "d1", .fired, at: sunday)], inventory: AlertRouterTests.inventory)
        #expect(out.isEmpty)
        #expect(r.finish().isEmpty)
        // Monday 09:00 in Berlin: inside.
        var s = try Self.router(Self.routed)
        let monday = try Self.at("2026-03-02T08:00:00Z")
        out = s.process(
            [AlertRouterTests.event("info", "d1", .fired, at: monday)], inventory: AlertRouterTests.inventory)
        out += s.finish()
        #expect(out.map(\.time) == [monday + 30])
    }

    @Test func routesNameDeclaredIntervals() throws {
        let text = """
            delivery: 1
            time_intervals:
              office-hours:
                - { weekdays: [monday:friday], location: Europe/Berln }
              nights:
                - { times: ["22:00-06:00"] }
            \(Self.receivers)
            route:
              receiver: ops
              routes:
                - match: { rule: a }
                  mute_time_intervals: [night]
            """
        let check = DeliveryLoader.check(bytes: Array(text.utf8), file: "d.yaml")
        #expect(check.config == nil)
        let unknown = try #require(check.diagnostics.first { $0.code == .unknownRouteTimeInterval })
        #expect(unknown.hint == "did you mean 'nights'?")
        #expect(unknown.range.start.line == 14)
        #expect(check.diagnostics.contains { $0.code == .invalidTimeZone && $0.range.start.line == 4 })
    }
}
