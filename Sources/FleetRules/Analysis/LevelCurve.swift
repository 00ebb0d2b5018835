import Foundation

/// How fast a metric moves as a function of its level, learned from a cohort of devices that
/// share it (cells of one type): the rate at a level is the device's own base rate times the
/// cohort's multiplier for that level. A cell type that discharges faster and faster near empty
/// has multipliers growing towards the threshold; a straight discharge has all of them at 1.
///
/// The level range is cut into `bands` equal bands. Devices report, for two adjacent bands they
/// went through, the ratio of their rate in the lower band to their rate in the upper one
/// (`BandTracker`); each band keeps the latest `capacity` ratios, and the multiplier of a band is
/// the product of the significant median ratios from the top band down. Ratios of one device
/// cancel its own base rate, so fast and slow devices, warm and cold, teach the same curve.
///
/// Levels are mirrored as in `ForecastAnalyzer` (falling towards the threshold).
public struct LevelCurve: Sendable {
    public static let bands = 20
    /// Ratios kept per band (the most recent ones).
    public static let capacity = 256
    /// Fewest ratios before a band's median counts.
    public static let minimumSamples = 5

    /// Lower edge of the lowest band and the width of a band (mirrored units).
    public let low: Double
    public let width: Double
    private var samples: [[Float]]
    private var next: [Int]

    public init(low: Double, high: Double) {
        self.low = low
        width = max(1e-9, (high - low) / Double(Self.bands))
        samples = Array(repeating: [], count: Self.bands)
        next = Array(repeating: 0, count: Self.bands)
    }

    /// The band a level falls in (levels outside the range take the nearest band).
    public func band(of level: Double) -> Int {
        let k = ((level - low) / width).rounded(.down)
        guard k.isFinite else { return 0 }
        return Int(min(Double(Self.bands - 1), max(0, k)))
    }

    /// Largest change of rate from one band to the next that is learned (either way): an abrupt
    /// knee at a band's edge changes it by its whole bend, 3 to 8 times; more is a gauge that
    /// jumped.
    public static let largestChange = 16.0

    /// Records a device's rate in `band` divided by its rate in `band + 1`.
    public mutating func add(ratio: Double, band k: Int) {
        guard k >= 0, k < Self.bands - 1, ratio.isFinite, ratio > 1 / Self.largestChange, ratio < Self.largestChange
        else { return }
        if samples[k].count < Self.capacity {
            samples[k].append(Float(ratio))
        } else {
            samples[k][next[k]] = Float(ratio)
            next[k] = (next[k] + 1) % Self.capacity
        }
    }

    /// Ratios recorded for `band` (at most `capacity`; 0 outside the bands).
    public func sampleCount(band k: Int) -> Int { samples.indices.contains(k) ? samples[k].count : 0 }

    /// Rate multiplier per band, lowest band first; the top band is 1. (The engine keeps the
    /// result, as a `LevelProfile`, until the curve's next ratio.)
    public func multipliers() -> [Double] {
        var m = Array(repeating: 1.0, count: Self.bands)
        var product = 1.0
        for k in stride(from: Self.bands - 2, through: 0, by: -1) {
            product *= Self.significantMedian(samples[k])
            m[k] = product
        }
        return m
    }

    /// Smallest change of rate from one band to the next that counts (5%): a knee changes it by
    /// 15–30% a band; slower drifts (a season cooling the cells over weeks) look like a curve
    /// in level because level and time move together, and must not be learned as one.
    public static let minimumChange = 1.05

    /// The median ratio when at least `minimumSamples` agree that it differs from 1: its distance
    /// from 1 (in logarithms) is more than three standard errors of the median, from the MAD,
    /// and at least `minimumChange`. Otherwise 1: a band nobody has been through, or where
    /// devices disagree, keeps the rate.
    static func significantMedian(_ ratios: [Float]) -> Double {
        guard ratios.count >= minimumSamples else { return 1 }
        var logs = ratios.map { log(Double($0)) }
        let median = RobustStatistics.median(sorting: &logs) ?? .nan
        var deviations = logs.map { abs($0 - median) }
        let mad = RobustStatistics.spread(deviations: &deviations)
        let standardError = 1.2533 * mad / Double(ratios.count).squareRoot()
        return abs(median) > max(3 * standardError, log(minimumChange)) ? exp(median) : 1
    }
}

