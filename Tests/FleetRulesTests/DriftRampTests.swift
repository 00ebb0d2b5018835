import Foundation
import Testing

@testable import FleetRules

/// The ramp-onset test of drift rules (`trend`, a broken-line likelihood ratio) on known series.
@Suite struct DriftRampTests {
    /// Deterministic standard normal noise (an LCG and Box–Muller), so the tests are reproducible.
    struct Noise {
        var state: UInt64
        init(seed: UInt64) { state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
        mutating func uniform() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Double(state >> 11) + 0.5) / Double(UInt64(1) << 53)
        }
        mutating func normal() -> Double {
            (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())
        }
    }

    /// The statistic straight from its definition, O(W²): the history is replayed with the same
    /// forgetting weights, every candidate onset is summed afresh.
    static func direct(
        history: [Double], window: [(bucket: Double, r: Double)], now: Double, sigma: Double, level: Double,
        minSpan: Int
    ) -> (stat: Double, onset: Double) {
        let forget = 1 - 1 / DriftRamp.historyBuckets
        var hs = 0.0
        var hc = 0.0
        for r in history {
            hs = hs * forget + r
            hc = hc * forget + 1
        }
        var best = 0.0
        var onset = Double.nan
        for (j, p) in window.enumerated() where now - p.bucket >= Double(minSpan) {
            let m = hc + Double(j + 1)
            guard Double(history.count + j + 1) >= DriftRamp.minBaseline, j + 1 < window.count else { continue }
            let b = (hs + window[...j].reduce(0) { $0 + $1.r }) / m
            var num = 0.0
            var skk = 0.0
            var sk = 0.0
            for q in window[(j + 1)...] {
                let k = q.bucket - p.bucket
                num += k * (q.r - b)
                skk += k * k
                sk += k
            }
            let stat = num / (sigma * (skk + sk * sk / m).squareRoot())
            let a = num / skk
            let off = a * (now - p.bucket)
            let eligible = abs(off) > level && abs(b + off) > level && (b + off > 0) == (a > 0)
            if eligible, abs(stat) > abs(best) {
                best = stat
                onset = p.bucket
            }
        }
        return (best, onset)
    }

    static func forgettingMean(_ values: [Double]) -> (mean: Double, weight: Double) {
        let forget = 1 - 1 / DriftRamp.historyBuckets
        var sum = 0.0
        var weight = 0.0
        for v in values {
            sum = sum * forget + v
            weight = weight * forget + 1
        }
        return (weight > 0 ? sum / weight : 0, weight)
    }

    @Test func prefixSumsAgreeWithTheDefinition() {
        // Noise, then a ramp, with a gap of 7 buckets: at every bucket the incremental statistic
        // equals the one computed from its definition.
        var noise = Noise(seed: 3)
        var ramp = DriftRamp(window: 24, level: 0.1, minSpan: 4, sigma: 0.05)
        var seen: [(bucket: Double, r: Double)] = []
        var compared = 0
        for i in 0..<160 where !(90..<97).contains(i) {
            let r = 0.05 * noise.normal() + (i >= 110 ? 0.02 * Double(i - 110) : 0)
            ramp.update(r, bucket: Double(i))
            // Residuals enter the window clipped to the history mean ± 4σ (with σ known here).
            let evicted = max(0, seen.count + 1 - 24)
            let past = Self.forgettingMean(seen.prefix(evicted).map(\.r))
            let x = Double(evicted) >= DriftRamp.minBaseline ? max(past.mean - 0.2, min(past.mean + 0.2, r)) : r
            seen.append((Double(i), x))
            let window = Array(seen.suffix(24))
            let history = seen.dropLast(window.count).map(\.r)
            let expected = Self.direct(
                history: history, window: window, now: Double(i), sigma: 0.05, level: 0.1, minSpan: 4)
            #expect(abs(ramp.statistic - expected.stat) < 1e-9 * max(1, abs(expected.stat)), "bucket \(i)")
            #expect(ramp.onsetBucket.isNaN == expected.onset.isNaN)
            if expected.onset.isFinite { #expect(ramp.onsetBucket == expected.onset) }
            #expect(ramp.alarm == (abs(expected.stat) > DriftRamp.defaultBound))
            if expected.onset.isFinite { compared += 1 }
        }
        #expect(compared > 20)
    }

    @Test func aRampOfKnownSlopeAndOnset() throws {
        // σ = 0.05 per bucket (the simulator's hourly temperature residual), a ramp of 0.02 per
        // bucket (3 °C over 6 days) from bucket 200, over 20 noise seeds: the noise scale is
        // estimated from the device's own residuals.
        var delays: [Int] = []
        for seed in 1...20 {
            var noise = Noise(seed: UInt64(seed))
            var ramp = DriftRamp(window: 36, level: 0.1)
            var alarmAt: Int?
            for i in 0..<300 {
                let r = 0.05 * noise.normal() + (i > 200 ? 0.02 * Double(i - 200) : 0)
                ramp.update(r, bucket: Double(i))
                if ramp.alarm {
                    alarmAt = i
                    break
                }
            }
            let at = try #require(alarmAt, "seed \(seed)")
            delays.append(at - 200)
            // The onset estimate is near the true bend, the slope near 0.02.
            #expect(abs(ramp.onsetBucket - 200) <= 5, "seed \(seed): onset \(ramp.onsetBucket)")
            #expect(abs(ramp.slope - 0.02) < 0.012, "seed \(seed): slope \(ramp.slope)")
            #expect(ramp.statistic > DriftRamp.defaultBound && ramp.offset > 0.1)
            #expect(abs(ramp.sigma - 0.05) < 0.012)
        }
        delays.sort()
        // The ideal (onset known) needs a·√(n³/3)/σ ≥ 5, n ≈ 8 buckets; the test waits for at
        // least `minSpan` (12) buckets after a candidate onset, and the onset is unknown.
        #expect(delays[0] >= DriftRamp.defaultMinSpan - 5)
        #expect(delays[delays.count / 2] <= 14, "delays \(delays)")
        #expect(delays.last ?? 99 <= 18, "delays \(delays)")
        // Downwards the same.
        var noise = Noise(seed: 99)
        var down = DriftRamp(window: 36, level: 0.1)
        var downAt: Int?
        for i in 0..<300 where downAt == nil {
            down.update(0.05 * noise.normal() - (i > 200 ? 0.02 * Double(i - 200) : 0), bucket: Double(i))
            if down.alarm { downAt = i }
        }
        #expect(try #require(downAt) - 200 <= 18)
        #expect(down.statistic < -DriftRamp.defaultBound && down.slope < 0 && down.offset < -0.1)
    }

    @Test func pureNoiseDoesNotAlarm() {
        // 50 devices × 2,000 buckets of white noise (100,000 tests), some with gaps: no alarm.
        var alarms = 0
        var largest = 0.0
        for seed in 1...50 {
            var noise = Noise(seed: UInt64(1000 + seed))
            var ramp = DriftRamp(window: 36, level: 0.1)
            for i in 0..<2000 {
                let r = 0.05 * noise.normal()
                // Every fifth device has a 20-bucket outage every 300 buckets.
                if seed % 5 == 0, i % 300 < 20 { continue }
                ramp.update(r, bucket: Double(i))
                if ramp.alarm { alarms += 1 }
                largest = max(largest, abs(ramp.statistic))
            }
        }
        #expect(alarms == 0, "largest statistic \(largest)")
        #expect(largest > 1)  // the statistic is computed at all
    }

    @Test func aConstantOffsetIsNotARamp() {
        // A device 0.3 off its reference from the start (installation bias): the baseline
        // absorbs it; no ramp alarm however long it runs (the offset is CUSUM's business).
        var noise = Noise(seed: 5)
        var flat = DriftRamp(window: 36, level: 0.1)
        var alarms = 0
        for i in 0..<1000 {
            flat.update(0.3 + 0.05 * noise.normal(), bucket: Double(i))
            if flat.alarm { alarms += 1 }
        }
        #expect(alarms == 0)
        #expect(abs(flat.baseline - 0.3) < 0.05 || flat.onsetBucket.isNaN)
    }

    @Test func aDeviceMovingBackTowardsItsReferenceIsNotDrifting() {
        // 0.5 off for a long time, then ramping back to 0.2: slope down, still above the level on
        // the other side, so not eligible.
        var noise = Noise(seed: 8)
        var back = DriftRamp(window: 36, level: 0.1)
        var alarms = 0
        for i in 0..<200 {
            let r = (i < 100 ? 0.5 : max(0.2, 0.5 - 0.02 * Double(i - 100))) + 0.05 * noise.normal()
            back.update(r, bucket: Double(i))
            if back.alarm { alarms += 1 }
        }
        #expect(alarms == 0)
    }

    @Test func needsEnoughBucketsAfterTheOnsetAndResetsOnRecalibration() {
        // A jump at the very last bucket is at most one bucket after any onset: below minSpan.
        var noise = Noise(seed: 4)
        var jump = DriftRamp(window: 36, level: 0.1, sigma: 0.05)
        for i in 0..<100 { jump.update(0.05 * noise.normal(), bucket: Double(i)) }
        jump.update(1.2, bucket: 100)
        #expect(!jump.alarm)
        // Reset forgets the window and the baseline; a known σ stays.
        jump.reset()
        #expect(jump.filled == 0 && !jump.alarm && jump.sigma == 0.05)
        // Out-of-order or non-finite input is ignored.
        jump.update(0.1, bucket: 5)
        jump.update(.nan, bucket: 6)
        jump.update(0.1, bucket: 4)
        #expect(jump.filled == 1)
    }

    /// The point of the test: on a noisy slow ramp it alarms well before CUSUM, which only starts
    /// to accumulate once the ramp has left the tolerance.
    @Test func catchesANoisyRampBeforeCUSUM() throws {
        // 100 quiet buckets, then a ramp of 0.01 per bucket (1.5 °C over 6 days); noise σ 0.05.
        var noise = Noise(seed: 21)
        var cusum = DriftDetector(method: .cusum, tolerance: 0.2, threshold: 1)
        var ramp = DriftRamp(window: 36, level: 0.1)
        var cusumAt: Int?
        var rampAt: Int?
        var onset = Double.nan
        for i in 0..<400 {
            let r = (i > 100 ? 0.01 * Double(i - 100) : 0) + 0.05 * noise.normal()
            cusum.update(r, bucketStart: Double(i) * 3600, clip: 1.2)
            ramp.update(max(-1.2, min(1.2, r)), bucket: Double(i))
            if cusumAt == nil, cusum.alarm { cusumAt = i }
            if rampAt == nil, ramp.alarm {
                rampAt = i
                onset = ramp.onsetBucket
            }
        }
        let c = try #require(cusumAt)
        let t = try #require(rampAt)
        #expect(t > 100 + DriftRamp.defaultMinSpan)
        #expect(t <= 100 + 24)
        #expect(t < c - 15)
        #expect(abs(onset - 100) <= 6)
    }
}

