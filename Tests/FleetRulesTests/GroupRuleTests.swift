import Foundation
import Testing

@testable import FleetRules
@testable import FleetRulesDelivery

/// Two sites of devices reporting `rssi` and `temperature` every 5 minutes; some fall silent.
struct GroupHarness {
    static let t0 = 1_772_323_200.0  // 2026-03-01T00:00:00Z
    var engine: Engine

    static let metrics = """
        metrics:
          rssi: { unit: dBm, range: [-150, 0], interval: 5m }
          temperature: { unit: celsius, range: [-40, 125], interval: 5m }
        """

    /// `devices`: (id, site, zone, power).
    init(rules: String, devices: [(String, String, String, String)]) throws {
        let source = """
            fleetrules: 1
            pack: t
            \(Self.metrics)
            rules:
            \(rules)
            """
        let policy = try Policy.parse(source)
        let inventory = try Inventory(
            columns: ["device", "type", "site", "zone", "power"],
            rows: devices.map { [$0.0, "meter", $0.1, $0.2, $0.3] })
        engine = Engine(plan: policy.compile(), inventory: inventory)
    }

    /// Every device reports every 5 minutes from 0 to `until` minutes unless `silent` says not.
    mutating func run(
        _ devices: [(String, String, String, String)], until: Double,
        silent: (String, Double) -> Bool = { _, _ in false },
        temperature: (String, Double) -> Double? = { _, _ in 20 }
    ) {
        var m = 0.0
        while m <= until {
            for d in devices where !silent(d.0, m) {
                var values = ["rssi": -70.0]
                if let t = temperature(d.0, m) { values["temperature"] = t }
                engine.ingest(Reading(timestamp: Self.t0 + m * 60, device: d.0, metrics: values))
            }
            m += 5
        }
        engine.finish()
    }

    static func fleet(_ a: Int, _ b: Int, power: String = "mains") -> [(String, String, String, String)] {
        (1...a).map { ("a\($0)", "plant-a", "hall", power) } + (1...b).map { ("b\($0)", "plant-b", "hall", power) }
    }

    static func at(_ minutes: Double) -> Double { t0 + minutes * 60 }

    static let outage = """
          - group: site-outage
            by: [site]
            where: power == "mains"
            every: 1m
            when: share(age(rssi) > 30m) > 20% and devices(true) >= 5
            for: 5m
            severity: critical
            summary: "{{site}}: {{value}} of {{members}} devices silent"
        """
}

@Suite struct GroupRuleCheckTests {
    static func check(_ rules: String) -> [Diagnostic] {
        let source = """
            fleetrules: 1
            pack: t
            \(GroupHarness.metrics)
            rules:
            \(rules)
            """
        return PolicyLoader().check(sources: [("g.yaml", Array(source.utf8))]).diagnostics
    }

    static func codes(_ rules: String) -> [String] { check(rules).map { "\($0.code.rawValue)@\($0.range.start.line)" } }

    @Test func theExampleRuleChecksAndPlans() throws {
        #expect(Self.check(GroupHarness.outage).isEmpty)
        let policy = try Policy.parse(
            "fleetrules: 1\npack: t\n\(GroupHarness.metrics)\nrules:\n\(GroupHarness.outage)")
        let plan = policy.compile()
        let op = try #require(plan.operators.first)
        #expect(op.rule.kind == .group)
        #expect(op.steps.contains("tick every 1m in event time"))
        #expect(op.steps.contains("group members by site"))
        #expect(op.steps.contains("per member: count where age(rssi) > 30m"))
        #expect(op.steps.contains("when (share(age(rssi) > 30m) > 0.2 and devices(true) >= 5)"))
        #expect(op.stateBytesPerDevice == GroupRule.stateBytesPerDevice)
        // The member expression's aggregate is registered like a condition rule's.
        #expect(plan.aggregates.map(\.ref.description) == ["age(rssi)"])
    }

