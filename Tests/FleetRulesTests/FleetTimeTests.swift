import Foundation
import Testing

@testable import FleetRules

/// The fleet's time follows where most devices have got, so gaps in the data and single clocks
/// far ahead neither reject nor delay the fleet's readings.
@Suite struct FleetTimeTests {
    static let low = """
          - alert: low
            when: last(battery_pct) < 20
        """
    /// With a silence rule, timers run with the watermark: a watermark pushed ahead fires them
    /// there, and every reading before that is late.
    static let lowAndSilent =
        low + """

              - alert: silent
                when: absent(battery_pct, 30m)
            """

    /// Each device's clock is a few seconds off its round, so a round arrives slightly out of order.
    static func jitter(_ device: Int) -> Double { Double(device * 37 % 60) / 60 }

    /// A fleet of `devices` devices reporting every five minutes from `start` for `rounds` rounds, as JSON Lines.
    static func rounds(_ devices: Int, from start: Double, count rounds: Int, low: (device: Int, round: Int)? = nil)
        -> String
    {
        var text = ""
        for r in 0..<rounds {
            let ts = Timestamp.format(EngineHarness.at(start + Double(r * 5)))
            for d in 1...devices {
                let value = low.map { $0 == (d, r) } == true ? 10 : 50
                text += #"{"ts":"\#(ts)","device":"d\#(d)","battery_pct":\#(value)}"# + "\n"
            }
        }
        return text
    }

