import Foundation
import Testing

@testable import FleetRules

/// Hand-made truth and report documents; every expected number is worked out in the comments.
enum ScoreFixture {
    /// A 7-day truth (2026-03-01 to 2026-03-08) with the given sections (JSON arrays).
    static func truth(
        battery: String = "[]", firmware: String = "[]", drift: String = "[]", excursions: String = "[]",
        gateways: String = "[]"
    ) -> String {
        """
        {"format": 1, "seed": 1, "devices": 10, "start": "2026-03-01T00:00:00Z", "end": "2026-03-08T00:00:00Z",
         "interval_seconds": 300, "battery": \(battery), "firmware": \(firmware), "drift": \(drift),
         "excursions": \(excursions), "gateways": \(gateways), "outages": [], "data_faults": {}}
        """
    }

    /// An alert as the report writes it.
    static func alert(
        _ kind: String, _ device: String, since: String, until: String? = nil, site: String = "plant-a",
        zone: String = "assembly", evidence: String = "{}", labels: String = "{}"
    ) -> String {
        """
        {"rule": "r-\(kind)", "kind": "\(kind)", "device": "\(device)", "site": "\(site)", "zone": "\(zone)",
         "severity": "warning", "priority": 50, "since": "\(since)", "until": \(until.map { "\"\($0)\"" } ?? "null"),
         "value": null, "summary": "", "labels": \(labels), "evidence": \(evidence)}
        """
    }

    static func report(alerts: [String] = [], extra: String = "") -> String {
        """
        {"format": 1, "pack": "t", "alerts": [\(alerts.joined(separator: ",\n"))], "maintenance": []\(extra.isEmpty ? "" : ", " + extra)}
        """
    }

    /// Scores with no warm-up unless told (the fixtures' checkpoints start at the first instant).
    static func score(_ truth: String, _ report: String, rule: String? = nil, warmup: Double = 0) throws -> Score {
        let t = try SimulationTruth.parse(Data(truth.utf8), file: "truth.json")
        let r = try ScoredReport.parse(Data(report.utf8), file: "report.json")
        return Scorer.score(truth: t, report: r, options: .init(complianceRule: rule, warmup: warmup))
    }

    static func close(_ a: Double?, _ b: Double) -> Bool { a.map { abs($0 - b) < 1e-9 } ?? false }

    // MARK: battery

    static let batteryTruth = truth(
        battery: """
            [
             {"device": "b1", "shape": "linear", "initial_pct": 80, "crosses_5pct_at": "2026-03-31T00:00:00Z", "replaced_at": null},
             {"device": "b2", "shape": "linear", "initial_pct": 40, "crosses_5pct_at": "2026-03-11T00:00:00Z", "replaced_at": null},
             {"device": "b3", "shape": "linear", "initial_pct": 90, "crosses_5pct_at": null, "replaced_at": null},
             {"device": "b4", "shape": "noisy", "initial_pct": 50, "crosses_5pct_at": "2026-03-15T00:00:00Z", "replaced_at": null},
             {"device": "b5", "shape": "linear", "initial_pct": 70, "crosses_5pct_at": "2026-05-01T00:00:00Z", "replaced_at": null},
             {"device": "b6", "shape": "linear", "initial_pct": 70, "crosses_5pct_at": "2026-04-30T00:00:00Z", "replaced_at": null},
             {"device": "b7", "shape": "replaced", "initial_pct": 20, "crosses_5pct_at": null, "replaced_at": "2026-03-05T00:00:00Z"}
            ]
            """)

    static func forecast(_ device: String, at: String, crossing: String?) -> String {
        """
        {"device": "\(device)", "rule": "battery-depletion", "at": "\(at)", "crossing_at": \(crossing.map { "\"\($0)\"" } ?? "null"), "low": null, "high": null}
        """
    }