@Suite struct DriftTrendPlanTests {
    static func policy(trend: String?, bucket: String = "1h") -> String {
        """
        fleetrules: 1
        pack: trend-plan
        metrics:
          temperature: { unit: celsius, range: [-40, 125], interval: 5m }
        rules:
          - drift: temperature-drift
            metric: temperature
            tolerance: 0.2
            threshold: 1
            bucket: \(bucket)
        \(trend.map { "    trend: \($0)" } ?? "")
        """
    }

    static func compiled(trend: String?, bucket: String = "1h") throws -> (RuleOperator, DriftRule) {
        let op = try #require(try Policy.parse(policy(trend: trend, bucket: bucket)).compile().operators.first)
        guard case .drift(let rule) = op.rule.body else { throw CompileFailure.notADriftRule }
        return (op, rule)
    }

    enum CompileFailure: Error { case notADriftRule }

    @Test func planShowsTheRampTestAndItsState() throws {
        let (with, _) = try Self.compiled(trend: "36h")
        let (without, _) = try Self.compiled(trend: "off")
        #expect(
            with.steps.contains {
                $0.contains("ramp-onset test") && $0.contains("last 36 buckets (1d12h)") && $0.contains("beyond 0.1")
            })
        #expect(!without.steps.contains { $0.contains("broken-line") })
        // The rings of 36 buckets and residuals are in the state estimate.
        #expect(with.stateBytesPerDevice >= without.stateBytesPerDevice + 2 * 36 * 8)
    }

    @Test func aRuleWithoutTrendRunsTheRampTestOverTwentyFourBuckets() throws {
        let (op, rule) = try Self.compiled(trend: nil)
        #expect(rule.trend == 24.0 * 3600)
        #expect(rule.trendIsDefault)
        #expect(
            op.steps.contains {
                $0.contains("ramp-onset test") && $0.contains("last 24 buckets (1d, the default window)")
            })
        #expect(op.steps.contains { $0.contains("back within 0.05") })
        // The default follows the bucket: 24 buckets of 2 hours.
        let (longer, slower) = try Self.compiled(trend: nil, bucket: "2h")
        #expect(slower.trend == 48.0 * 3600)
        #expect(longer.steps.contains { $0.contains("last 24 buckets (2d, the default window)") })
        // An explicit window is not the default, even when it has the default's length.
        let (_, explicit) = try Self.compiled(trend: "24h")
        #expect(explicit.trend == 24.0 * 3600)
        #expect(!explicit.trendIsDefault)
    }

    @Test func trendOffDisablesTheRampTest() throws {
        let (op, rule) = try Self.compiled(trend: "off")
        #expect(rule.trend == nil)
        #expect(op.steps.contains { $0.contains("no ramp-onset test (trend: off)") })
        #expect(op.steps.contains { $0.contains("back within the tolerance") })
        let (withDefault, _) = try Self.compiled(trend: nil)
        #expect(op.stateBytesPerDevice < withDefault.stateBytesPerDevice)
    }

    @Test func aTrendThatIsNeitherADurationNorOffIsAnError() throws {
        #expect(throws: (any Error).self) { try Policy.parse(Self.policy(trend: "none")).compile() }
        #expect(throws: (any Error).self) { try Policy.parse(Self.policy(trend: "6h")).compile() }
    }
}