    @Test func aFleetComingBackAfterTwoDaysWithoutDataIsAcceptedWhole() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let back = 2.0 * 24 * 60 + 120  // minutes: two days after the last reading before the gap
        let text = Self.rounds(50, from: 0, count: 25) + Self.rounds(50, from: back, count: 25, low: (7, 12))
        let file = dir.appendingPathComponent("t.jsonl")
        try text.write(to: file, atomically: true, encoding: .utf8)
        var h = try EngineHarness(rules: Self.lowAndSilent, devices: (1...50).map { "d\($0)" })
        try Replay.run(&h.engine, files: [file.path])
        #expect(h.engine.stats.rejected == [:])
        #expect(h.engine.stats.readings == 2 * 25 * 50)
        #expect(h.engine.stats.lastTimestamp == EngineHarness.at(back + 24 * 5))
        let low = h.engine.episodes.filter { $0.rule == "low" }
        #expect(low.map(\.device) == ["d7"])
        #expect(low.map(\.since) == [EngineHarness.at(back + 12 * 5)])
        // The gap itself is evaluated: every device silent from 30 minutes after its last reading until it is back.
        let silent = h.engine.episodes.filter { $0.rule == "silent" }
        #expect(silent.count == 50)
        #expect(silent.allSatisfy { $0.since == EngineHarness.at(24 * 5 + 30) && $0.until == EngineHarness.at(back) })
    }

    @Test func oneClockTwentyHoursAheadMakesNoneOfThreeHundredDevicesLate() throws {
        let devices = (1...300).map { "d\($0)" }
        var h = try EngineHarness(rules: Self.lowAndSilent, devices: devices)
        var results: [RejectReason?] = []
        for round in 0..<36 {
            let m = Double(round * 5)
            for (i, d) in devices.enumerated() {
                results.append(h.send(m + Self.jitter(i), ["battery_pct": 50], device: d))
            }
            if round == 12 { #expect(h.send(m + 20 * 60, ["battery_pct": 10], device: "d300") == nil) }
        }
        #expect(results.allSatisfy { $0 == nil })
        // Lateness is unchanged for a reading that really is late: events after it were evaluated.
        #expect(h.send(100, ["battery_pct": 50], device: "d1") == .late)
        _ = h.finish()
        #expect(h.engine.stats.rejected == [.late: 1])
        #expect(h.engine.stats.readings == 36 * 300 + 1)
        // The clock ahead is held without moving the fleet's time and evaluated at the end of the data.
        #expect(h.engine.episodes.map(\.device) == ["d300"])
        #expect(h.engine.episodes.map(\.since) == [EngineHarness.at(60 + 20 * 60)])
    }

    @Test func aLoneClockMoreThanADayAheadOfTheFleetIsFuture() throws {
        let devices = (1...20).map { "d\($0)" }
        var h = try EngineHarness(rules: Self.low, devices: devices)
        for round in 0..<24 {
            let m = Double(round * 5)
            for d in devices { h.send(m, ["battery_pct": 50], device: d) }
            // Held, not rejected yet: it might have been the first of a fleet coming back after a gap.
            if round == 6 { #expect(h.send(m + 3 * 24 * 60, ["battery_pct": 10], device: "d20") == nil) }
        }
        _ = h.finish()
        #expect(h.engine.stats.rejected == [.future: 1])
        #expect(h.engine.stats.examples.first?.message.contains("ahead of the fleet's time") == true)
        #expect(h.engine.stats.readings == 24 * 20)
        #expect(h.engine.stats.lastTimestamp == EngineHarness.at(23 * 5))
        #expect(h.engine.episodes.isEmpty)
    }

    @Test func aFirstReadingThreeDaysAheadIsFutureAsIfItHadComeLater() throws {
        let devices = (1...20).map { "d\($0)" }
        var h = try EngineHarness(rules: Self.low, devices: devices)
        // The very first reading: no fleet's time yet to compare it with.
        #expect(h.send(3 * 24 * 60, ["battery_pct": 10], device: "d20") == nil)
        for round in 0..<24 {
            for d in devices { h.send(Double(round * 5), ["battery_pct": 50], device: d) }
        }
        _ = h.finish()
        #expect(h.engine.stats.rejected == [.future: 1])
        #expect(h.engine.stats.readings == 24 * 20)
        #expect(h.engine.stats.firstTimestamp == EngineHarness.at(0))
        #expect(h.engine.stats.lastTimestamp == EngineHarness.at(23 * 5))
        #expect(h.engine.episodes.isEmpty)
    }

    @Test func aLoneClockDaysAheadIsRejectedAsTheDataGoesOnInsteadOfPilingUp() throws {
        // A day of data; d12's clock is three days ahead, so the fleet never comes near it.
        let devices = (1...12).map { "d\($0)" }
        var h = try EngineHarness(rules: Self.low, devices: devices)
        var mostHeld = 0
        for round in 0..<288 {
            let m = Double(round * 5)
            for d in devices.dropLast() { h.send(m, ["battery_pct": 50], device: d) }
            #expect(h.send(m + 3 * 24 * 60, ["battery_pct": 10], device: "d12") == nil)
            mostHeld = max(mostHeld, h.engine.heldCount)
        }
        // Held for 256 later readings at most: about 22 of d12's at a time, not all 288.
        #expect(mostHeld <= 256 / 11 + 1)
        #expect((h.engine.stats.rejected[.future] ?? 0) >= 288 - mostHeld)
        _ = h.finish()
        #expect(h.engine.heldCount == 0)
        #expect(h.engine.stats.rejected == [.future: 288])
        #expect(h.engine.stats.readings == 288 * 11)
        #expect(h.engine.stats.examples.allSatisfy { $0.message.contains("ahead of the fleet's time") })
        #expect(h.engine.episodes.isEmpty)
    }

    @Test func aHeldLineRejectedAsFutureIsNotAlsoCountedForItsDroppedValue() throws {
        let devices = (1...20).map { "d\($0)" }
        var h = try EngineHarness(rules: Self.low, devices: devices)
        for round in 0..<24 {
            let m = Double(round * 5)
            for d in devices { h.send(m, ["battery_pct": 50], device: d) }
            // 500 °C is out of range: a value dropped from a line that is itself rejected.
            if round == 6 { h.send(m + 3 * 24 * 60, ["battery_pct": 10, "temperature": 500], device: "d20") }
        }
        _ = h.finish()
        #expect(h.engine.stats.rejected == [.future: 1])
        #expect(h.engine.stats.droppedValues == [:])
        #expect(h.engine.stats.examples.map(\.reason) == [.future])
        #expect(h.engine.stats.readings == 24 * 20)
    }

    @Test func aHeldLineTheFleetReachesCountsItsDroppedValue() throws {
        // Two days without data, then the fleet is back: d1's first line after the gap was held.
        let devices = (1...20).map { "d\($0)" }
        var h = try EngineHarness(rules: Self.low, devices: devices)
        let back = 2.0 * 24 * 60
        for m in [0.0, 5, back, back + 5] {
            for d in devices {
                let metrics: [String: Double] =
                    d == "d1" && m == back ? ["battery_pct": 50, "temperature": 500] : ["battery_pct": 50]
                h.send(m, metrics, device: d)
            }
        }
        _ = h.finish()
        #expect(h.engine.stats.rejected == [:])
        #expect(h.engine.stats.droppedValues == [.outOfRange: 1])
        #expect(h.engine.stats.readings == 4 * 20)
    }

    @Test func threeOfThirtyClocksTenHoursAheadMakeNoneLate() throws {
        // A tenth of the devices ahead is not the fleet: its time follows the other ninety percent.
        let devices = (1...30).map { "d\($0)" }
        var h = try EngineHarness(rules: Self.lowAndSilent, devices: devices)
        for round in 0..<24 {
            let m = Double(round * 5)
            for (i, d) in devices.enumerated() {
                let ahead = i < 3 ? 10.0 * 60 : 0
                #expect(h.send(m + ahead + Self.jitter(i), ["battery_pct": 50], device: d) == nil)
            }
        }
        _ = h.finish()
        #expect(h.engine.stats.rejectedTotal == 0)
    }

    @Test func aDeviceThatFellSilentDoesNotHoldTheFleetsTimeBack() throws {
        // d1 reports once, d3 never; d2 goes on for two hours: both are silent from 00:30.
        var h = try EngineHarness(rules: Self.lowAndSilent, devices: ["d1", "d2", "d3"])
        h.send(0, ["battery_pct": 50], device: "d1")
        for m in stride(from: 0.0, through: 120, by: 5) { h.send(m, ["battery_pct": 50], device: "d2") }
        _ = h.finish()
        #expect(h.engine.stats.rejectedTotal == 0)
        let silent = h.engine.episodes.filter { $0.rule == "silent" }
        #expect(silent.map(\.device).sorted() == ["d1", "d3"])
        #expect(silent.allSatisfy { $0.since == EngineHarness.at(30) && $0.until == nil })
    }
}

/// `serve` judges `future` against the wall clock: after a restart with a journal days old,
/// readings at the current time are accepted; only readings ahead of the clock are refused.
@Suite(.serialized) struct LiveFleetTimeTests {
    static func reading(_ t: Double, _ device: String, _ temp: Double) -> String {
        "{\"ts\":\(Int(t)),\"device\":\"\(device)\",\"temp\":\(temp)}"
    }

    @Test func readingsAtTheWallClockAreAcceptedAfterAThreeDayGapAndOnlyClocksAheadOfItAreFuture() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-gap-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        let now = (Date().timeIntervalSince1970 / 60).rounded(.down) * 60
        let before = now - 3 * 86400
        let first = try ServeProcess(["--rules", rules, "--inventory", inventory, "--state-dir", stateDir])
        let old = [0.0, 300, 600].flatMap { s in ["d1", "d2"].map { Self.reading(before + s, $0, 20) } }
        #expect(try await first.post("/v1/telemetry", old.joined(separator: "\n")).json["accepted"] as? Int == 6)
        #expect(first.stop() == 0)

        let second = try ServeProcess(["--rules", rules, "--inventory", inventory, "--state-dir", stateDir])
        defer { second.stop() }
        #expect(try await second.get("/readyz").json["readings"] as? Int == 6)
        let current = ["d1", "d2"].map { Self.reading(now - 60, $0, 20) } + [Self.reading(now, "d1", -5)]
        let answer = try await second.post("/v1/telemetry", current.joined(separator: "\n")).json
        #expect(answer["accepted"] as? Int == 3)
        #expect(answer["rejected"] as? Int == 0)
        let ahead = try await second.post("/v1/telemetry", Self.reading(now + 2 * 86400, "d2", 20)).json
        #expect(ahead["accepted"] as? Int == 0)
        #expect((ahead["reasons"] as? [String: Any])?["future"] as? Int == 1)
        #expect(try await second.post("/v1/telemetry", Self.reading(now + 60, "d2", 20)).json["accepted"] as? Int == 1)
        // The reading at the current time was evaluated: `cold` fired at it.
        let alerts = try await second.get("/v1/alerts?rule=cold").json["alerts"] as? [[String: Any]] ?? []
        #expect(alerts.count == 1)
        #expect(alerts.first?["device"] as? String == "d1")
    }
}
