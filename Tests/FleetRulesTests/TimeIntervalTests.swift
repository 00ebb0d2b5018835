import Foundation
import Testing

@testable import FleetRules

/// Reads a `time_intervals:` mapping written in YAML.
enum Intervals {
    static func read(_ yaml: String) throws -> (intervals: [String: NamedTimeInterval], diagnostics: [Diagnostic]) {
        var bag = DiagnosticBag()
        let root = try #require(YAMLLoader().load(Array(yaml.utf8), file: "t.yaml", into: &bag))
        guard case .mapping(let entries) = root.kind, let node = entries.first?.value else {
            Issue.record("no time_intervals mapping")
            return ([:], bag.items)
        }
        let list = TimeIntervalReader.read(node, into: &bag)
        return (Dictionary(uniqueKeysWithValues: list.map { ($0.name, $0) }), bag.items)
    }

    static func at(_ text: String) throws -> Double { try #require(Timestamp.parse(text)) }
}

@Suite struct TimeIntervalMatchingTests {
    @Test func aNightRangeBelongsToTheDayItStarts() throws {
        let (i, d) = try Intervals.read(
            """
            time_intervals:
              night-shift:
                - { weekdays: [monday:friday], times: ["22:00-06:00"], location: Europe/Berlin }
            """)
        #expect(d.isEmpty)
        let night = try #require(i["night-shift"])
        // 2026-03-02 is a Monday; Berlin is UTC+1 in early March.
        #expect(night.contains(try Intervals.at("2026-03-02T21:00:00Z")))  // Mon 22:00
        #expect(night.contains(try Intervals.at("2026-03-03T04:59:00Z")))  // Tue 05:59, Monday's night
        #expect(!night.contains(try Intervals.at("2026-03-03T05:00:00Z")))  // Tue 06:00
        #expect(!night.contains(try Intervals.at("2026-03-02T04:00:00Z")))  // Mon 05:00: Sunday's night
        #expect(!night.contains(try Intervals.at("2026-03-01T21:30:00Z")))  // Sun 22:30
        #expect(night.contains(try Intervals.at("2026-03-07T04:00:00Z")))  // Sat 05:00: Friday's night
        #expect(!night.contains(try Intervals.at("2026-03-02T20:59:00Z")))  // Mon 21:59
    }

    @Test func localTimesFollowDaylightSavingChanges() throws {
        let (i, d) = try Intervals.read(
            """
            time_intervals:
              sunday-morning:
                - { weekdays: [sunday], times: ["06:00-10:00"], location: Europe/Berlin }
            """)
        #expect(d.isEmpty)
        let m = try #require(i["sunday-morning"])
        // 2026-03-22: CET (UTC+1) — 05:00Z to 09:00Z.
        #expect(m.contains(try Intervals.at("2026-03-22T05:00:00Z")))
        #expect(!m.contains(try Intervals.at("2026-03-22T04:59:00Z")))
        #expect(!m.contains(try Intervals.at("2026-03-22T09:00:00Z")))
        // 2026-03-29, the day clocks go forward: CEST (UTC+2) — 04:00Z to 08:00Z.
        #expect(m.contains(try Intervals.at("2026-03-29T04:00:00Z")))
        #expect(!m.contains(try Intervals.at("2026-03-29T03:59:00Z")))
        #expect(m.contains(try Intervals.at("2026-03-29T07:59:00Z")))
        #expect(!m.contains(try Intervals.at("2026-03-29T08:00:00Z")))
        // 2026-10-25, the day clocks go back: CET again — 05:00Z to 09:00Z.
        #expect(!m.contains(try Intervals.at("2026-10-25T04:30:00Z")))
        #expect(m.contains(try Intervals.at("2026-10-25T05:00:00Z")))
        #expect(m.contains(try Intervals.at("2026-10-25T08:59:00Z")))

        // The end of a stretch is found in local time on either side of the change.
        var set = TimeIntervalSet([m])
        let spring = set.stretch(at: try Intervals.at("2026-03-29T04:30:00Z"))
        #expect(spring.inside)
        #expect(spring.until == (try Intervals.at("2026-03-29T08:00:00Z")))
        let before = set.stretch(at: try Intervals.at("2026-03-28T12:00:00Z"))
        #expect(!before.inside)
        #expect(before.until == (try Intervals.at("2026-03-29T04:00:00Z")))
        let autumn = set.stretch(at: try Intervals.at("2026-10-24T12:00:00Z"))
        #expect(autumn.until == (try Intervals.at("2026-10-25T05:00:00Z")))
    }