    static let batteryReport = report(
        alerts: [
            alert("forecast", "b1", since: "2026-03-01T00:00:00Z"),
            alert("forecast", "b3", since: "2026-03-02T00:00:00Z"),
            alert("forecast", "b5", since: "2026-03-01T00:00:00Z"),
            alert("forecast", "b6", since: "2026-03-01T00:00:00Z"),
            alert("forecast", "b7", since: "2026-03-04T00:00:00Z"),
            alert("forecast", "gw-1", since: "2026-03-02T00:00:00Z"),
            alert("alert", "b2", since: "2026-03-02T00:00:00Z"),
        ],
        extra: """
            "forecasts": [
             \(forecast("b1", at: "2026-03-01T00:00:00Z", crossing: "2026-04-03T00:00:00Z")),
             \(forecast("b2", at: "2026-03-02T12:00:00Z", crossing: "2026-03-01T00:00:00Z")),
             \(forecast("b2", at: "2026-03-03T12:00:00Z", crossing: "2026-03-11T18:00:00Z")),
             \(forecast("b2", at: "2026-03-04T06:00:00Z", crossing: "2026-06-01T00:00:00Z")),
             \(forecast("b2", at: "2026-03-07T00:00:00Z", crossing: "2026-03-10T13:26:24Z")),
             \(forecast("b4", at: "2026-03-07T23:00:00Z", crossing: nil))
            ]
            """)
}

@Suite struct ScorerTests {
    typealias F = ScoreFixture

    @Test func batteryHorizonsUseTheSnapshotInTheDayBeforeTheCheckpoint() throws {
        let b = try #require(try F.score(F.batteryTruth, F.batteryReport).battery.value)
        let byDays = Dictionary(uniqueKeysWithValues: b.horizons.map { ($0.days, $0) })
        #expect(b.horizons.map(\.days) == [30, 14, 7, 3])
        // 30d: only b1 (checkpoint 03-01 00:00 = start, inclusive). Its snapshot at the checkpoint
        // predicts 04-03: 33 days left against 30 true, exactly 10% off → correct.
        let h30 = try #require(byDays[30])
        #expect((h30.eligible, h30.withSnapshot, h30.correct) == (1, 1, 1))
        #expect(h30.share == 1)
        // 14d: only b4 (checkpoint 03-01); it has no snapshot in [02-28, 03-01].
        let h14 = try #require(byDays[14])
        #expect((h14.eligible, h14.withSnapshot, h14.correct) == (1, 0, 0))
        #expect(h14.share == 0)
        // 7d: b2 (checkpoint 03-04) and b4 (checkpoint 03-08 = end, inclusive). b2's latest snapshot
        // at or before 03-04 and within a day is 03-03 12:00 (03-04 06:00 is after, 03-02 12:00 too
        // early): 7.5 days true, predicted 18h later = exactly 10% → correct. b4's snapshot
        // predicts no crossing → wrong.
        let h7 = try #require(byDays[7])
        #expect((h7.eligible, h7.withSnapshot, h7.correct) == (2, 2, 1))
        #expect(h7.share == 0.5)
        // 3d: b2 (checkpoint 03-08 00:00); the snapshot exactly one day before (03-07 00:00) counts:
        // 4 days true, predicted 38,016 s (11%) early → wrong.
        let h3 = try #require(byDays[3])
        #expect((h3.eligible, h3.withSnapshot, h3.correct) == (1, 1, 0))
        #expect(h3.share == 0)
    }

    @Test func theWarmUpLeavesOutCheckpointsBeforeItsEnd() throws {
        // With the default day of warm-up, b1's 30-day checkpoint (03-01 00:00) and b4's 14-day one
        // (03-01) are before 03-02 and not scored; b2's (03-04) and b4's 7-day ones still are.
        let score = try F.score(F.batteryTruth, F.batteryReport, warmup: Scorer.defaultWarmup)
        let b = try #require(score.battery.value)
        #expect(b.warmup == 86400)
        #expect(b.horizons.map(\.eligible) == [0, 0, 2, 1])
        #expect(b.horizons.map(\.beforeWarmup) == [1, 1, 0, 0])
        #expect(score.text().contains("checkpoints from 1d after the start of the data"))
        #expect(score.text().contains("in warm-up"))
    }