    @Test func groupFunctionsOutsideAGroupRuleAreLocated() {
        let d = Self.check(
            """
              - alert: a
                when: share(last(rssi) < -100) > 20%
            """)
        #expect(d.map(\.code) == [.groupFunctionOutsideGroup])
        #expect(d.first?.range.start.line == 8)
        #expect(d.first?.range.start.column == 11)
        #expect(d.first?.hint?.contains("group:") == true)
    }

    @Test func perDeviceValuesAtTheGroupLevelAskToBeWrapped() {
        let d = Self.check(
            """
              - group: g
                when: last(rssi) < -100
            """)
        #expect(d.map(\.code) == [.perDeviceInGroup])
        #expect(d.first?.hint?.contains("share(last(rssi) < -100) > 20%") == true, "\(d.map { $0.hint ?? "" })")
        // A mistake inside the per-device part keeps the checker's own diagnostic.
        #expect(Self.codes("  - group: g\n    when: share(last(rsi) < 1) > 20%") == ["E0203@8"])
    }

    @Test func argumentsAndUnitsOfGroupFunctions() {
        #expect(Self.codes("  - group: g\n    when: devices(last(rssi)) > 2") == ["E0225@8"])
        #expect(Self.codes("  - group: g\n    when: median_of(last(rssi) < 3) > 2") == ["E0225@8"])
        #expect(Self.codes("  - group: g\n    when: share(true, true) > 2") == ["E0225@8"])
        #expect(Self.codes("  - group: g\n    when: share(devices(true)) > 2") == ["E0225@8"])
        // Inside a per-device expression a group function is out of place.
        #expect(Self.codes("  - group: g\n    when: share(devices(true) > 1) > 2") == ["E0130@8"])
        // A count against a percentage, a share against a count, different units.
        #expect(Self.codes("  - group: g\n    when: devices(true) > 20%") == ["E0207@8"])
        #expect(Self.codes("  - group: g\n    when: share(true) > devices(true)") == ["E0207@8"])
        #expect(Self.codes("  - group: g\n    when: avg_of(last(rssi)) > avg_of(last(temperature))") == ["E0207@8"])
        #expect(Self.codes("  - group: g\n    when: max_of(age(rssi)) > 30") == ["E0207@8"])
        #expect(Self.codes("  - group: g\n    when: max_of(age(rssi)) > 30m") == [])
        #expect(Self.codes("  - group: g\n    when: devices(true)") == ["E0212@8"])
        #expect(Self.codes("  - group: g\n    when: 2 * median_of(last(temperature)) > 40") == [])
    }

    @Test func inhibitsNamesPerDeviceRules() {
        let d = Self.check(
            """
              - alert: device-silent
                when: age(rssi) > 1h
              - group: g
                when: share(age(rssi) > 30m) > 20%
                inhibits: [device-silnet, g]
            """)
        #expect(d.map(\.code) == [.unknownInhibitedRule, .unknownInhibitedRule])
        #expect(d.first?.hint?.contains("device-silent") == true)
        #expect(d.last?.message.contains("it is a group rule") == true)
    }

    @Test func byAndEveryAndFor() {
        #expect(Self.codes("  - group: g\n    by: [sight]\n    when: devices(true) > 2") == ["E0202@8"])
        #expect(Self.codes("  - group: g\n    every: 0s\n    when: devices(true) > 2") == ["E0112@8"])
        #expect(Self.codes("  - group: g\n    every: 5s\n    when: devices(true) > 2") == ["E0110@8"])
        // `for` shorter than a tick: a warning, the rule still loads.
        #expect(Self.codes("  - group: g\n    every: 5m\n    for: 1m\n    when: devices(true) > 2") == ["W0314@9"])
    }
}