/// A drift rule written without `trend` (as the design notes show it) catches a slow ramp as
/// soon as one with the default window spelled out, and sooner than the sequential test alone.
@Suite struct DriftDefaultRampTests {
    static func policy(trend: String?) -> String {
        """
        fleetrules: 1
        pack: default-ramp
        metrics:
          temperature: { unit: celsius, range: [-40, 125], interval: 10m }
        rules:
          - drift: temperature-drift
            metric: temperature
            peers: [site, zone]
            method: cusum
            tolerance: 0.5
            threshold: 1.5
        \(trend.map { "    trend: \($0)" } ?? "")
        """
    }

    static let t0 = Timestamp.parse("2026-03-01T00:00:00Z") ?? 0

    /// Eight probes in one zone read every 10 minutes with 0.25 °C noise and a shared daily
    /// cycle; `r` ramps from hour 72 to +1 °C at hour 120 (two days) and stays there. Its offset
    /// passes the tolerance (0.5) at hour 96.
    static func run(trend: String?) throws -> [Report.Alert] {
        let ids = ["r"] + (1...7).map { "p\($0)" }
        let inventory = try Inventory(
            columns: ["device", "type", "site", "zone"], rows: ids.map { [$0, "temp-sensor", "plant-a", "z1"] })
        var engine = Engine(plan: try Policy.parse(policy(trend: trend)).compile(), inventory: inventory)
        var noise = DriftRampTests.Noise(seed: 26)
        for step in 0..<(144 * 6) {
            let hours = Double(step) / 6
            let daily = 1.5 * sin(2 * Double.pi * hours / 24)
            for id in ids {
                var v = 21 + daily + 0.25 * noise.normal()
                if id == "r" { v += min(1, max(0, (hours - 72) / 48)) }
                engine.ingest(
                    Reading(timestamp: t0 + hours * 3600, device: id, metrics: ["temperature": v], attributes: [:]))
            }
        }
        engine.finish()
        return engine.report().alerts.filter { $0.episode.kind == .drift }
    }

    @Test func aRuleWithoutTrendCatchesASlowRampAsSoonAsTheDefaultWindow() throws {
        let byDefault = try Self.run(trend: nil)
        let spelled = try Self.run(trend: "24h")
        let off = try Self.run(trend: "off")
        #expect(byDefault.map(\.episode.device) == ["r"])
        #expect(off.map(\.episode.device) == ["r"])
        let d = try #require(byDefault.first?.episode)
        let o = try #require(off.first?.episode)
        #expect(spelled.map(\.episode.since) == [d.since])
        let evidence = Dictionary(d.evidence, uniquingKeysWith: { a, _ in a })
        #expect(evidence["test"] == .string("trend"))
        let crossing = Self.t0 + 96 * 3600
        print(
            "slow ramp: default \((d.since - crossing) / 3600) h, trend off \((o.since - crossing) / 3600) h from the crossing"
        )
        // The ramp test alarms once the ramp is half the tolerance off and the evidence is in:
        // before the offset passes the tolerance; CUSUM alone needs about 12 buckets beyond it.
        #expect(d.since <= crossing + 2 * 3600)
        #expect(o.since >= d.since + 6 * 3600)
    }
}