    @Test func aReplacedBatterysEarlierForecastsAreScoredAgainstTheCellItReplaced() throws {
        // r1 was replaced on 03-05; the old cell would have reached 5% on 03-06, the new one does on
        // 04-20 (after the data at every horizon). The 3-day checkpoint of the old cell (03-03) is
        // before the replacement: it is scored against 03-06 (predicted 03-06 06:00: 3 days true,
        // 6h off → correct). r2's old cell would have crossed on 03-09: its 3-day checkpoint
        // (03-06) comes after the replacement, when the new cell is in, so it is not eligible; its
        // 7-day one (03-02) is, and has no snapshot.
        let truth = F.truth(
            battery: """
                [
                 {"device": "r1", "shape": "replaced", "initial_pct": 20, "crosses_5pct_at": "2026-04-20T00:00:00Z",
                  "replaced_at": "2026-03-05T00:00:00Z", "replaced_battery_crosses_5pct_at": "2026-03-06T00:00:00Z"},
                 {"device": "r2", "shape": "replaced", "initial_pct": 20, "crosses_5pct_at": "2026-04-20T00:00:00Z",
                  "replaced_at": "2026-03-05T00:00:00Z", "replaced_battery_crosses_5pct_at": "2026-03-09T00:00:00Z"}
                ]
                """)
        let report = F.report(
            extra: """
                "forecasts": [\(F.forecast("r1", at: "2026-03-03T00:00:00Z", crossing: "2026-03-06T06:00:00Z")),
                 \(F.forecast("r2", at: "2026-03-04T00:00:00Z", crossing: "2026-03-09T00:00:00Z"))]
                """)
        let b = try #require(try F.score(truth, report).battery.value)
        let counts = b.horizons.map { [$0.eligible, $0.withSnapshot, $0.correct] }
        #expect(counts == [[0, 0, 0], [0, 0, 0], [1, 0, 0], [1, 1, 1]])
    }

    @Test func batteryToleranceBoundary() throws {
        // One device crossing 2026-03-11, checkpoint 7d = 03-04, snapshot at the checkpoint: 7 days
        // (604,800 s) true remaining, so 60,480 s is exactly 10% and 66,528 s is 11%.
        let truth = F.truth(
            battery: """
                [{"device": "x", "shape": "linear", "initial_pct": 30, "crosses_5pct_at": "2026-03-11T00:00:00Z", "replaced_at": null}]
                """)
        func correct(_ crossing: String) throws -> Int {
            let r = F.report(
                extra: "\"forecasts\": [\(F.forecast("x", at: "2026-03-04T00:00:00Z", crossing: crossing))]")
            let b = try #require(try F.score(truth, r).battery.value)
            return try #require(b.horizons.first { $0.days == 7 }).correct
        }
        #expect(try correct("2026-03-11T16:48:00Z") == 1)  // +60,480 s: 10% late
        #expect(try correct("2026-03-10T07:12:00Z") == 1)  // −60,480 s: 10% early
        #expect(try correct("2026-03-11T18:28:48Z") == 0)  // +66,528 s: 11% late
        #expect(try correct("2026-03-10T05:31:12Z") == 0)  // −66,528 s: 11% early
    }

    @Test func batteryFalseAlarms() throws {
        let b = try #require(try F.score(F.batteryTruth, F.batteryReport).battery.value)
        // Alerted: b1, b3, b5, b6, b7, gw-1 (the `alert` on b2 is not a forecast).
        // b1 crosses 30 days after: fine. b3 never crosses: false. b5 crosses 61 days after: false.
        // b6 exactly 60 days after: fine. b7 was alerted before its replacement: fine.
        // gw-1 has no battery in the truth: false.
        #expect(b.alertedDevices == 6)
        #expect(b.falseAlarms == ["b3", "b5", "gw-1"])
        #expect(b.falseAlarmRate == 0.5)
    }

