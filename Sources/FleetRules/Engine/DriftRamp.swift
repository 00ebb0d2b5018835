/// The ramp-onset test of drift rules (`trend`): a generalized likelihood-ratio test for a
/// "broken line" — a residual that sat at a baseline b until an unknown bucket τ and has grown
/// linearly since. A slow ramp stays within CUSUM's tolerance for a long time; this test looks
/// for the bend itself, with the onset as a free parameter.
///
/// For each candidate onset τ among the last `window` buckets (at least `minSpan` buckets back),
/// with k = t − τ for the buckets after τ:
///
/// - b̂(τ) is the mean residual up to and including τ: the device's history (buckets that left
///   the window, a slowly forgetting mean over about `historyBuckets`) plus the window's buckets
///   up to τ, m(τ) of them in all;
/// - S(τ) = Σ k·(r_t − b̂) / (σ·√(Σk² + (Σk)²/m)), the standardized evidence for a slope after τ
///   (the second term of the variance is b̂'s own error; under a flat residual S(τ) ~ N(0, 1));
/// - the fitted slope is â = Σ k·(r_t − b̂) / Σk², the implied current offset from the
///   baseline â·(now − τ).
///
/// It alarms when max |S(τ)| > `bound` at a τ whose implied offset is beyond `level` on the side
/// of the slope, and the fitted current residual (b̂ + offset) is beyond `level` on that side too
/// (a device moving back towards its reference is not drifting). Onset estimate: the argmax τ.
///
/// σ is the device's own noise, the larger of two forgetting estimates: from first differences
/// of consecutive buckets (mean |Δr| × √π / 2; gaps do not count as movement) and from the
/// history's scatter around its mean (mean |r − b| × √(π/2), which also sees slow wander that
/// differences miss); each term is clipped to 5σ̂ once an estimate exists, so a step moves it by
/// a bounded amount, and σ is floored at level / 10. Nothing is tested before 48 differences
/// and 48 baseline buckets. Residuals enter the window clipped to the history mean ± 4σ.
/// Time is the bucket index, so missing buckets (gateway outages) stretch the line correctly
/// instead of compressing it. Cost: O(window) per bucket with suffix sums; state: the rings of
/// buckets and residuals and a few numbers.
struct DriftRamp: Sendable, Equatable {
    let window: Int
    let level: Double
    let bound: Double
    let minSpan: Int

    /// Standardized-evidence bound. The statistic is a maximum over about `window` correlated
    /// N(0, 1) values, taken every bucket (~700 times a month hourly); docs/DRIFT.md has the
    /// false-positive measurements behind this value.
    static let defaultBound = DriftRule.rampBound
    /// Fewest buckets after the onset before a ramp may alarm (a single bucket is a step's
    /// business, and CUSUM's).
    static let defaultMinSpan = 12
    /// Memory of the history baseline and the noise estimate, in buckets (about a week hourly).
    static let historyBuckets = 168.0
    /// Fewest baseline buckets (history and window) before an onset candidate is tested, and
    /// fewest first differences before σ is trusted.
    static let minBaseline = 48.0
    static let minDifferences = 48.0
    /// Residuals are clipped to the history mean ± this many σ before they enter the window: a
    /// single wild bucket (a partial bucket with two readings, say) bends the line by a bounded
    /// amount; a ramp is already well past the alarm by the time it is this far out.
    static let clipSigmas = 4.0

    private var buckets: [Double]
    private var residuals: [Double]
    private var next = 0
    private(set) var filled = 0

    /// Forgetting sums of the history (buckets that left the window).
    private var historySum = 0.0
    private var historyCount = 0.0
    /// Noise: forgetting mean of |first difference| and its weight; the latest bucket seen.
    private var absDiffSum = 0.0
    private var absDiffCount = 0.0
    /// Noise around the baseline: forgetting mean of |r − history mean| of the buckets that left
    /// the window, and its weight.
    private var absDevSum = 0.0
    private var absDevCount = 0.0
    /// Buckets that entered the history, and first differences taken (plain counts, for the
    /// warm-up; the forgetting weights above are the effective sample sizes).
    private var historySeen = 0
    private var differencesSeen = 0
    private var lastBucket = Double.nan
    private var lastResidual = 0.0

    /// Of the latest bucket: the largest |S(τ)| among alarm-eligible onsets (signed), its slope per
    /// bucket, implied offset from the baseline, baseline, and onset bucket (NaN when none).
    private(set) var statistic = 0.0
    private(set) var slope = 0.0
    private(set) var offset = 0.0
    private(set) var baseline = 0.0
    private(set) var onsetBucket = Double.nan
    private(set) var alarm = false

    /// A known noise scale instead of the estimate from first differences (tests, or a metric
    /// whose noise is known).
    let knownSigma: Double?

    init(
        window: Int, level: Double, bound: Double = DriftRamp.defaultBound, minSpan: Int = DriftRamp.defaultMinSpan,
        sigma: Double? = nil
    ) {
        self.window = max(3, window)
        self.level = level
        self.bound = bound
        // A window must hold candidates far enough back: at most half of it.
        self.minSpan = max(1, min(minSpan, max(3, window) / 2))
        knownSigma = sigma.flatMap { $0.isFinite && $0 > 0 ? $0 : nil }
        buckets = Array(repeating: 0, count: max(3, window))
        residuals = Array(repeating: 0, count: max(3, window))
    }