    @Test func aTimeInsideTheSpringGapStartsAtTheNextValidTime() throws {
        // 02:30 does not exist in Berlin on 2026-03-29: the range starts when clocks show 03:00.
        let (i, _) = try Intervals.read(
            """
            time_intervals:
              early:
                - { times: ["02:30-04:00"], location: Europe/Berlin }
            """)
        var set = TimeIntervalSet([try #require(i["early"])])
        let s = set.stretch(at: try Intervals.at("2026-03-28T23:00:00Z"))
        #expect(!s.inside)
        #expect(s.until == (try Intervals.at("2026-03-29T01:00:00Z")))  // 03:00 CEST
        #expect(set.contains(try Intervals.at("2026-03-29T01:30:00Z")))
    }

    @Test func dayFieldsDatesAndNegativeDaysOfMonth() throws {
        let (i, d) = try Intervals.read(
            """
            time_intervals:
              month-end:
                - { days_of_month: ["-2:-1"], months: [february], years: ["2026"] }
              shutdown:
                - { dates: ["2026-12-24:2026-12-26"], location: America/New_York }
              one-day:
                - dates: ["2026-05-01"]
            """)
        #expect(d.isEmpty)
        let monthEnd = try #require(i["month-end"])
        #expect(monthEnd.contains(try Intervals.at("2026-02-27T00:00:00Z")))
        #expect(monthEnd.contains(try Intervals.at("2026-02-28T23:59:00Z")))
        #expect(!monthEnd.contains(try Intervals.at("2026-02-26T23:59:00Z")))
        #expect(!monthEnd.contains(try Intervals.at("2027-02-27T12:00:00Z")))
        let shutdown = try #require(i["shutdown"])
        #expect(!shutdown.contains(try Intervals.at("2026-12-24T04:59:00Z")))  // 23:59 on the 23rd in New York
        #expect(shutdown.contains(try Intervals.at("2026-12-24T05:00:00Z")))
        #expect(shutdown.contains(try Intervals.at("2026-12-27T04:59:00Z")))
        #expect(!shutdown.contains(try Intervals.at("2026-12-27T05:00:00Z")))
        #expect(try #require(i["one-day"]).contains(try Intervals.at("2026-05-01T12:00:00Z")))
    }

    @Test func malformedEntriesAreLocatedErrors() throws {
        let (i, d) = try Intervals.read(
            """
            time_intervals:
              a:
                - { times: ["6:00-10:00"] }
              b:
                - { times: ["10:00-10:00"] }
              c:
                - { weekdays: [friday:monday] }
              d:
                - { weekdays: [mondya] }
              e:
                - { location: Europe/Berln }
              f:
                - { dates: ["2026-02-30"] }
              g:
                - { days_of_month: ["0"] }
              h: []
              ok:
                - { times: ["00:00-24:00"] }
            """)
        #expect(Set(i.keys) == ["ok"])
        let codes = d.map(\.code.rawValue)
        #expect(codes.filter { $0 == "E0142" }.count == 7)
        #expect(codes.contains("E0141"))
        let zone = try #require(d.first { $0.code == .invalidTimeZone })
        #expect(zone.hint == "did you mean 'Europe/Berlin'?")
        #expect(zone.range.start.line == 11)
        #expect(d.first { $0.message.contains("mondya") }?.hint == "did you mean 'monday'?")
    }
}

@Suite struct TimeIntervalCheckTests {
    static func check(_ body: String) -> PolicyCheck {
        let source = """
            fleetrules: 1
            pack: t
            metrics:
              battery_pct: { unit: percent, range: [0, 100] }
            time_intervals:
              night-shift:
                - { weekdays: [monday:friday], times: ["22:00-06:00"], location: Europe/Berlin }
              maintenance:
                - { weekdays: [sunday], times: ["06:00-10:00"], location: Europe/Berlin }
            rules:
            \(body)
            """
        return PolicyLoader().check(sources: [(file: "p.yaml", bytes: Array(source.utf8))])
    }

    @Test func rulesNameDefinedIntervals() throws {
        let ok = Self.check(
            """
              - alert: low
                active_during: night-shift
                mute_during:
                  - maintenance
                  - { interval: night-shift, where: site == "plant-a" }
                when: last(battery_pct) < 20
            """)
        #expect(ok.diagnostics.isEmpty, "\(ok.diagnostics.map(\.message))")
        let rule = try #require(ok.policy?.rules.first)
        #expect(rule.schedule?.activeDuring.map(\.name) == ["night-shift"])
        #expect(rule.schedule?.muteDuring.map(\.interval.name) == ["maintenance", "night-shift"])
        let plan = try #require(ok.policy).compile()
        #expect(plan.operators[0].steps.contains("active during night-shift"))
        #expect(plan.operators[0].steps.contains("mute during night-shift where site == \"plant-a\""))
    }

    @Test func unknownNamesTelemetryFiltersAndOtherKindsAreErrors() throws {
        let c = Self.check(
            """
              - alert: low
                active_during: [night-shfit]
                mute_during:
                  - { interval: maintenance, where: last(battery_pct) < 10 }
                when: last(battery_pct) < 20
              - limit: range
                metric: battery_pct
                range: [10, 90]
                mute_during: [holidays]
              - forecast: depletion
                metric: battery_pct
                threshold: 5
                active_during: [night-shift]
            """)
        let unknown = c.diagnostics.filter { $0.code == .unknownTimeInterval }
        #expect(unknown.count == 2)
        #expect(unknown.first?.hint == "did you mean 'night-shift'?")
        #expect(unknown.first?.range.start.line == 12)
        #expect(unknown.last?.hint == "defined intervals: maintenance, night-shift")
        #expect(c.diagnostics.contains { $0.code == .muteScopeReadsTelemetry && $0.range.start.line == 14 })
        #expect(c.diagnostics.contains { $0.code == .unknownKey && $0.message.contains("'active_during'") })
        #expect(c.policy == nil)
    }

    @Test func unusedAndConflictingIntervals() throws {
        let unused = Self.check(
            """
              - alert: low
                active_during: night-shift
                when: last(battery_pct) < 20
            """)
        let w = try #require(unused.diagnostics.first)
        #expect(w.code == .unusedTimeInterval)
        #expect(w.message == "time interval 'maintenance' is never used")
        #expect(unused.policy != nil)

        let other = """
            fleetrules: 1
            pack: u
            time_intervals:
              maintenance:
                - { weekdays: [saturday] }
            """
        let base = """
            fleetrules: 1
            pack: t
            metrics:
              battery_pct: { unit: percent, range: [0, 100] }
            time_intervals:
              maintenance:
                - { weekdays: [sunday] }
            rules:
              - alert: low
                mute_during: maintenance
                when: last(battery_pct) < 20
            """
        let c = PolicyLoader().check(sources: [
            (file: "a.yaml", bytes: Array(base.utf8)), (file: "b.yaml", bytes: Array(other.utf8)),
        ])
        #expect(c.diagnostics.map(\.code) == [.conflictingTimeInterval])
        #expect(c.diagnostics.first?.range.file == "b.yaml")
    }

    @Test func theSchemaDescribesTheNewKeys() throws {
        let schema = PolicySchema.document().serialized()
        #expect(schema.contains("\"time_intervals\""))
        #expect(schema.contains("\"active_during\""))
        #expect(schema.contains("\"mute_during\""))
        #expect(schema.contains("\"days_of_month\""))
    }
}

@Suite struct ScheduleEvaluationTests {
    static let intervals = """
        time_intervals:
          night-shift:
            - { weekdays: [monday:friday], times: ["22:00-06:00"], location: Europe/Berlin }
          maintenance:
            - { weekdays: [sunday], times: ["06:00-10:00"], location: Europe/Berlin }
        """

    @Test func anActiveDuringRuleFiresOnlyInsideAndResolvesAtTheIntervalsEnd() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: night-low
                    active_during: [night-shift]
                    when: last(battery_pct) < 20
                    for: 30m
                """, extra: Self.intervals)
        // Low all the time, a reading every 30 minutes from Sunday 2026-03-01 00:00Z to Tuesday 12:00Z.
        for k in 0..<120 { h.send(Double(k) * 30, ["battery_pct": 10]) }
        let e = h.finish()
        // Sunday night (Sun 22:00 Berlin) is not a weeknight; Monday night is: 21:00Z to 05:00Z.
        #expect(e.count == 1)
        #expect(e.first.map { Timestamp.format($0.since) } == "2026-03-02T21:30:00Z")
        #expect(e.first?.until.map { Timestamp.format($0) } == "2026-03-03T05:00:00Z")
    }

    @Test func theIntervalsEndResolvesWithoutAReading() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: night-low
                    active_during: [night-shift]
                    when: last(battery_pct) < 20
                """, extra: Self.intervals)
        h.send(60 * 45, ["battery_pct": 10])  // Mon 21:00Z = 22:00 Berlin
        h.send(60 * 45 + 5, ["battery_pct": 10])
        h.send(60 * 60, ["battery_pct": 10])  // Tue 12:00Z, long after 06:00 Berlin
        let e = h.finish()
        #expect(e.count == 1)
        #expect(e.first?.until.map { Timestamp.format($0) } == "2026-03-03T05:00:00Z")
    }