    @Test func driftDetectionFalsePositivesAndDelay() throws {
        let truth = F.truth(
            firmware: """
                [{"device": "d1", "type": "temp-sensor", "state": "compliant", "version": "2.4.3"},
                 {"device": "d2", "type": "temp-sensor", "state": "compliant", "version": "2.4.3"},
                 {"device": "d3", "type": "tracker", "state": "compliant", "version": "3.1.0"},
                 {"device": "d4", "type": "temp-sensor", "state": "compliant", "version": "2.4.3"},
                 {"device": "d5", "type": "temp-sensor", "state": "compliant", "version": "2.4.3"},
                 {"device": "d6", "type": "vibration-sensor", "state": "compliant", "version": "1.8.0"}]
                """,
            drift: """
                [{"device": "d1", "metric": "temperature", "kind": "ramp", "onset": "2026-03-03T00:00:00Z", "magnitude": 1.5},
                 {"device": "d2", "metric": "temperature", "kind": "step", "onset": "2026-03-04T00:00:00Z", "magnitude": 3},
                 {"device": "d3", "metric": "temperature", "kind": "ramp", "onset": "2026-03-05T00:00:00Z", "magnitude": 0.8}]
                """)
        let report = F.report(alerts: [
            F.alert("drift", "d1", since: "2026-03-03T06:00:00Z"),  // 6h after the onset
            F.alert("drift", "d2", since: "2026-03-03T12:00:00Z"),  // before the onset: early
            F.alert("drift", "d2", since: "2026-03-04T10:00:00Z"),  // 10h after the onset
            F.alert("drift", "d4", since: "2026-03-02T00:00:00Z"),  // not drifting
            F.alert("drift", "d7", since: "2026-03-02T00:00:00Z"),  // unknown to the truth
            F.alert("limit", "d5", since: "2026-03-02T00:00:00Z"),  // not a drift alert
        ])
        let d = try #require(try F.score(truth, report).drift.value)
        #expect((d.drifting, d.detected) == (3, 2))
        #expect(F.close(d.detectionRate, 2.0 / 3))
        // Non-drifting: d4, d5, d6 and d7; false alarms d4 and d7; early d2: 3 of 4 + 3 devices.
        #expect((d.nonDrifting, d.falseAlarms, d.earlyAlarms) == (4, 2, 1))
        #expect(F.close(d.falsePositiveRate, 3.0 / 7))
        #expect(d.medianDelayHours == 8)  // median of 6 and 10
    }

    /// With a tolerance, delays also count from when the true offset first passes it: the onset
    /// of a step, the point on a ramp's line (to `full_at`, or to the end of the data).
    @Test func driftDelaysFromTheToleranceCrossing() throws {
        let truth = F.truth(
            drift: """
                [{"device": "r1", "metric": "temperature", "kind": "ramp", "onset": "2026-03-02T00:00:00Z", "magnitude": 1,
                  "full_at": "2026-03-04T00:00:00Z"},
                 {"device": "r2", "metric": "temperature", "kind": "ramp", "onset": "2026-03-05T00:00:00Z", "magnitude": -2},
                 {"device": "s1", "metric": "temperature", "kind": "step", "onset": "2026-03-04T00:00:00Z", "magnitude": 0.8},
                 {"device": "s2", "metric": "temperature", "kind": "step", "onset": "2026-03-04T00:00:00Z", "magnitude": 0.4},
                 {"device": "r3", "metric": "temperature", "kind": "ramp", "onset": "2026-03-06T00:00:00Z", "magnitude": 1,
                  "full_at": "2026-03-12T00:00:00Z"},
                 {"device": "r4", "metric": "temperature", "kind": "ramp", "onset": "2026-03-02T00:00:00Z", "magnitude": 1.5,
                  "full_at": "2026-03-02T12:00:00Z"}]
                """)
        let report = F.report(alerts: [
            F.alert("drift", "r1", since: "2026-03-03T06:00:00Z"),  // crosses 0.5 half-way, 03-03T00: 6 h
            F.alert("drift", "r2", since: "2026-03-05T12:00:00Z"),  // a quarter of 3 days, 03-05T18: −6 h
            F.alert("drift", "s1", since: "2026-03-04T03:00:00Z"),  // a step crosses at its onset: 3 h
            F.alert("drift", "s2", since: "2026-03-04T03:00:00Z"),  // 0.4 never passes 0.5
            F.alert("drift", "r3", since: "2026-03-07T00:00:00Z"),  // would cross on 03-09, after the end
        ])
        let t = try SimulationTruth.parse(Data(truth.utf8), file: "truth.json")
        let r = try ScoredReport.parse(Data(report.utf8), file: "report.json")
        let plain = try #require(Scorer.score(truth: t, report: r).drift.value)
        #expect(plain.fromCrossing == nil)
        let scored = Scorer.score(truth: t, report: r, options: .init(warmup: 0, driftTolerance: 0.5))
        let c = try #require(scored.drift.value?.fromCrossing)
        #expect(c.tolerance == 0.5 && c.neverCrossed == 2)
        // r1, r2, s1 and r4 (undetected) cross: delays −6, 3 and 6 h.
        #expect((c.all.crossed, c.all.detected, c.all.within12h, c.all.within24h) == (4, 3, 3, 3))
        #expect(c.all.medianDelayHours == 3 && c.all.p90DelayHours == 6 && c.all.maxDelayHours == 6)
        #expect(c.byKind.map(\.kind) == ["ramp", "step"])
        let ramp = c.byKind[0]
        #expect((ramp.crossed, ramp.detected) == (3, 2))
        #expect(ramp.medianDelayHours == 0)
        #expect(c.byKind[1].crossed == 1 && c.byKind[1].medianDelayHours == 3)
        let json = scored.json().serialized()
        #expect(json.contains(#""from_crossing":{"tolerance":0.5,"never_crossed":2"#))
        #expect(scored.text().contains("from the offset passing 0.5 (2 drifts never do)"))
    }