    /// The noise scale used (NaN before enough consecutive buckets).
    var sigma: Double {
        if let knownSigma { return knownSigma }
        guard Double(differencesSeen) >= Self.minDifferences, absDiffCount > 0 else { return .nan }
        let fromDifferences = absDiffSum / absDiffCount * Double.pi.squareRoot() / 2
        let fromLevel = absDevCount >= Self.minDifferences ? absDevSum / absDevCount * (Double.pi / 2).squareRoot() : 0
        return max(level / 10, fromDifferences, fromLevel)
    }

    /// Feeds the residual of bucket number `bucket` (bucket start / bucket length); buckets must
    /// come in increasing order, gaps allowed.
    mutating func update(_ r: Double, bucket: Double) {
        guard r.isFinite, bucket.isFinite else { return }
        if !lastBucket.isNaN, bucket <= lastBucket { return }
        let forget = 1 - 1 / Self.historyBuckets
        if bucket - lastBucket == 1 {
            var d = abs(r - lastResidual)
            let s = sigma
            if s.isFinite { d = min(d, 5 * s) }
            absDiffSum = absDiffSum * forget + d
            absDiffCount = absDiffCount * forget + 1
            differencesSeen = min(differencesSeen + 1, Int.max - 1)
        }
        lastBucket = bucket
        lastResidual = r
        if filled == window {
            let old = residuals[next]
            if Double(historySeen) >= Self.minBaseline {
                var dev = abs(old - historySum / historyCount)
                let s = sigma
                if s.isFinite { dev = min(dev, 5 * s) }
                absDevSum = absDevSum * forget + dev
                absDevCount = absDevCount * forget + 1
            }
            historySum = historySum * forget + old
            historyCount = historyCount * forget + 1
            historySeen = min(historySeen + 1, Int.max - 1)
        }
        var x = r
        let s = sigma
        if s.isFinite, Double(historySeen) >= Self.minBaseline {
            let h = historySum / historyCount
            x = max(h - Self.clipSigmas * s, min(h + Self.clipSigmas * s, r))
        }
        buckets[next] = bucket
        residuals[next] = x
        next = (next + 1) % window
        filled = min(filled + 1, window)
        evaluate(now: bucket)
    }

    private mutating func evaluate(now: Double) {
        statistic = 0
        slope = 0
        offset = 0
        onsetBucket = .nan
        alarm = false
        let s = sigma
        guard s.isFinite, s > 0 else { return }
        // Suffix sums over the buckets after the candidate τ, u = t − now (≤ 0); prefix sums
        // (history and window up to τ) for the baseline. Walk from the newest to the oldest.
        let oldest = (next - filled + window) % window
        var windowSum = 0.0
        for i in 0..<filled { windowSum += residuals[(oldest + i) % window] }
        var c = 0.0, su = 0.0, suu = 0.0, sr = 0.0, sur = 0.0
        var before = windowSum  // window residuals at or before τ
        var best = 0.0
        for j in stride(from: filled - 1, through: 0, by: -1) {
            let idx = (oldest + j) % window
            let uTau = buckets[idx] - now
            let span = -uTau
            if span >= Double(minSpan), c > 0 {
                let m = historyCount + Double(j + 1)
                if Double(historySeen + j + 1) >= Self.minBaseline {
                    let b = (historySum + before) / m
                    let sk = su - uTau * c
                    let skk = suu - 2 * uTau * su + uTau * uTau * c
                    let skr = sur - uTau * sr
                    let num = skr - b * sk
                    let variance = skk + sk * sk / m
                    if skk > 0, variance > 0 {
                        let stat = num / (s * variance.squareRoot())
                        let a = num / skk
                        let off = a * span
                        // Eligible: offset beyond the level on the slope's side, and the fitted
                        // current residual beyond the level on that side too.
                        let eligible = abs(off) > level && abs(b + off) > level && (b + off > 0) == (a > 0)
                        if eligible, abs(stat) > abs(best) {
                            best = stat
                            statistic = stat
                            slope = a
                            offset = off
                            baseline = b
                            onsetBucket = buckets[idx]
                        }
                    }
                }
            }
            let r = residuals[idx]
            let u = uTau
            c += 1
            su += u
            suu += u * u
            sr += r
            sur += u * r
            before -= r
        }
        alarm = abs(best) > bound
    }

    /// Forgets the window and the baseline (after a recalibration resolved the finding); the
    /// device's noise estimate is kept.
    mutating func reset() {
        var fresh = DriftRamp(window: window, level: level, bound: bound, minSpan: minSpan, sigma: knownSigma)
        fresh.absDiffSum = absDiffSum
        fresh.absDiffCount = absDiffCount
        fresh.absDevSum = absDevSum
        fresh.absDevCount = absDevCount
        fresh.differencesSeen = differencesSeen
        self = fresh
    }
}