/// The learned curve as a fixed function, and the level transform that turns it into a straight
/// line. The multiplier is each band's at the band's centre, linear in between (constant beyond
/// the outer centres): a gentle knee is a bend, not a step. `phi(v)` is the time, at base rate 1,
/// from the lowest centre to `v` (∫ dl / m(l)); a device following the curve has `phi(level)`
/// falling linearly at its base rate, so a straight-line fit of `phi` values predicts along it.
///
/// An abrupt knee is a step: when the rate changes at least `abruptChange` times across one band
/// (the bands above and below it), the rate is the upper band's down to the knee and the lower
/// band's below it, with the knee placed inside the band where the band's own measured rate says
/// (see `kneeLevel`). Interpolating across such a band would spread a bend of 3 to 8 times over
/// two bands and put the last fast weeks days too early.
struct LevelProfile: Sendable {
    let low: Double
    let width: Double
    let multipliers: [Double]
    /// The abrupt knee, if the curve has one: its level (mirrored units) and the multipliers above
    /// and below it.
    let knee: (level: Double, above: Double, below: Double)?
    /// Levels (ascending) where the multiplier is given, linear in between.
    private let xs: [Double]
    private let ms: [Double]
    /// `phi` at each of `xs`.
    private let knots: [Double]

    /// Smallest change of rate across one band that is a step rather than a gentle bend (a gentle
    /// end-of-life curve changes the rate by 15–30% a band).
    static let abruptChange = 2.0

    init(low: Double, width: Double, multipliers: [Double]) {
        self.low = low
        self.width = width
        let m = multipliers.isEmpty ? [1] : multipliers
        self.multipliers = m
        var xs = m.indices.map { low + (Double($0) + 0.5) * width }
        var ms = m
        let knee = Self.abruptKnee(m, low: low, width: width)
        if let knee, let j = knee.band {
            // Replace the knee band's centre by a step at the knee.
            let epsilon = 1e-6 * width
            let level = min(max(knee.level, xs[j - 1] + 2 * epsilon), xs[j + 1] - 2 * epsilon)
            xs.replaceSubrange(j...j, with: [level - epsilon, level + epsilon])
            ms.replaceSubrange(j...j, with: [m[j - 1], m[j + 1]])
            self.knee = (level, m[j + 1], m[j - 1])
        } else {
            self.knee = nil
        }
        var knots = [0.0]
        for k in xs.indices.dropFirst() {
            knots.append(knots[k - 1] + Self.integral(ms[k - 1], ms[k], xs[k] - xs[k - 1], xs[k] - xs[k - 1]))
        }
        self.xs = xs
        self.ms = ms
        self.knots = knots
    }

    /// The band whose neighbours' multipliers differ most, when by at least `abruptChange`, and
    /// the knee's level within it.
    static func abruptKnee(_ m: [Double], low: Double, width: Double) -> (band: Int?, level: Double)? {
        guard m.count >= 3 else { return nil }
        var best: (band: Int, change: Double)?
        for j in 1..<(m.count - 1) {
            let change = abs(log(m[j - 1] / m[j + 1]))
            if change >= log(abruptChange), change > (best?.change ?? 0) { best = (j, change) }
        }
        guard let j = best?.band else { return nil }
        return (j, kneeLevel(band: j, above: m[j + 1], within: m[j], below: m[j - 1], low: low, width: width))
    }

    /// Where in band `j` the rate steps from `above` to `below`, given the band's own rate
    /// `within` (the least-squares slope of a device's buckets in the band, relative like the
    /// others): the share of the band run at the upper rate is the one whose broken line has that
    /// least-squares slope. A band's buckets are the ones from a tenth of a band below its upper
    /// edge to a tenth below its lower edge (`BandTracker`'s hysteresis), so the band is taken
    /// as that span.
    static func kneeLevel(
        band j: Int, above: Double, within: Double, below: Double, low: Double, width: Double
    ) -> Double {
        let top = low + (Double(j) + 0.9) * width
        let ratio = below / above
        let observed = within / above
        // Least-squares slope (in units of the upper rate) of a level falling `a` at rate 1, then
        // the rest of the band at `ratio`, sampled evenly in time.
        func slope(_ a: Double) -> Double {
            let t1 = a
            let total = a + (width - a) / ratio
            let n = 64
            var st = 0.0, sy = 0.0, stt = 0.0, sty = 0.0
            for i in 0...n {
                let t = total * Double(i) / Double(n)
                let y = t <= t1 ? -t : -t1 - ratio * (t - t1)
                st += t
                sy += y
                stt += t * t
                sty += t * y
            }
            let count = Double(n + 1)
            let sxx = stt - st * st / count
            return sxx > 0 ? -(sty - st * sy / count) / sxx : 1
        }
        // slope(0) = ratio (all of the band below the knee), slope(width) = 1: bisect between.
        var lo = 0.0
        var hi = width
        let rising = ratio < 1
        for _ in 0..<40 {
            let mid = (lo + hi) / 2
            if (slope(mid) > observed) != rising { lo = mid } else { hi = mid }
        }
        return top - (lo + hi) / 2
    }