    @Test func firmwarePrecisionAndRecallPerState() throws {
        let truth = F.truth(
            firmware: """
                [{"device": "f1", "type": "temp-sensor", "state": "compliant", "version": "2.4.3"},
                 {"device": "f2", "type": "temp-sensor", "state": "compliant", "version": "2.4.3"},
                 {"device": "f3", "type": "temp-sensor", "state": "outdated", "version": "2.3.0"},
                 {"device": "f4", "type": "tracker", "state": "outdated", "version": "3.0.0"},
                 {"device": "f5", "type": "temp-sensor", "state": "denied", "version": "2.4.2"},
                 {"device": "f6", "type": "tracker", "state": "stale", "version": "3.1.0"}]
                """)
        let report = F.report(
            extra: """
                "compliance": {
                  "a-rule": {"counts": {}},
                  "b-rule": {"counts": {}, "devices": {"f1": "compliant", "f2": "outdated", "f3": "outdated", "f4": "compliant",
                                                       "f5": "denied", "x9": "stale"}},
                  "c-rule": {"counts": {}, "devices": {"f1": "compliant", "f2": "compliant", "f3": "outdated", "f4": "outdated",
                                                       "f5": "denied", "f6": "stale"}}
                }
                """)
        // The first rule in name order with a devices map: b-rule. f6 is missing, x9 is not in the truth.
        let f = try #require(try F.score(truth, report).firmware.value)
        #expect(f.rule == "b-rule")
        #expect((f.devices, f.missing, f.correct) == (6, 1, 3))
        #expect(f.accuracy == 0.5)
        let s = Dictionary(uniqueKeysWithValues: f.states.map { ($0.state, $0) })
        #expect(f.states.map(\.state) == ComplianceState.allCases.map(\.rawValue))
        // compliant: truth f1 f2, report f1 f4 → 1 correct of 2 and 2.
        #expect(s["compliant"]?.precision == 0.5 && s["compliant"]?.recall == 0.5)
        // outdated: truth f3 f4, report f2 f3 → 1 correct of 2 and 2.
        #expect(s["outdated"]?.precision == 0.5 && s["outdated"]?.recall == 0.5)
        #expect(s["denied"]?.precision == 1 && s["denied"]?.recall == 1)
        // stale: f6 is missing from the report and x9 is ignored: no prediction, recall 0.
        #expect(s["stale"]?.predicted == 0 && s["stale"]?.precision == nil && s["stale"]?.recall == 0)
        #expect(s["unknown"]?.truth == 0 && s["unknown"]?.precision == nil && s["unknown"]?.recall == nil)

        let c = try #require(try F.score(truth, report, rule: "c-rule").firmware.value)
        #expect(c.rule == "c-rule" && c.accuracy == 1 && c.missing == 0)
        #expect(try F.score(truth, report, rule: "a-rule").firmware.value == nil)
    }

