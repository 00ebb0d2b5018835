import Testing

@testable import FleetRules

/// The compiler estimates each analysis's state per device from its rule alone; these tests keep
/// those figures equal to the layouts the engine's analyzers allocate.
struct StateEstimateTests {
    @Test func forecastCurveTrackerMatchesTheEngine() {
        #expect(ForecastRule.curveBytesPerDevice == MemoryLayout<BandTracker>.stride + 4)
    }

    @Test func driftStateMatchesTheEngine() {
        // The plot series: two Float rings of `DriftSeries.maxBefore` buckets, the latest bucket
        // (Int) and the device's series (Int32).
        let plotSeries = 2 * 4 * DriftSeries.maxBefore + 8 + 4
        #expect(
            DriftRule.baseStateBytesPerDevice
                == 8 + 4 + MemoryLayout<DriftDetector>.stride + 1 + 8 + 4 + 4 + 1 + 1 + plotSeries)
        #expect(DriftRule.rampStateBytes == MemoryLayout<DriftRamp>.stride)
        #expect(DriftRule.rampBound == DriftRamp.defaultBound)
    }

    @Test func correlationStepSummaryMatchesTheEngine() {
        #expect(CorrelationRule.stepSummaryBytes == MemoryLayout<CorrelationAnalyzer.StepSummary>.stride)
        #expect(CorrelationRule.maxPairs == CorrelationAnalyzer.maxPairs)
    }
}
