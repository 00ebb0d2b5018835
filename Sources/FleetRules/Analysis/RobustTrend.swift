import Foundation

/// Robust trend estimation for forecasts: a Theil–Sen slope over evenly spaced buckets, with
/// level shifts (a sudden drop) excluded from the pairs, and a check for a rate that keeps
/// growing (accelerating discharge) fitted on the recent part.
///
/// Times are in bucket units (0, 1, 2, … with gaps allowed); the caller scales to seconds.
public struct RobustTrend: Sendable {
    /// How the fit extrapolates.
    public enum Model: String, Sendable {
        /// A straight line: constant rate.
        case linear
        /// The rate grows exponentially in time (fitted on the two most recent windows).
        case accelerating
        /// The rate changes with the level as the device's cohort has shown (`curve_by`).
        case curve
    }

    public struct Fit: Sendable, Equatable {
        public var model: Model
        /// Rate at `time`, value per bucket (negative: falling).
        public var slope: Double
        /// 95% interval of the (linear) slope, per bucket.
        public var slopeLow: Double
        public var slopeHigh: Double
        /// Robust level at `time`.
        public var level: Double
        /// Robust standard deviation of the residuals (1.4826 × MAD), value units.
        public var sigma: Double
        /// Growth of the rate per bucket (accelerating model; 0 for linear).
        public var growth: Double
        public var points: Int
        /// The bucket time the level refers to.
        public var time: Double

        /// Buckets from `time` until the trend reaches `threshold` falling (nil: it does not);
        /// 0 when the level is already at or below it.
        public func bucketsUntil(_ threshold: Double) -> Double? {
            Self.until(threshold, level: level, slope: slope, growth: growth)
        }

        /// A 95% interval of `bucketsUntil`, from the slope interval and the level's uncertainty.
        public func intervalUntil(_ threshold: Double) -> (low: Double, high: Double?)? {
            guard bucketsUntil(threshold) != nil else { return nil }
            let (fast, slow) = edges
            let low = Self.until(threshold, level: fast.level, slope: fast.slope, growth: growth) ?? 0
            let high = Self.until(threshold, level: slow.level, slope: slow.slope, growth: growth)
            return (low, high)
        }

        /// The trend's value `buckets` after `time` (before it when negative).
        public func value(after buckets: Double) -> Double {
            Self.path(level: level, slope: slope, growth: growth, after: buckets)
        }

        /// The paths that bound `intervalUntil` (the fastest falls from the lowest level at the
        /// steepest slope, the slowest from the highest at the shallowest), `buckets` after `time`:
        /// the 95% band around the trend ahead.
        public func band(after buckets: Double) -> (fast: Double, slow: Double) {
            let (fast, slow) = edges
            return (
                Self.path(level: fast.level, slope: fast.slope, growth: growth, after: buckets),
                Self.path(level: slow.level, slope: slow.slope, growth: growth, after: buckets)
            )
        }

        private var edges: (fast: (level: Double, slope: Double), slow: (level: Double, slope: Double)) {
            let levelError = 1.96 * sigma / Double(max(1, min(points, 24))).squareRoot()
            let steep = min(slopeLow, slope)
            let shallow = max(slopeHigh, slope)
            return ((level - levelError, steep), (level + levelError, min(shallow, -1e-12)))
        }

        static func path(level: Double, slope: Double, growth: Double, after t: Double) -> Double {
            growth > 0 ? level + slope * expm1(growth * t) / growth : level + slope * t
        }

        static func until(_ threshold: Double, level: Double, slope: Double, growth: Double) -> Double? {
            if level <= threshold { return 0 }
            guard slope < 0 else { return nil }
            let drop = level - threshold
            if growth > 0 {
                // level + slope · (e^{g·τ} − 1) / g = threshold
                let x = 1 + growth * drop / -slope
                return log(x) / growth
            }
            return drop / -slope
        }
    }

    /// Fewest points a fit needs.
    public static let minimumPoints = 24