@Suite struct GroupRuleEngineTests {
    @Test func aSiteOutageFiresOncePerSiteWithItsSilentMembers() throws {
        let fleet = GroupHarness.fleet(10, 5)
        var h = try GroupHarness(rules: GroupHarness.outage, devices: fleet)
        // a1–a3 silent from 65m to 175m: 30% of plant-a; plant-b reports throughout.
        h.run(fleet, until: 240) { d, m in ["a1", "a2", "a3"].contains(d) && m > 60 && m < 180 }
        let episodes = h.engine.episodes
        #expect(episodes.count == 1)
        let e = try #require(episodes.first)
        #expect(e.rule == "site-outage" && e.device == "" && e.site == "plant-a")
        // age(rssi) > 30m first holds at the 91m tick; 5m later, at 96m, the group fires.
        #expect(e.since == GroupHarness.at(91))
        // The readings at 180m come after the 180m tick: the 181m tick sees them.
        #expect(e.until == GroupHarness.at(181))
        #expect(e.summary == "plant-a: 30% of 10 devices silent")
        #expect(e.value == 0.3)
        let evidence = Dictionary(uniqueKeysWithValues: e.evidence.map { ($0.0, $0.1) })
        #expect(evidence["group"] == .string("plant-a"))
        #expect(evidence["members"] == .number(10))
        #expect(evidence["matching"] == .number(3))
        #expect(evidence["matching_devices"] == .array([.string("a1"), .string("a2"), .string("a3")]))
    }

    @Test func aGroupBelowItsShareOrSizeStaysQuiet() throws {
        let fleet = GroupHarness.fleet(10, 4)
        var h = try GroupHarness(rules: GroupHarness.outage, devices: fleet)
        // Two of plant-a (20%, not above it) and every device of plant-b (only 4 members).
        h.run(fleet, until: 240) { d, m in (["a1", "a2"].contains(d) || d.hasPrefix("b")) && m > 60 }
        #expect(h.engine.episodes.isEmpty)
    }

    @Test func membersComeFromWhereAndAnEmptyGroupHasNoShare() throws {
        let fleet = GroupHarness.fleet(6, 6, power: "battery")
        var h = try GroupHarness(rules: GroupHarness.outage, devices: fleet)
        h.run(fleet, until: 120) { _, m in m > 30 }
        // Nobody is on mains: no member, no share, never fires.
        #expect(h.engine.episodes.isEmpty)
    }

    @Test func statisticsOverMembersLeaveOutDevicesWithoutAValue() throws {
        let rules = """
              - group: hot
                by: [site]
                every: 5m
                when: median_of(last(temperature)) > 30 and p90_of(last(temperature)) >= 0
                summary: "{{group}} {{value}}"
            """
        let fleet = GroupHarness.fleet(5, 5)
        var h = try GroupHarness(rules: rules, devices: fleet)
        // plant-a: 10, 20, 31, 40, 50 (median 31); plant-b: 29 ×4 and one without temperature.
        let temps: [String: Double] = ["a1": 10, "a2": 20, "a3": 31, "a4": 40, "a5": 50]
        h.run(fleet, until: 30, temperature: { d, _ in d == "b5" ? nil : temps[d] ?? 29 })
        let e = try #require(h.engine.episodes.first)
        #expect(h.engine.episodes.count == 1)
        #expect(e.summary == "plant-a 31")
        #expect(GroupAnalyzer.statistic(.p90, [10, 20, 31, 40, 50]) == 46)
        #expect(GroupAnalyzer.statistic(.avg, [10, 20, 30]) == 20)
        #expect(GroupAnalyzer.statistic(.min, [10, 20, 30]) == 10)
        #expect(GroupAnalyzer.statistic(.max, [10, 20, 30]) == 30)
        #expect(GroupAnalyzer.statistic(.median, [10, 20, 30, 40]) == 25)
        #expect(GroupAnalyzer.statistic(.median, []) == nil)
    }