    /// ∫₀ˣ dl / m(l) for m rising linearly from `m0` to `m1` over `span`.
    private static func integral(_ m0: Double, _ m1: Double, _ span: Double, _ x: Double) -> Double {
        guard abs(m1 - m0) > 1e-12 * m0, span > 0 else { return x / m0 }
        let slope = (m1 - m0) / span
        return log1p(slope * x / m0) / slope
    }

    /// The segment `v` lies in: k such that xs[k] ≤ v < xs[k + 1], -1 below the first knot, the
    /// last index above the last.
    private func segment(_ v: Double) -> Int {
        guard v.isFinite else { return v > 0 ? xs.count - 1 : -1 }
        if v < xs[0] { return -1 }
        var k = 0
        while k + 1 < xs.count, xs[k + 1] <= v { k += 1 }
        return k
    }

    /// Whether the multiplier changes anywhere between `a` and `b` (either order). A constant
    /// multiplier, 1 or not, is a straight line.
    func bends(from a: Double, to b: Double) -> Bool {
        let lo = min(a, b)
        let hi = max(a, b)
        var values = [multiplier(at: lo), multiplier(at: hi)]
        for (x, m) in zip(xs, ms) where x > lo && x < hi { values.append(m) }
        return (values.max() ?? 1) > (values.min() ?? 1) * (1 + 1e-9)
    }

    func multiplier(at v: Double) -> Double {
        let k = segment(v)
        if k < 0 { return ms[0] }
        if k >= xs.count - 1 { return ms[xs.count - 1] }
        return ms[k] + (ms[k + 1] - ms[k]) * (v - xs[k]) / (xs[k + 1] - xs[k])
    }

    func phi(_ v: Double) -> Double {
        let k = segment(v)
        if k < 0 { return (v - xs[0]) / ms[0] }
        let last = xs.count - 1
        if k >= last { return knots[last] + (v - xs[last]) / ms[last] }
        return knots[k] + Self.integral(ms[k], ms[k + 1], xs[k + 1] - xs[k], v - xs[k])
    }

    func inversePhi(_ p: Double) -> Double {
        if p < 0 { return xs[0] + p * ms[0] }
        let last = xs.count - 1
        var k = 0
        while k < last, knots[k + 1] <= p { k += 1 }
        if k >= last { return xs[last] + (p - knots[last]) * ms[last] }
        let m0 = ms[k]
        let q = p - knots[k]
        let span = xs[k + 1] - xs[k]
        guard abs(ms[k + 1] - m0) > 1e-12 * m0, span > 0 else { return xs[k] + q * m0 }
        let slope = (ms[k + 1] - m0) / span
        return min(xs[k + 1], xs[k] + m0 * expm1(slope * q) / slope)
    }
}

/// Per device: the least-squares slope of its bucket levels within the band it is in, and the
/// slope of the band before. When the level moves down into the next band, the finished band's
/// slope over the previous band's is the ratio the cohort learns from. A tenth of a band of
/// hysteresis keeps a noisy gauge at an edge in one band; a move up, a skipped band or a level
/// shift starts over (the ratio must come from one battery going steadily through both bands).
struct BandTracker: Sendable {
    private(set) var band: Int16 = -1
    private var previousSlope = Float.nan
    private var count: Int32 = 0
    private var origin: Int32 = 0
    private var sumT = 0.0
    private var sumV = 0.0
    private var sumTT = 0.0
    private var sumTV = 0.0
    private var lastT: Int32 = 0

    /// Fewest buckets, and fewest buckets of time span, for a band's slope.
    static let minimumBuckets: Int32 = 6