    /// Fits `values` at bucket `times` (ascending). Pairs straddling `shift` (a bucket time where
    /// the level jumped) are not used for the slope, and the level comes from after it.
    /// `allowAcceleration` enables the accelerating model when the data supports it.
    /// `accelerationBelow`: the accelerating model is considered only when the level is at or
    /// below this (end of life; a steepening far above the threshold is weather, not wear).
    public static func fit(
        times: [Double], values: [Double], shift: Double? = nil, now: Double, allowAcceleration: Bool = true,
        accelerationBelow: Double = .infinity
    ) -> Fit? {
        let count = times.count
        guard count >= minimumPoints, values.count == count else { return nil }
        guard let (slope, low, high) = senSlope(times, values, from: 0, to: count, shift: shift) else { return nil }
        // Level at `now` from the points after the shift, weighted to the recent day or two.
        let after = shift.map { s in times.firstIndex { $0 >= s } ?? count } ?? 0
        let recentStart = max(after, count - 48)
        guard recentStart < count else { return nil }
        var offsets: [Double] = []
        offsets.reserveCapacity(count - recentStart)
        for i in recentStart..<count { offsets.append(values[i] - slope * (times[i] - now)) }
        let level = RobustStatistics.median(sorting: &offsets) ?? .nan
        var residuals: [Double] = []
        residuals.reserveCapacity(count - after)
        for i in after..<count { residuals.append(abs(values[i] - (level + slope * (times[i] - now)))) }
        let sigma = RobustStatistics.spread(deviations: &residuals)
        var fit = Fit(
            model: .linear, slope: slope, slopeLow: low, slopeHigh: high, level: level, sigma: sigma, growth: 0,
            points: count, time: now)
        if allowAcceleration, level <= accelerationBelow,
            let accelerated = accelerate(times, values, from: after, now: now, linear: fit),
            plausible(accelerated, times, values, from: after, linear: fit)
        {
            fit = accelerated
        }
        return fit
    }

    /// The accelerating model: over the most recent buckets (up to four days' worth, after any
    /// shift), fit `level(t) = a + b · (e^{g·(t − now)} − 1) / g` by least squares for a grid of
    /// growth rates g, and keep it only when it explains the data significantly better than a
    /// straight line over the same buckets (an F test at about p < 0.001) with a falling rate.
    /// The rate at `now` is b; its interval comes from the growth rates whose fit is nearly as good.
    static func accelerate(_ times: [Double], _ values: [Double], from start: Int, now: Double, linear: Fit) -> Fit? {
        // The shortest window that shows the curve: just after the knee, older straight buckets
        // in a longer window would flatten the fitted growth.
        for window in [48, 72, 96] {
            if let fit = accelerate(times, values, from: start, window: window, now: now, linear: linear) { return fit }
        }
        return nil
    }