    @Test func muteDuringMarksAlertsThatOpenInsideForTheDevicesItsWhereAdmits() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    mute_during:
                      - { interval: maintenance, where: site == "plant-a" }
                    when: last(battery_pct) < 20
                """, devices: ["d1", "d2"], extra: Self.intervals)
        // Sunday 2026-03-01 06:00Z = 07:00 Berlin: inside maintenance; d1 is at plant-a, d2 at plant-b.
        h.send(360, ["battery_pct": 10], device: "d1")
        h.send(360, ["battery_pct": 10], device: "d2")
        h.send(420, ["battery_pct": 50], device: "d1")
        // Monday: outside maintenance.
        h.send(60 * 30, ["battery_pct": 10], device: "d1")
        h.send(60 * 30 + 5, ["battery_pct": 10], device: "d2")
        let e = h.finish()
        #expect(e.count == 3)
        #expect(e.map(\.device) == ["d1", "d2", "d1"])
        #expect(e.map(\.muted) == ["maintenance", nil, nil])
        let events = h.engine.drainAlerts()
        #expect(events.filter { $0.episode.muted != nil }.map(\.change) == [.fired, .resolved])

        let report = Report(assembling: h.engine.output())
        let json = report.json().serialized()
        #expect(json.contains("\"muted\":\"maintenance\""))
        let back = try Report.decode(json: json)
        #expect(back.alerts.compactMap(\.episode.muted) == ["maintenance"])
        #expect(TableRenderer.render(report).contains("[muted: maintenance]"))
    }
}

@Suite struct ScheduleClockTests {
    @Test func aSilentDeviceIsNoticedWhenItsIntervalStarts() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: silent-at-night
                    active_during: [night-shift]
                    when: absent(battery_pct, 1h)
                """, devices: ["d1", "d2"], extra: ScheduleEvaluationTests.intervals)
        // Both report Sunday morning; d2 keeps reporting every 30 minutes, d1 falls silent.
        h.send(0, ["battery_pct": 50], device: "d1")
        for k in 0..<144 { h.send(Double(k) * 30, ["battery_pct": 50], device: "d2") }
        let e = h.finish()
        // Monday 22:00 in Berlin (21:00Z) is the first weeknight: d1 has been silent since
        // Sunday; it resolves when the night ends and fires again the next night.
        #expect(e.map(\.device) == ["d1", "d1"])
        #expect(e.map { Timestamp.format($0.since) } == ["2026-03-02T21:00:00Z", "2026-03-03T21:00:00Z"])
        #expect(e.first?.until.map { Timestamp.format($0) } == "2026-03-03T05:00:00Z")
        #expect(e.last?.until == nil)
    }
}