    /// Adds one bucket (its index and trimmed mean, mirrored). Returns a finished ratio for the
    /// cohort, as (band, rate in band / rate in band + 1).
    mutating func add(bucket b: Int, level v: Double, curve: LevelCurve) -> (band: Int, ratio: Double)? {
        let k = curve.band(of: v)
        guard band >= 0 else {
            start(k, bucket: b, level: v)
            return nil
        }
        let current = Int(band)
        let lowerEdge = curve.low + Double(current) * curve.width
        let margin = 0.1 * curve.width
        if v < lowerEdge - margin {
            let slope = self.slope()
            var finished: (Int, Double)?
            if let slope, slope < 0, previousSlope < 0 { finished = (current, Double(slope / previousSlope)) }
            previousSlope = k == current - 1 ? slope ?? .nan : .nan
            start(k, bucket: b, level: v)
            return finished
        }
        if v > lowerEdge + curve.width + margin {
            reset()
            start(k, bucket: b, level: v)
            return nil
        }
        accumulate(b, v)
        return nil
    }

    /// Forgets the bands (a replacement or a level shift).
    mutating func reset() {
        band = -1
        previousSlope = .nan
    }

    private mutating func start(_ k: Int, bucket b: Int, level v: Double) {
        band = Int16(k)
        count = 0
        origin = Int32(truncatingIfNeeded: b)
        sumT = 0
        sumV = 0
        sumTT = 0
        sumTV = 0
        accumulate(b, v)
    }

    private mutating func accumulate(_ b: Int, _ v: Double) {
        lastT = Int32(truncatingIfNeeded: b) &- origin
        let t = Double(lastT)
        count += 1
        sumT += t
        sumV += v
        sumTT += t * t
        sumTV += t * v
    }

    private func slope() -> Float? {
        guard count >= Self.minimumBuckets, lastT >= Self.minimumBuckets else { return nil }
        let n = Double(count)
        let sxx = sumTT - sumT * sumT / n
        guard sxx > 0 else { return nil }
        return Float((sumTV - sumT * sumV / n) / sxx)
    }
}

/// The learned curves of one metric's cohorts (`curve_by`), shared by every forecast rule of
/// that metric with the same `curve_by` and direction: a cell type's curve does not depend on
/// which rule forecasts the device, and the small rules (a few remote sites) learn from the whole
/// fleet. Cohorts are keyed by the devices' attribute values.
struct CurveBook: Sendable {
    /// What the book is shared by, the metric and direction, the attributes that define a cohort,
    /// and the rules that share it.
    let key: String
    let metric: String
    let falling: Bool
    let attributes: [String]
    private(set) var rules: [String]
    /// Per device, the rule (index into `rules`) whose ratios it teaches: the first that sent
    /// one. A device in the scope of two rules of the book is counted once, not once per rule.
    private var teacher: [Int8] = []
    private let template: LevelCurve
    private(set) var curves: [LevelCurve] = []
    /// Each cohort's attribute values, in `attributes` order.
    private(set) var names: [[String]] = []
    private var index: [[String]: Int] = [:]
    private var profiles: [LevelProfile?] = []

    init(metric: String, falling: Bool, attributes: [String], rule: String, template: LevelCurve) {
        key = ([metric, falling ? "falling" : "rising"] + attributes).joined(separator: "\u{1F}")
        self.metric = metric
        self.falling = falling
        self.attributes = attributes
        rules = [rule]
        self.template = template
    }

    mutating func share(with rule: String) { rules.append(rule) }

    /// The cohort of these attribute values, created when new.
    mutating func cohort(_ name: [String]) -> Int {
        if let c = index[name] { return c }
        let c = curves.count
        index[name] = c
        names.append(name)
        curves.append(template)
        profiles.append(nil)
        return c
    }

    /// Records a ratio device `d` learned under `rule` (an index into `rules`), unless the device
    /// teaches under another rule of the book.
    mutating func add(ratio: Double, band: Int, cohort c: Int, device d: Int, rule: Int) {
        guard curves.indices.contains(c), d >= 0 else { return }
        if d >= teacher.count { teacher += Array(repeating: -1, count: d + 1 - teacher.count) }
        if teacher[d] < 0 { teacher[d] = Int8(clamping: rule) }
        guard Int(teacher[d]) == rule else { return }
        curves[c].add(ratio: ratio, band: band)
        profiles[c] = nil
    }

    func ruleIndex(_ rule: String) -> Int { rules.firstIndex(of: rule) ?? 0 }

    /// The cohort's curve as a function (cached until its next ratio).
    mutating func profile(_ c: Int) -> LevelProfile {
        if let p = profiles[c] { return p }
        let p = LevelProfile(low: curves[c].low, width: curves[c].width, multipliers: curves[c].multipliers())
        profiles[c] = p
        return p
    }
}
