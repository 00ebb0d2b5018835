import Foundation
import Testing

@testable import FleetRules

/// Drift tests, peer references, correlation coefficients, p-values and corrections on known inputs.
@Suite struct DriftDetectorTests {
    static func run(_ d: inout DriftDetector, _ series: [Double]) -> Int? {
        for (i, r) in series.enumerated() {
            d.update(r, bucketStart: Double(i) * 3600)
            if d.alarm { return i }
        }
        return nil
    }

    @Test func cusumAccumulatesTheExcessOverTheTolerance() {
        var d = DriftDetector(method: .cusum, tolerance: 0.2, threshold: 1)
        // Within tolerance: S stays at zero.
        #expect(Self.run(&d, Array(repeating: 0.2, count: 50)) == nil)
        #expect(d.statistic == 0)
        // A step of +1 from bucket 50: S = 0.8, 1.6 → alarm on the second bucket of the step.
        var s = d
        #expect(Self.run(&s, [1, 1, 1]) == 1)
        #expect(abs(s.statistic - 1.6) < 1e-12)
        #expect(s.onset == 0)  // bucket start of the first step bucket in the fresh series
        #expect(abs(s.offset - 1) < 1e-12)
    }

    @Test func cusumIsTwoSidedAndEstimatesTheOnset() {
        var d = DriftDetector(method: .cusum, tolerance: 0.5, threshold: 2)
        let series = Array(repeating: 0.0, count: 10) + Array(repeating: -1.5, count: 5)
        // S⁻ grows by 1 per bucket from bucket 10: 1, 2, 3 → alarm at bucket 12.
        #expect(Self.run(&d, series) == 12)
        #expect(d.onset == 10 * 3600)
        #expect(abs(d.offset + 1.5) < 1e-12)
        #expect(abs(d.statistic - 3) < 1e-12)
    }

    @Test func ewmaSmoothsBeforeComparing() {
        // λ = 0.5 on a constant 1: z = 0.5, 0.75, 0.875 … never beyond tolerance 0.5 + threshold 0.5.
        var quiet = DriftDetector(method: .ewma, tolerance: 0.5, threshold: 0.5, lambda: 0.5)
        #expect(Self.run(&quiet, Array(repeating: 1, count: 100)) == nil)
        #expect(abs(quiet.z - 1) < 1e-12)
        // Two quiet buckets, then 2.2: z = 1.1 (statistic 0.6 > 0.5) → alarm on that bucket.
        var loud = DriftDetector(method: .ewma, tolerance: 0.5, threshold: 0.5, lambda: 0.5)
        #expect(Self.run(&loud, [0, 0, 2.2, 2.2]) == 2)
        #expect(abs(loud.z - 1.1) < 1e-12)
        #expect(abs(loud.statistic - 0.6) < 1e-12)
        #expect(loud.onset == 2 * 3600)
    }

    @Test func pageHinkleyTestsAChangeNotAConstantBias() {
        // A residual that is 1 from the start is a constant bias, not a change: no alarm.
        var biased = DriftDetector(method: .pageHinkley, tolerance: 0.1, threshold: 1)
        #expect(Self.run(&biased, Array(repeating: 1, count: 200)) == nil)
        // CUSUM against zero alarms on the same series.
        var cusum = DriftDetector(method: .cusum, tolerance: 0.1, threshold: 1)
        #expect(Self.run(&cusum, Array(repeating: 1, count: 200)) == 1)
        // Ten quiet buckets then a step of 2: m = 2 − 2/11 − 0.1 = 1.72 > 1 at the first step bucket.
        var step = DriftDetector(method: .pageHinkley, tolerance: 0.1, threshold: 1)
        #expect(Self.run(&step, Array(repeating: 0, count: 10) + [2, 2, 2]) == 10)
        #expect(abs(step.statistic - (2 - 2.0 / 11 - 0.1)) < 1e-12)
        #expect(step.onset == 10 * 3600)
        #expect(abs(step.offset - 2) < 1e-12)
    }

    @Test func resetForgetsTheHistory() {
        var d = DriftDetector(method: .cusum, tolerance: 0, threshold: 1)
        _ = Self.run(&d, [3, 3])
        #expect(d.alarm)
        d.reset()
        #expect(!d.alarm && d.statistic == 0 && d.count == 0)
    }
}