    @Test func windowAggregatesAreReadAtTheTickWithoutDisturbingDeviceRules() throws {
        // avg(temperature, 30m) read by a group rule at its ticks and by an alert per reading:
        // the group's reads must not change what the alert sees.
        let rules = """
              - alert: warm
                when: avg(temperature, 30m) > 25
              - group: warm-site
                by: [site]
                every: 1m
                when: avg_of(avg(temperature, 30m)) > 25
            """
        let alone = """
              - alert: warm
                when: avg(temperature, 30m) > 25
            """
        let fleet = GroupHarness.fleet(3, 3)
        let heat: (String, Double) -> Double? = { d, m in d.hasPrefix("a") && m >= 60 && m < 150 ? 40 : 20 }
        var both = try GroupHarness(rules: rules, devices: fleet)
        both.run(fleet, until: 240, temperature: heat)
        var one = try GroupHarness(rules: alone, devices: fleet)
        one.run(fleet, until: 240, temperature: heat)
        let warm = both.engine.episodes.filter { $0.rule == "warm" }
        #expect(warm.map(\.since) == one.engine.episodes.map(\.since))
        #expect(warm.map(\.until) == one.engine.episodes.map(\.until))
        let site = try #require(both.engine.episodes.first { $0.rule == "warm-site" })
        #expect(site.site == "plant-a")
        #expect(both.engine.episodes.count { $0.rule == "warm-site" } == 1)
    }

    @Test func termKernelsAgreeWithTheInterpreter() throws {
        // `age(rssi) > 30m` and `avg(temperature, 30m)` have kernels; `… and true` and `… + 0` do not.
        func episodes(_ when: String) throws -> [String] {
            let rules = """
                  - group: g
                    by: [site]
                    when: \(when)
                """
            let fleet = GroupHarness.fleet(10, 5)
            var h = try GroupHarness(rules: rules, devices: fleet)
            h.run(
                fleet, until: 300, silent: { d, m in ["a1", "a2", "b3"].contains(d) && m > 40 && m < 200 },
                temperature: { d, m in (Int(d.dropFirst()) ?? 0) <= 6 && m < 150 ? 20 + m / 10 : 21 })
            return h.engine.episodes.map {
                "\($0.evidence.first?.1 ?? .null) \($0.since) \($0.until ?? -1) \($0.value ?? -1)"
            }
        }
        let kernel = try episodes("share(age(rssi) > 30m) > 15% or median_of(avg(temperature, 30m)) > 25")
        let general = try episodes(
            "share(age(rssi) > 30m and true) > 15% or median_of(avg(temperature, 30m) + 0) > 25")
        #expect(kernel.count >= 2)
        #expect(kernel == general)
    }

    @Test func theSameInputGivesTheSameReport() throws {
        let fleet = GroupHarness.fleet(10, 5)
        func report() throws -> String {
            var h = try GroupHarness(rules: GroupHarness.outage, devices: fleet)
            h.run(fleet, until: 240) { d, m in ["a1", "a2", "a3", "b1", "b2"].contains(d) && m > 60 && m < 180 }
            return Report(assembling: h.engine.output()).json().serialized()
        }
        #expect(try report() == report())
    }

    @Test func explainShowsTheDevicesGroupAtTheLatestTick() throws {
        let fleet = GroupHarness.fleet(10, 5)
        var h = try GroupHarness(rules: GroupHarness.outage, devices: fleet)
        h.run(fleet, until: 120) { d, m in ["a1", "a2", "a3"].contains(d) && m > 60 }
        let x = try h.engine.explain(rule: "site-outage", device: "a5")
        let g = try #require(x.group)
        #expect(g.group == "plant-a")
        #expect(g.members == 10)
        #expect(g.holds == true)
        #expect(x.state == .firing)
        #expect(g.terms.first { $0.0 == "share(age(rssi) > 30m)" }?.1 == "30%")
        #expect(g.matchingDevices == ["a1", "a2", "a3"])
        #expect(x.findings.count == 1)
        #expect(x.text().contains("group plant-a: 10 members"))
        let other = try h.engine.explain(rule: "site-outage", device: "b1")
        #expect(other.group?.holds == false)
        #expect(other.state == .idle)
    }
}

@Suite struct GroupInhibitionTests {
    static let rules =
        GroupHarness.outage + """

              - alert: device-silent
                when: age(rssi) > 40m
            """
    static let inhibiting = rules.replacingOccurrences(
        of: "severity: critical", with: "severity: critical\n    inhibits: [device-silent]")