    static func accelerate(
        _ times: [Double], _ values: [Double], from start: Int, window: Int, now: Double, linear: Fit
    ) -> Fit? {
        let first = max(start, times.count - window)
        let count = times.count - first
        guard count >= 48 else { return nil }
        let t = times[first...].map { $0 - now }
        let y = Array(values[first...])
        // Least squares of y on [1, x]; returns (a, b, sse).
        func line(_ x: [Double]) -> (a: Double, b: Double, sse: Double)? {
            let n = Double(x.count)
            let mx = x.reduce(0, +) / n
            let my = y.reduce(0, +) / n
            var sxx = 0.0
            var sxy = 0.0
            for k in x.indices {
                sxx += (x[k] - mx) * (x[k] - mx)
                sxy += (x[k] - mx) * (y[k] - my)
            }
            guard sxx > 0 else { return nil }
            let b = sxy / sxx
            let a = my - b * mx
            var sse = 0.0
            for k in x.indices { sse += (y[k] - a - b * x[k]) * (y[k] - a - b * x[k]) }
            return (a, b, sse)
        }
        guard let straight = line(t) else { return nil }
        // Growth per bucket from 0.0005 (1.2%/day) to 0.05 (×3.3 a day), log-spaced.
        var best: (g: Double, a: Double, b: Double, sse: Double)?
        var grid: [(g: Double, a: Double, b: Double, sse: Double)] = []
        for k in 0..<41 {
            let g = 0.0005 * pow(100, Double(k) / 40)
            guard let fit = line(t.map { (exp(g * $0) - 1) / g }) else { continue }
            grid.append((g, fit.a, fit.b, fit.sse))
            if fit.sse < (best?.sse ?? .infinity) { best = (g, fit.a, fit.b, fit.sse) }
        }
        guard let best, best.b < 0, straight.b < 0, best.sse > 0 else { return nil }
        let dof = Double(count - 3)
        let f = (straight.sse - best.sse) / (best.sse / dof)
        guard f > 12 else { return nil }
        // Growth rates whose fit is within the F threshold of the best one bound the interval.
        let limit = best.sse * (1 + 4 / dof)
        let near = grid.filter { $0.sse <= limit && $0.b < 0 }
        let slopes = near.map(\.b)
        let sigma = (best.sse / dof).squareRoot()
        return Fit(
            model: .accelerating, slope: best.b, slopeLow: min(best.b, slopes.min() ?? best.b),
            slopeHigh: max(best.b, slopes.max() ?? best.b), level: best.a, sigma: sigma, growth: best.g,
            points: linear.points, time: now)
    }

    /// Robust sanity checks on an accelerating fit: the last two days' Theil–Sen slope must be
    /// at least 15% steeper than the whole window's, and the curve may at most cut that recent
    /// straight line's time to any level by 60% (a real end-of-life curve shortens it by 15–50%;
    /// a few low buckets at the end of a least-squares fit can shorten it tenfold).
    static func plausible(_ a: Fit, _ times: [Double], _ values: [Double], from start: Int, linear: Fit) -> Bool {
        let from = max(start, times.count - 48)
        guard times.count - from >= minimumPoints,
            let recent = senSlope(times, values, from: from, to: times.count, shift: nil),
            recent.slope < 1.15 * linear.slope
        else { return false }
        // Time to fall by a fixed amount (a tenth of the level) under each model.
        let drop = max(1e-9, abs(a.level) * 0.1)
        guard let curved = Fit.until(a.level - drop, level: a.level, slope: a.slope, growth: a.growth) else {
            return false
        }
        let straight = drop / -recent.slope
        return curved >= 0.4 * straight
    }

    /// Smallest bend (rate after over rate before) a device's own buckets must show for its
    /// forecast to start at the bend.
    public static let smallestBend = 2.0

