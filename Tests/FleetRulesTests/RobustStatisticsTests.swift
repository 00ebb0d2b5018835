import Foundation
import Testing

@testable import FleetRules

@Suite struct RobustStatisticsTests {
    @Test func medianOfOddAndEvenCounts() {
        #expect(RobustStatistics.median([3.0, 1, 2]) == 2)
        #expect(RobustStatistics.median([4.0, 1, 3, 2]) == 2.5)
        #expect(RobustStatistics.median([7.0]) == 7)
        #expect(RobustStatistics.median([]) == nil)
        #expect(RobustStatistics.median(sorted: [1, 2, 3, 10]) == 2.5)
    }

    @Test func medianSortingInPlaceLeavesTheValuesSorted() {
        var v = [5.0, -1, 3, 3, 0]
        #expect(RobustStatistics.median(sorting: &v) == 3)
        #expect(v == [-1, 0, 3, 3, 5])
        var empty: [Double] = []
        #expect(RobustStatistics.median(sorting: &empty) == nil)
    }

    @Test func medianExcludingSelf() {
        let v = [1.0, 2, 3, 10, 100]
        #expect(RobustStatistics.median(v, excluding: 4) == 2.5)
        #expect(RobustStatistics.median(v, excluding: 0) == 6.5)
        #expect(RobustStatistics.median(v, excluding: 2) == 6)
        #expect(RobustStatistics.median(v, excluding: -1) == 3)
        #expect(RobustStatistics.median(v, excluding: 5) == 3)
        #expect(RobustStatistics.median([5], excluding: 0) == nil)
    }

    @Test func spreadIsScaledMedianAbsoluteDeviation() {
        // MAD of [1, 2, 3, 10, 100] around 3: deviations 0, 1, 2, 7, 97 → 2 → ×1.4826.
        #expect(abs(RobustStatistics.spread([1, 2, 3, 10, 100]) - 2 * 1.4826) < 1e-12)
        #expect(RobustStatistics.spread([]) == 0)
        #expect(RobustStatistics.spread([4, 4, 4]) == 0)
        var deviations = [3.0, 1, 2]
        #expect(RobustStatistics.spread(deviations: &deviations) == 2 * 1.4826)
        var none: [Double] = []
        #expect(RobustStatistics.spread(deviations: &none).isNaN)
    }

    @Test func oneWildValueBarelyMovesTheEstimates() {
        let calm = [10.0, 10.5, 9.5, 10.2, 9.8, 10.1, 9.9]
        let wild = calm + [1e6]
        #expect(abs((RobustStatistics.median(wild) ?? 0) - (RobustStatistics.median(calm) ?? 0)) <= 0.1)
        #expect(RobustStatistics.spread(wild.sorted()) < 1)
    }
}