    @Test func deviceAlertsOfAFiringGroupAreKeptMarkedAndNotDelivered() throws {
        let fleet = GroupHarness.fleet(10, 5)
        var h = try GroupHarness(rules: Self.inhibiting, devices: fleet)
        var events: [AlertEvent] = []
        // a1–a3 silent from 65m (plant-a fires at 96m); b1 alone silent in plant-b.
        var m = 0.0
        while m <= 240 {
            for d in fleet where !((["a1", "a2", "a3"].contains(d.0) && m > 60 && m < 180) || (d.0 == "b1" && m > 60)) {
                h.engine.ingest(Reading(timestamp: GroupHarness.at(m), device: d.0, metrics: ["rssi": -70]))
            }
            events += h.engine.drainAlerts()
            m += 5
        }
        h.engine.finish()
        events += h.engine.drainAlerts()
        let silent = h.engine.episodes.filter { $0.rule == "device-silent" }
        #expect(silent.map(\.device).sorted() == ["a1", "a2", "a3", "b1"])
        for e in silent where e.device.hasPrefix("a") {
            #expect(e.inhibitedBy == AlertInhibition(rule: "site-outage", group: "plant-a"))
        }
        #expect(silent.first { $0.device == "b1" }?.inhibitedBy == nil)
        // The report keeps them, marked.
        let report = Report(assembling: h.engine.output())
        let json = report.json().serialized()
        #expect(json.contains(#""inhibited_by":{"rule":"site-outage","group":"plant-a"}"#))
        #expect(TableRenderer.render(report).contains("[inhibited by site-outage plant-a]"))
        #expect(HTMLRenderer.render(report).contains("inhibited by site-outage (plant-a)"))
        // A saved report read back keeps the mark.
        let decoded = try Report.decode(json: json)
        #expect(decoded.alerts.count { $0.episode.inhibitedBy?.group == "plant-a" } == 3)
        // Delivery sends the site alert and b1's, never the inhibited ones.
        let config = try #require(
            DeliveryLoader.check(
                bytes: Array(
                    """
                    delivery: 1
                    receivers:
                      - name: ops
                        webhook: { url: "http://127.0.0.1:1/x", secret: 0123456789abcdef0123456789abcdef }
                    route:
                      receiver: ops
                      group_by: [rule, device]
                      group_wait: 0s
                    """.utf8), file: "d.yaml"
            ).config)
        var router = AlertRouter(config: config)
        let sent = (router.process(events, inventory: h.engine.inventory) + router.finish())
            .flatMap(\.alerts).filter { $0.status == .firing }.map { "\($0.rule)@\($0.labels["device"] ?? "")" }
        #expect(Set(sent) == ["site-outage@", "device-silent@b1"])
        #expect(router.stats.inhibited == 3)
    }

    @Test func analertOpenBeforeTheGroupFiresIsMarkedWithAnUpdate() throws {
        let rules = Self.inhibiting.replacingOccurrences(of: "age(rssi) > 40m", with: "age(rssi) > 10m")
        let fleet = GroupHarness.fleet(10, 5)
        var h = try GroupHarness(rules: rules, devices: fleet)
        h.run(fleet, until: 150) { d, m in ["a1", "a2", "a3"].contains(d) && m > 60 }
        let events = h.engine.drainAlerts()
        let a1 = events.filter { $0.episode.rule == "device-silent" && $0.episode.device == "a1" }
        // Fired at 75m (delivered then), marked inhibited when plant-a fired.
        #expect(a1.map(\.change) == [.fired, .updated])
        #expect(a1.first?.episode.inhibitedBy == nil)
        #expect(a1.last?.episode.inhibitedBy?.group == "plant-a")
        let open = h.engine.episodes.filter { $0.rule == "device-silent" }
        #expect(open.allSatisfy { $0.inhibitedBy != nil })
    }

    @Test func withoutInhibitsNothingIsMarked() throws {
        let fleet = GroupHarness.fleet(10, 5)
        var h = try GroupHarness(rules: Self.rules, devices: fleet)
        h.run(fleet, until: 240) { d, m in ["a1", "a2", "a3"].contains(d) && m > 60 && m < 180 }
        #expect(h.engine.episodes.count { $0.rule == "device-silent" } == 3)
        #expect(h.engine.episodes.allSatisfy { $0.inhibitedBy == nil })
    }
}
