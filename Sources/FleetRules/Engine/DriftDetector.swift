/// A sequential change test on one device's residual (device − reference), one value per bucket.
/// Tolerance and threshold are in the metric's unit. Two-sided: offsets up and down both count.
///
/// - CUSUM: S⁺ = max(0, S⁺ + r − k), S⁻ = max(0, S⁻ − r − k); alarm when either passes h.
///   Onset: the last bucket at which the alarming sum was zero.
/// - EWMA: z = λ·r + (1 − λ)·z; statistic |z| − k; alarm when it passes h (i.e. |z| > k + h).
///   Onset: the last bucket at which |z| was within the tolerance.
/// - Page–Hinkley: m = Σ(r − r̄ − k) with r̄ the running mean of the residual since the last
///   reset, statistic m − min(m) (and the mirrored sum downwards); alarm when it passes h. The
///   running mean makes it test for a *change* of the residual, so a constant installation bias
///   is tolerated. Onset: the bucket after the minimum.
///
/// State is a fixed handful of numbers, whatever the length of the series.
struct DriftDetector: Sendable, Equatable {
    var method: DriftRule.Method
    var tolerance: Double
    var threshold: Double
    var lambda: Double

    /// Upward and downward statistics (CUSUM sums, Page–Hinkley distances); EWMA uses `z`.
    private(set) var up = 0.0
    private(set) var down = 0.0
    private(set) var z = 0.0
    /// EWMA of the unclipped residual, for the offset estimate.
    private var zRaw = 0.0
    /// Page–Hinkley cumulative sums and their extremes, and the running mean of the residual.
    private var mUp = 0.0, minUp = 0.0, mDown = 0.0, maxDown = 0.0
    private var total = 0.0
    private var rawTotal = 0.0
    private(set) var count = 0
    /// Candidate onsets (start of the bucket after the statistic last sat at its floor).
    private var onsetUp = Double.nan, onsetDown = Double.nan
    /// Sum and count of residuals since each candidate onset, for the offset estimate.
    private var sumUp = 0.0, nUp = 0, sumDown = 0.0, nDown = 0

    init(method: DriftRule.Method, tolerance: Double, threshold: Double, lambda: Double = 0.2) {
        self.method = method
        self.tolerance = tolerance
        self.threshold = threshold
        self.lambda = lambda
    }

    /// The test statistic, in the metric's unit (alarm when above `threshold`).
    var statistic: Double {
        switch method {
        case .cusum, .pageHinkley: max(up, down)
        case .ewma: max(0, abs(z) - tolerance)
        }
    }

    var alarm: Bool { statistic > threshold }

    /// Whether the alarming direction is upward (device reads above its reference).
    private var upward: Bool {
        switch method {
        case .cusum, .pageHinkley: up >= down
        case .ewma: z >= 0
        }
    }

    /// Estimated start of the change (start of a bucket), NaN before any.
    var onset: Double { upward ? onsetUp : onsetDown }

    /// Estimated offset of the device from its reference since the onset, in the metric's unit.
    var offset: Double {
        switch method {
        case .ewma: return zRaw
        case .cusum:
            return upward ? (nUp > 0 ? sumUp / Double(nUp) : 0) : (nDown > 0 ? sumDown / Double(nDown) : 0)
        case .pageHinkley:
            let (s, n) = upward ? (sumUp, nUp) : (sumDown, nDown)
            guard n > 0 else { return 0 }
            let before = count - n
            let baseline = before > 0 ? (rawTotal - s) / Double(before) : 0
            return s / Double(n) - baseline
        }
    }

    /// Feeds one bucket's residual; `start` is the bucket's start time. The statistics see the
    /// residual clipped to ±`clip` (so one wild bucket moves them by a bounded step); the offset
    /// estimate uses the residual as measured.
    mutating func update(_ raw: Double, bucketStart start: Double, clip: Double = .infinity) {
        guard raw.isFinite else { return }
        let r = max(-clip, min(clip, raw))
        count += 1
        total += r
        rawTotal += raw
        switch method {
        case .cusum:
            if up == 0 { onsetUp = start; sumUp = 0; nUp = 0 }
            if down == 0 { onsetDown = start; sumDown = 0; nDown = 0 }
            up = max(0, up + r - tolerance)
            down = max(0, down - r - tolerance)
            sumUp += raw
            nUp += 1
            sumDown += raw
            nDown += 1
        case .ewma:
            let within = abs(z) <= tolerance
            z = count == 1 ? lambda * r : lambda * r + (1 - lambda) * z
            zRaw = count == 1 ? lambda * raw : lambda * raw + (1 - lambda) * zRaw
            if within { onsetUp = start; onsetDown = start }
        case .pageHinkley:
            let mean = total / Double(count)
            mUp += r - mean - tolerance
            mDown += r - mean + tolerance
            if mUp <= minUp {
                minUp = mUp; onsetUp = .nan; sumUp = 0; nUp = 0
            } else {
                if nUp == 0 { onsetUp = start }
                sumUp += raw
                nUp += 1
            }
            if mDown >= maxDown {
                maxDown = mDown; onsetDown = .nan; sumDown = 0; nDown = 0
            } else {
                if nDown == 0 { onsetDown = start }
                sumDown += raw
                nDown += 1
            }
            up = mUp - minUp
            down = maxDown - mDown
        }
    }

    /// Forgets everything (after a recalibration resolved the finding).
    mutating func reset() {
        self = DriftDetector(method: method, tolerance: tolerance, threshold: threshold, lambda: lambda)
    }
}