    @Test func gatewayDetectionAndBalanceAfterTheMoves() throws {
        let truth = F.truth(
            gateways: """
                [{"site": "plant-a", "imbalanced": true, "loads": {"plant-a-gw1": 5, "plant-a-gw2": 2, "plant-a-gw3": 2}},
                 {"site": "plant-b", "imbalanced": false, "loads": {"plant-b-gw1": 13, "plant-b-gw2": 7, "plant-b-gw3": 10}},
                 {"site": "plant-c", "imbalanced": true, "loads": {"plant-c-gw1": 1, "plant-c-gw2": 3}}]
                """)
        let report = F.report(
            alerts: [
                F.alert(
                    "balance", "plant-a-gw1", since: "2026-03-01T01:00:00Z", site: "elsewhere",
                    evidence: #"{"site": "plant-a"}"#),
                F.alert("balance", "plant-b-gw1", since: "2026-03-01T01:00:00Z", site: "plant-b"),
            ],
            extra: """
                "rebalancing": [
                  {"site": "plant-a", "device": "d1", "from": "plant-a-gw1", "to": "plant-a-gw2"},
                  {"site": "plant-a", "device": "d2", "from": "plant-a-gw1", "to": "plant-a-gw3"},
                  {"site": "plant-a", "device": "d3", "from": "plant-a-gw1", "to": "plant-a-gw9"}
                ]
                """)
        let g = try #require(try F.score(truth, report).gateway.value)
        // Flagged plant-a (evidence site) and plant-b; imbalanced plant-a and plant-c.
        #expect((g.imbalanced, g.flagged, g.found) == (2, 2, 1))
        #expect(g.precision == 0.5 && g.recall == 0.5)
        // Two moves apply; the move to an unknown gateway is skipped.
        #expect((g.moves, g.skippedMoves) == (2, 1))
        let s = Dictionary(uniqueKeysWithValues: g.sites.map { ($0.site, $0) })
        // plant-a: 5/2/2, mean 3 → 2/3 off; after 3/3/3 → 0.
        #expect(F.close(s["plant-a"]?.before, 2.0 / 3) && s["plant-a"]?.after == 0 && s["plant-a"]?.moves == 2)
        #expect(s["plant-a"]?.withinAfter == true)
        // plant-b: 13/7/10, mean 10 → exactly 30%: within.
        #expect(F.close(s["plant-b"]?.before, 0.3) && s["plant-b"]?.withinAfter == true)
        // plant-c: 1/3, mean 2 → 50% before and after (no moves).
        #expect(s["plant-c"]?.before == 0.5 && s["plant-c"]?.after == 0.5 && s["plant-c"]?.withinAfter == false)
        #expect(g.allWithinAfter == false)
    }

    @Test func environmentOverlapIncludesTouchingIntervals() throws {
        let truth = F.truth(
            excursions: """
                [{"site": "plant-a", "zone": "assembly", "metric": "humidity", "start": "2026-03-02T10:00:00Z", "end": "2026-03-02T14:00:00Z", "level": 85},
                 {"site": "plant-a", "zone": "packing", "metric": "humidity", "start": "2026-03-03T10:00:00Z", "end": "2026-03-03T12:00:00Z", "level": 80},
                 {"site": "plant-b", "zone": "cold-store-1", "metric": "temperature", "start": "2026-03-04T10:00:00Z", "end": "2026-03-04T12:00:00Z", "level": -8},
                 {"site": "plant-b", "zone": "cold-store-1", "metric": "temperature", "start": "2026-03-05T10:00:00Z", "end": "2026-03-05T12:00:00Z", "level": -8}]
                """)
        let report = F.report(alerts: [
            // Starts exactly when the first excursion ends: found.
            F.alert("limit", "e1", since: "2026-03-02T14:00:00Z", until: "2026-03-02T15:00:00Z"),
            // Ends exactly when the second starts: found.
            F.alert("alert", "e2", since: "2026-03-03T09:00:00Z", until: "2026-03-03T10:00:00Z", zone: "packing"),
            // Third: one second late, the wrong kind, and the wrong zone: missed.
            F.alert("limit", "e3", since: "2026-03-04T12:00:01Z", site: "plant-b", zone: "cold-store-1"),
            F.alert("drift", "e4", since: "2026-03-04T09:00:00Z", site: "plant-b", zone: "cold-store-1"),
            F.alert(
                "limit", "e5", since: "2026-03-04T09:00:00Z", until: "2026-03-04T13:00:00Z", site: "plant-b",
                zone: "warehouse"),
            // Fourth: still firing at the end of the data: found.
            F.alert(
                "alert", "e6", since: "2026-03-05T00:00:00Z", until: "2026-03-05T01:00:00Z", site: "plant-b",
                zone: "cold-store-1"),
            F.alert("alert", "e7", since: "2026-03-05T11:00:00Z", site: "plant-b", zone: "cold-store-1"),
        ])
        let e = try #require(try F.score(truth, report).environment.value)
        #expect((e.found, e.total) == (3, 4))
        #expect(e.share == 0.75)
        #expect(e.metrics.map(\.metric) == ["humidity", "temperature"])
        #expect(e.metrics.map(\.found) == [2, 1] && e.metrics.map(\.total) == [2, 2])
        #expect(e.missed.map(\.start) == [Timestamp.parse("2026-03-04T10:00:00Z")].compactMap { $0 })
    }

    @Test func absentSectionsAreNotInReportRatherThanZero() throws {
        let score = try F.score(F.batteryTruth, F.report())
        #expect(score.battery.value == nil)
        #expect(score.drift.value == nil)
        #expect(score.firmware.value == nil)
        #expect(score.gateway.value == nil)
        #expect(score.environment.value == nil)
        let text = score.text()
        for name in ["battery", "drift", "firmware", "gateway", "environment"] {
            #expect(text.contains("\(name): not in report"), "\(name)")
        }
        let json = score.json().serialized()
        #expect(json.contains(#""battery":{"status":"not in report","reason":"no `forecasts` in the report"}"#))
        // An empty rebalancing list and no balance alert is still not a gateway score.
        let empty = try F.score(F.batteryTruth, F.report(extra: #""rebalancing": [], "forecasts": []"#))
        #expect(empty.gateway.value == nil)
        #expect(empty.battery.value?.horizons.first?.eligible == 1)
    }

    @Test func evaluatedAnalysesWithoutFindingsScoreAsSuch() throws {
        // The report says drift and balance rules ran: no alert is then a miss, not an absence.
        let score = try F.score(
            F.batteryTruth, F.report(extra: #""evaluated": ["alert", "balance", "drift", "limit"]"#))
        #expect(score.drift.value != nil)
        #expect(score.gateway.value != nil)
        #expect(score.environment.value != nil)
        #expect(score.battery.value == nil)
    }

    @Test func malformedInputNamesTheFileAndField() {
        func message(_ body: () throws -> Void) -> String {
            do {
                try body()
                return ""
            } catch {
                return "\(error)"
            }
        }
        let notJSON = message { _ = try ScoredReport.parse(Data("{\"alerts\": [".utf8), file: "out/report.json") }
        #expect(notJSON.hasPrefix("out/report.json: not valid JSON"), "\(notJSON)")
        let array = message { _ = try SimulationTruth.parse(Data("[]".utf8), file: "truth.json") }
        #expect(array == "truth.json: expected a JSON object at the top level, found an array")
        let noStart = message {
            _ = try SimulationTruth.parse(
                Data(F.truth().replacingOccurrences(of: "\"start\"", with: "\"begin\"").utf8), file: "truth.json")
        }
        #expect(noStart == "truth.json: start: missing field")
        let badCrossing = message {
            let t = F.truth(battery: #"[{"device": "b", "crosses_5pct_at": 12}]"#)
            _ = try SimulationTruth.parse(Data(t.utf8), file: "truth.json")
        }
        #expect(
            badCrossing == "truth.json: battery[0].crosses_5pct_at: expected an RFC 3339 timestamp or null, found 12")
        let badLoad = message {
            let t = F.truth(gateways: #"[{"site": "s", "imbalanced": "yes", "loads": {}}]"#)
            _ = try SimulationTruth.parse(Data(t.utf8), file: "truth.json")
        }
        #expect(badLoad == #"truth.json: gateways[0].imbalanced: expected true or false, found "yes""#)
        let noSince = message {
            _ = try ScoredReport.parse(
                Data(#"{"alerts": [{"kind": "drift", "device": "d"}]}"#.utf8), file: "report.json")
        }
        #expect(noSince == "report.json: alerts[0].since: missing field")
        let noAlerts = message { _ = try ScoredReport.parse(Data("{}".utf8), file: "report.json") }
        #expect(noAlerts == "report.json: alerts: missing field")
        let missingFile = message { _ = try SimulationTruth.load(path: "/nonexistent/truth.json") }
        #expect(missingFile.hasPrefix("/nonexistent/truth.json: cannot read the file"))
    }
}

@Suite(.serialized) struct ScoreCommandTests {
    typealias F = ScoreFixture

    static func files() throws -> (truth: String, report: String) {
        (try CLI.temporaryFile("truth.json", F.batteryTruth), try CLI.temporaryFile("report.json", F.batteryReport))
    }

    @Test func textOutput() throws {
        let (truth, report) = try Self.files()
        let r = try CLI.run(["score", "--truth", truth, "--report", report, "--warmup", "0"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("battery\n"))
        #expect(r.stdout.contains("  7d              2         2           1   50.0%\n"), "\(r.stdout)")
        #expect(r.stdout.contains("  false alarms: 3 of 6 (50.0%) alerted devices (b3, b5, gw-1)\n"))
        #expect(r.stdout.contains("drift: not in report (no alerts of kind `drift` in the report)\n"))
        #expect(r.stdout.contains("environment\n  excursions found: 0 of 0 (-)\n"))
    }

    @Test func jsonOutput() throws {
        let (truth, report) = try Self.files()
        let r = try CLI.run(["score", "--truth", truth, "--report", report, "--format", "json", "--warmup", "0"])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let battery = try #require(doc["battery"] as? [String: Any])
        #expect(battery["status"] as? String == "scored")
        let horizons = try #require(battery["horizons"] as? [[String: Any]])
        #expect(horizons.map { $0["days"] as? Int } == [30, 14, 7, 3])
        #expect(horizons.map { $0["correct"] as? Int } == [1, 0, 1, 0])
        #expect((doc["firmware"] as? [String: Any])?["status"] as? String == "not in report")
        // Keys in a stable order.
        #expect(r.stdout.hasPrefix("{\n  \"format\": 1,\n  \"battery\": {\n    \"status\": \"scored\""))
    }

    @Test func missingFilesAreUsageErrors() throws {
        let (truth, _) = try Self.files()
        let r = try CLI.run(["score", "--truth", truth, "--report", "/nonexistent/report.json"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("/nonexistent/report.json: no such report file"))
        let noFlag = try CLI.run(["score", "--truth", truth])
        #expect(noFlag.status == 2)
        let (t, rep) = try Self.files()
        let unknownRule = try CLI.run(["score", "--truth", t, "--report", rep, "--rule", "nope"])
        #expect(unknownRule.status == 2)
        #expect(unknownRule.stderr.contains("--rule nope: no such compliance rule"))
        let badWarmup = try CLI.run(["score", "--truth", t, "--report", rep, "--warmup", "a day"])
        #expect(badWarmup.status == 2)
        #expect(badWarmup.stderr.contains("--warmup a day: not a duration"))
        let hugeWarmup = try CLI.run(["score", "--truth", t, "--report", rep, "--warmup", "99999999999999999999999d"])
        #expect(hugeWarmup.status == 2)
        #expect(DurationText.format(.infinity) == "∞" && DurationText.format(1e300) == "∞")
        // The default day of warm-up is said in the text.
        let defaults = try CLI.run(["score", "--truth", t, "--report", rep])
        #expect(defaults.stdout.contains("checkpoints from 1d after the start of the data (--warmup)"))
    }

    @Test func malformedFilesExitWithOne() throws {
        let (truth, _) = try Self.files()
        let bad = try CLI.temporaryFile("report.json", "{\"alerts\": [}")
        let r = try CLI.run(["score", "--truth", truth, "--report", bad])
        #expect(r.status == 1)
        #expect(r.stderr.contains("error: \(bad): not valid JSON"), "\(r.stderr)")
        let badTruth = try CLI.temporaryFile(
            "truth.json", F.truth().replacingOccurrences(of: "\"format\": 1", with: "\"format\": 2"))
        let (_, report) = try Self.files()
        let t = try CLI.run(["score", "--truth", badTruth, "--report", report])
        #expect(t.status == 1)
        #expect(t.stderr.contains("\(badTruth): format: unsupported truth format 2, expected 1"), "\(t.stderr)")
    }
}