    /// A bend in the device's own buckets: the level follows one straight line and then, from
    /// bucket `start` on, a steeper one that begins where the first ended. A jump in level
    /// (the second line starting away from the first) or a rate that does not at least double is
    /// no bend. Searched only when the last day's rate is at least `smallestBend` times the whole
    /// window's, so a straight discharge costs one extra Theil–Sen fit of 24 buckets.
    ///
    /// Returns the index of the first bucket after the bend, or nil.
    public static func bend(times: [Double], values: [Double], from first: Int = 0) -> Int? {
        let n = times.count
        let minimum = minimumPoints / 2
        guard n - first >= 3 * minimum, values.count == n,
            let whole = senSlope(times, values, from: first, to: n, shift: nil), whole.slope < 0,
            let recent = senSlope(times, values, from: n - minimum * 2, to: n, shift: nil),
            recent.slope <= smallestBend * whole.slope
        else { return nil }
        // Prefix sums for least-squares lines on either side of every candidate.
        let count = n - first
        var st = Array(repeating: 0.0, count: count + 1)
        var sy = st
        var stt = st
        var sty = st
        var syy = st
        for j in 0..<count {
            let t = times[first + j] - times[first]
            let y = values[first + j]
            st[j + 1] = st[j] + t
            sy[j + 1] = sy[j] + y
            stt[j + 1] = stt[j] + t * t
            sty[j + 1] = sty[j] + t * y
            syy[j + 1] = syy[j] + y * y
        }
        func line(_ a: Int, _ b: Int) -> (slope: Double, intercept: Double, sse: Double)? {
            let m = Double(b - a)
            let mt = (st[b] - st[a]) / m
            let my = (sy[b] - sy[a]) / m
            let sxx = (stt[b] - stt[a]) - m * mt * mt
            let sxy = (sty[b] - sty[a]) - m * mt * my
            let syy2 = (syy[b] - syy[a]) - m * my * my
            guard sxx > 0 else { return nil }
            let slope = sxy / sxx
            return (slope, my - slope * mt, max(0, syy2 - slope * sxy))
        }
        guard let single = line(0, count) else { return nil }
        var best:
            (
                k: Int, sse: Double, before: (slope: Double, intercept: Double, sse: Double),
                after: (slope: Double, intercept: Double, sse: Double)
            )?
        for k in minimum...(count - minimum) {
            guard let a = line(0, k), let b = line(k, count) else { continue }
            if a.sse + b.sse < (best?.sse ?? .infinity) { best = (k, a.sse + b.sse, a, b) }
        }
        guard let best, best.before.slope < 0, best.after.slope <= smallestBend * best.before.slope else { return nil }
        // Significantly better than one line (F with 2 and n − 4 degrees of freedom, p ≪ 0.001),
        // and the two lines meet at the bend: within three residual deviations.
        let dof = Double(count - 4)
        let sigma = (best.sse / dof).squareRoot()
        guard (single.sse - best.sse) / 2 / (best.sse / dof) > 12 else { return nil }
        let tk = (times[first + best.k - 1] + times[first + best.k]) / 2 - times[first]
        let gap = (best.after.intercept + best.after.slope * tk) - (best.before.intercept + best.before.slope * tk)
        guard abs(gap) <= 3 * sigma + 0.5 * abs(best.after.slope) else { return nil }
        // Robustly too: the shallow end of the steep part's Theil–Sen interval is still at least
        // `smallestBend` times the rate before (a noisy gauge makes short lines of any slope).
        let k = first + best.k
        guard let before = senSlope(times, values, from: first, to: k, shift: nil),
            let after = senSlope(times, values, from: k, to: n, shift: nil),
            before.slope < 0, after.high <= smallestBend * before.slope
        else { return nil }
        return k
    }

    /// Theil–Sen slope over pairs half the range apart (each point paired with the one `h`
    /// positions later), which keeps the estimator's robustness at a linear cost; with the
    /// order-statistic 95% interval of the pair slopes.
    static func senSlope(
        _ times: [Double], _ values: [Double], from start: Int, to end: Int, shift: Double?
    ) -> (slope: Double, low: Double, high: Double)? {
        let n = end - start
        guard n >= 4 else { return nil }
        var slopes: [Double] = []
        slopes.reserveCapacity(n)
        // Two lags (a half and a third of the range) give more pairs without short, noisy ones.
        for h in Set([max(1, n / 2), max(1, n / 3)]) {
            var i = start
            while i + h < end {
                let j = i + h
                let dt = times[j] - times[i]
                if dt > 0, !(shift.map { times[i] < $0 && times[j] >= $0 } ?? false) {
                    slopes.append((values[j] - values[i]) / dt)
                }
                i += 1
            }
        }
        guard slopes.count >= 3 else { return nil }
        slopes.sort()
        let m = slopes.count
        guard let slope = RobustStatistics.median(sorted: slopes) else { return nil }
        // Ranks of the median's 95% interval, treating pair slopes as independent draws.
        let half = 0.98 * Double(m).squareRoot()
        let lo = slopes[max(0, Int((Double(m) / 2 - half).rounded(.down)))]
        let hi = slopes[min(m - 1, Int((Double(m) / 2 + half).rounded(.up)))]
        return (slope, lo, hi)
    }
}
