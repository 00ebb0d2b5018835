import Foundation
import Testing

@testable import FleetRules

/// The ramp-sensitive slope test of drift rules (`trend`) on known series.
@Suite struct DriftTrendTests {
    static func feed(_ t: inout DriftTrend, _ series: [Double]) {
        for r in series { t.update(r) }
    }

    @Test func leastSquaresLineAndTStatisticOnAKnownWindow() {
        // y = 0, 1, 1, 2: x̄ = 1.5, Sxx = 5, Sxy = 3 → b = 0.6, a = 0.1, fitted end 1.9,
        // SSE = 0.2, s² = 0.1, SE(b) = √(0.1/5), t = 0.6 / √0.02 = 4.2426…
        var t = DriftTrend(window: 4, level: 1)
        Self.feed(&t, [0, 1, 1, 2])
        #expect(abs(t.slope - 0.6) < 1e-12)
        #expect(abs(t.end - 1.9) < 1e-12)
        #expect(abs(t.t - 0.6 / 0.02.squareRoot()) < 1e-9)
        #expect(t.alarm)  // t 4.24 > 4 and 1.9 > 1
        #expect(t.onsetBucketsAgo == 3)  // the zero crossing, 1.9 / 0.6 buckets back, clamped to the window
        // Only the last `window` residuals count: older ones leave the ring.
        var r = DriftTrend(window: 4, level: 1)
        Self.feed(&r, [9, -9, 5, 0, 1, 1, 2])
        #expect(abs(r.slope - 0.6) < 1e-12)
        #expect(abs(r.end - 1.9) < 1e-12)
        // A stricter significance bound does not alarm on the same window.
        var strict = DriftTrend(window: 4, level: 1, tBound: 5)
        Self.feed(&strict, [0, 1, 1, 2])
        #expect(!strict.alarm)
    }

    @Test func needsAFullWindowASlopeAndALevelOnTheSameSide() {
        // A clean ramp: alarms once the window is full and the line is past the level.
        var ramp = DriftTrend(window: 24, level: 0.1)
        Self.feed(&ramp, (0..<23).map { 0.01 * Double($0) })
        #expect(!ramp.alarm)  // 23 of 24 buckets
        ramp.update(0.23)
        #expect(ramp.alarm)
        #expect(abs(ramp.end - 0.23) < 1e-12)
        #expect(abs(ramp.onsetBucketsAgo - 23) < 1e-9)
        // A constant offset beyond the level has no slope: the trend test stays quiet (CUSUM's job).
        var flat = DriftTrend(window: 24, level: 0.1)
        Self.feed(&flat, (0..<24).map { 0.3 + ($0 % 2 == 0 ? 0.05 : -0.05) })
        #expect(abs(flat.t) < 1)
        #expect(!flat.alarm)
        // A device returning towards its reference (positive level, negative slope) is not a drift.
        var back = DriftTrend(window: 24, level: 0.1)
        Self.feed(&back, (0..<24).map { 0.5 - 0.01 * Double($0) })
        #expect(back.end > 0.1 && back.slope < 0)
        #expect(!back.alarm)
        // A significant slope still within the level does not alarm yet.
        var small = DriftTrend(window: 24, level: 0.1)
        Self.feed(&small, (0..<24).map { 0.002 * Double($0) })
        #expect(small.t > 4 && small.end < 0.1)
        #expect(!small.alarm)
        // Downwards too.
        var down = DriftTrend(window: 24, level: 0.1)
        Self.feed(&down, (0..<24).map { -0.01 * Double($0) })
        #expect(down.alarm)
        // Reset forgets the window.
        down.reset()
        #expect(down.filled == 0 && !down.alarm)
    }

    /// The point of the test: on a noisy slow ramp it alarms well before CUSUM, which only starts
    /// to accumulate once the ramp has left the tolerance.
    @Test func catchesANoisyRampBeforeCUSUM() throws {
        // 36 quiet buckets, then a ramp of 0.01 per bucket; deterministic noise of ±0.04.
        let noise: [Double] = [0.04, -0.03, 0.01, -0.04, 0.02, 0.03, -0.02, -0.01]
        let series = (0..<200).map { i in (i < 36 ? 0 : 0.01 * Double(i - 35)) + noise[i % noise.count] }
        var cusum = DriftDetector(method: .cusum, tolerance: 0.2, threshold: 1)
        var trend = DriftTrend(window: 36, level: 0.1)
        var cusumAt: Int?
        var trendAt: Int?
        var onsetAgo = Double.nan
        for (i, r) in series.enumerated() {
            cusum.update(r, bucketStart: Double(i) * 3600, clip: 1.2)
            trend.update(max(-1.2, min(1.2, r)))
            if cusumAt == nil, cusum.alarm { cusumAt = i }
            if trendAt == nil, trend.alarm {
                trendAt = i
                onsetAgo = trend.onsetBucketsAgo
            }
        }
        let c = try #require(cusumAt)
        let t = try #require(trendAt)
        #expect(t >= 36 + 5)  // no alarm before the ramp has moved the line past 0.1
        #expect(t < c - 10)
        // The onset estimate (where the fitted line crosses zero) is early: the line through the
        // flat part and the ramp is flatter than the ramp (here bucket 24 for a start at 35).
        let onset = Double(t) - onsetAgo
        #expect(onset <= 35 && onset >= 35 - 12)
    }
}

@Suite struct DriftTrendPlanTests {
    static func policy(trend: String?) -> String {
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
            bucket: 1h
        \(trend.map { "    trend: \($0)" } ?? "")
        """
    }

    @Test func planShowsTheSlopeTestAndItsState() throws {
        let with = try #require(try Policy.parse(Self.policy(trend: "36h")).compile().operators.first)
        let without = try #require(try Policy.parse(Self.policy(trend: nil)).compile().operators.first)
        #expect(with.steps.contains { $0.contains("slope test over the last 36 buckets") && $0.contains("beyond 0.1") })
        #expect(!without.steps.contains { $0.contains("slope test") })
        // The ring of 36 residuals is in the state estimate.
        #expect(with.stateBytesPerDevice >= without.stateBytesPerDevice + 36 * 8)
    }
}