@Suite struct CorrelationStatisticsTests {
    /// From scipy.stats.pearsonr / spearmanr (scipy 1.x): see scripts/correlation_reference.py.
    static let referenceCases:
        [(name: String, pearson: Double, pearsonP: Double, spearman: Double, spearmanP: Double)] = [
            ("ten", 0.7454545454545451, 0.013330146315440099, 0.7454545454545454, 0.013330146315440054),
            ("ties", 0.7883928374993714, 0.0023134663942886683, 0.7787915579452676, 0.002838272562027545),
            ("weak500", 0.09888562383597595, 0.027033274187580544, 0.12224448897795591, 0.006202117499649832),
            ("strong200", 0.9382019406740901, 3.463219688900172e-93, 0.9424435610890273, 3.7525026388218886e-96),
            ("none40", 0.006041550113223647, 0.9704859868183365, -0.019136960600375237, 0.9066972610533286),
        ]

    static func dataset(_ name: String) -> ([Double], [Double]) {
        switch name {
        case "ten": return ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [2, 1, 4, 3, 7, 8, 6, 10, 9, 5])
        case "ties":
            return (
                [0.5, 1.2, 1.2, 3.3, 2.0, 4.1, 5.5, 3.9, 6.0, 7.2, 6.6, 8.1], [3, 2, 2.5, 4, 1, 5, 4, 6, 5, 5, 7, 6]
            )
        case "weak500":
            let i = (1...500).map(Double.init)
            return (i.map { sin($0) }, i.map { 0.1 * sin($0) + cos(3 * $0) })
        case "strong200":
            let i = (0..<200).map(Double.init)
            return (i.map { $0 / 10 }, i.map { $0 / 10 + 3 * sin($0 * 1.7) })
        default:
            let i = (0..<40).map(Double.init)
            return (i.map { sin($0 * 2.1) }, i.map { cos($0 * 5.3) })
        }
    }

    static func close(_ a: Double?, _ b: Double, relative: Double = 1e-9) -> Bool {
        guard let a else { return false }
        return abs(a - b) <= relative * max(abs(b), 1e-300)
    }

    @Test(arguments: referenceCases.map(\.name)) func agreesWithScipy(_ name: String) throws {
        let c = try #require(Self.referenceCases.first { $0.name == name })
        let (x, y) = Self.dataset(name)
        let r = try #require(Statistics.pearson(x, y))
        let rho = try #require(Statistics.spearman(x, y))
        #expect(Self.close(r, c.pearson, relative: 1e-12))
        #expect(Self.close(rho, c.spearman, relative: 1e-12))
        #expect(Self.close(Statistics.correlationPValue(r: r, n: x.count), c.pearsonP, relative: 1e-8))
        #expect(Self.close(Statistics.correlationPValue(r: rho, n: x.count), c.spearmanP, relative: 1e-8))
    }

    @Test func knownStudentTValues() {
        // t = 2.228 with 10 df is the two-sided 5% point; t = 1 with 1 df is p = 0.5 (Cauchy).
        #expect(abs(Statistics.studentTwoSided(t: 2.228138851986274, df: 10) - 0.05) < 1e-9)
        #expect(abs(Statistics.studentTwoSided(t: 1, df: 1) - 0.5) < 1e-12)
        #expect(Statistics.studentTwoSided(t: 0, df: 5) == 1)
    }

    @Test func edgeCases() {
        #expect(Statistics.pearson([1, 2], [1, 2]) == nil)
        #expect(Statistics.pearson([1, 1, 1], [1, 2, 3]) == nil)
        #expect(Statistics.correlationPValue(r: 1, n: 10) == 0)
        #expect(Statistics.ranks([3, 1, 3, 2]) == [3.5, 1, 3.5, 2])
    }

    @Test func holmAndBenjaminiHochberg() {
        // As R's p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm" / "BH").
        let p = [0.01, 0.04, 0.03, 0.005]
        let holm = Statistics.holm(p)
        let bh = Statistics.benjaminiHochberg(p)
        for (a, b) in zip(holm, [0.03, 0.06, 0.06, 0.02]) { #expect(abs(a - b) < 1e-12) }
        for (a, b) in zip(bh, [0.02, 0.04, 0.04, 0.02]) { #expect(abs(a - b) < 1e-12) }
        #expect(Statistics.holm([0.6, 0.5]) == [1, 1])
        #expect(Statistics.holm([]).isEmpty)
    }
}
