import Foundation

// Longer than 400 lines: the forecast analyzer's per-device bucket state, its fits (straight,
// accelerating, along a learned curve) and its findings read the same private state, so they
// stay together with the report's snapshot type.

/// One forecast of one device at one time, as the report lists it.
public struct ForecastSnapshot: Sendable {
    /// What the fit says about the gauge.
    public enum State: String, Sendable {
        /// Heading for the threshold: `crossingAt` is set (to `at` when the level is already past it).
        case depleting
        /// No trend towards the threshold.
        case stable
        /// Fewer buckets than a fit needs (new device, or just after a replacement).
        case insufficient
        /// The gauge reads the same value for days.
        case flat
        /// The gauge jumps around more than a trend can explain.
        case erratic
        /// The gauge stopped reporting.
        case silent
    }

    /// The device's id.
    public var device: String
    /// The forecast rule's id.
    public var rule: String
    /// When the fit was made, seconds since the epoch.
    public var at: Double
    /// What the fit says.
    public var state: State
    /// The fitted level at `at`.
    public var level: Double?
    /// The fitted slope, metric units per day.
    public var slopePerDay: Double?
    /// The predicted threshold crossing, seconds since the epoch.
    public var crossingAt: Double?
    /// The early end of the crossing's 95% interval.
    public var low: Double?
    /// The late end of the crossing's 95% interval.
    public var high: Double?
    /// Buckets the fit used.
    public var points: Int
    /// The model fitted (linear or the learned curve).
    public var model: RobustTrend.Model?

    /// Whether the level is already past the threshold: the predicted crossing is now.
    public var isPastThreshold: Bool { state == .depleting && (crossingAt.map { $0 <= at } ?? false) }

    func json() -> JSONValue {
        func time(_ t: Double?) -> JSONValue { t.map { .string(Timestamp.format($0.rounded())) } ?? .null }
        func number(_ v: Double?) -> JSONValue { v.map { .number(($0 * 1000).rounded() / 1000) } ?? .null }
        return .object([
            ("device", .string(device)), ("rule", .string(rule)), ("at", time(at)), ("state", .string(state.rawValue)),
            ("level", number(level)), ("slope_per_day", number(slopePerDay)), ("crossing_at", time(crossingAt)),
            ("low", time(low)), ("high", time(high)), ("points", .number(Double(points))),
            ("model", model.map { .string($0.rawValue) } ?? .null),
        ])
    }
}

/// Evaluates a `forecast` rule: per device, readings are reduced to fixed buckets (a trimmed
/// mean, so single outliers do not count), a robust trend is fitted over the `fit` window every
/// few hours, and the predicted threshold crossing opens, escalates or resolves the alert.
///
/// A jump towards "full" (a replaced battery) restarts the fit; a level shift the other way
/// (a sudden drop) keeps the history but no pair of buckets across the shift is used for the
/// slope. Gauges that are flat, erratic or silent get a finding of their own instead of a
/// prediction. State per device: one Float per bucket of the fit window plus ~96 bytes, and
/// 60 more with `curve_by` (see `LevelCurve`).
struct ForecastAnalyzer: Analyzer {
    var observesApplicableOnly: Bool { true }
    let operatorIndex: Int
    let metrics: [Int]
    let tickInterval: Double
    let rule: ForecastRule
    let ruleID: String
    let capacity: Int
    /// Fits run every this many ticks (buckets).
    let refitEvery: Int
    /// +1 for a falling forecast, −1 for rising: values are mirrored so the maths always falls.
    let sign: Double
    let threshold: Double
    /// A bucket this far from the trend is a level shift (a replacement when towards "full").
    let stepSize: Double
    /// Levels (mirrored) at or below which the accelerating model is considered.
    let accelerationBelow: Double
    /// Residual scatter above this makes the gauge erratic.
    let erraticSigma: Double
    let silentAfter: Double
    let flatAfter: Double
    let lead: Double
    /// The metric's declared range: the plotted series are clamped to it.
    let range: ClosedRange<Double>?
    var recordHistory = false

    private let n: Int
    private var ring: [Float]
    /// What each reading updates, in one 48-byte record per device (one cache line touched).
    private struct Accumulator {
        /// The bucket being accumulated (`noBucket`: none yet), its sum, count, min and max.
        var bucket = ForecastAnalyzer.noBucket
        var sum = 0.0
        var count: Int32 = 0
        var min = Float.infinity
        var max = -Float.infinity
        /// The latest raw value (mirrored) and since when the gauge has read exactly it.
        var rawLast = Float.nan
        var flatSince = Double.infinity
        var lastReading = -Double.infinity
    }
    private var acc: [Accumulator]
    /// First bucket of the current battery (after the latest replacement).
    private var fitStart: [Int]
    /// Bucket of the latest downward level shift (Int.min: none).
    private var shift: [Int]
    /// Level jumps either way, decaying over the fit window: three or more make the gauge erratic.
    private var shiftScore: [Float]
    private var lastShiftBucket: [Int]
    private var lastValid: [Float]
    private var lastValidBucket: [Int]
    /// Slope per bucket of the latest fit (mirrored), for the step test.
    private var lastSlope: [Float]
    private var replacedAt: [Double]
    private var forecastOpen: [Bool]
    /// Accelerating fits in a row: the model is used from the third (12 hours of agreement).
    private var accelerating: [UInt8]
    private var gaugeOpen: [Bool]
    private var latest: [ForecastSnapshot?]
    /// `curve_by`: the cohorts' learned curves (shared with the other rules of the book's key
    /// while the engine ticks), each device's cohort (-1: none yet; checked at every fit and
    /// when its ratios are handed over), its place in its current band, and the ratios learned
    /// since the last tick.
    var curves: CurveBook?
    private var cohort: [Int32]
    private var bands: [BandTracker]
    private var learned: [(device: Int32, band: Int16, ratio: Float)] = []
    /// The band layout of the curves (mirrored range), nil without `curve_by`.
    private let curveTemplate: LevelCurve?
    private(set) var history: [ForecastSnapshot] = []
    private var lastHistoryDay = Int.min
    /// The latest refit's prediction when it was depleting, and the plot series of the devices
    /// that cross soonest within the horizon at the end of the data.
    private var lastPrediction: Prediction?
    private var series: [ForecastSeries] = []

    static let noBucket = Int.min
    /// Predictions further out than this (ten years) are reported as no trend.
    static let farthest = 3650 * 86400.0

    init(
        operatorIndex o: Int, rule r: Rule, forecast f: ForecastRule, metric m: Int, range: ClosedRange<Double>?,
        devices: Int
    ) {
        operatorIndex = o
        metrics = [m]
        rule = f
        ruleID = r.id
        let bucket = f.bucket
        tickInterval = bucket
        capacity = max(RobustTrend.minimumPoints, Int((f.fit / bucket).rounded(.up)))
        refitEvery = max(1, Int((min(6 * 3600, f.fit / 8) / bucket).rounded()))
        sign = f.direction == .falling ? 1 : -1
        threshold = sign * f.threshold
        let span = range.map { $0.upperBound - $0.lowerBound }
        stepSize = span.map { 0.08 * $0 } ?? .infinity
        // The last 35% of the way from the range's far end to the threshold.
        if let range {
            let far = f.direction == .falling ? range.upperBound : range.lowerBound
            accelerationBelow = sign * (f.threshold + 0.35 * (far - f.threshold))
        } else {
            accelerationBelow = .infinity
        }
        erraticSigma = span.map { 0.05 * $0 } ?? .infinity
        silentAfter = max(86400, 12 * bucket)
        flatAfter = 3 * 86400
        lead = r.maintenance?.lead ?? 0
        self.range = range
        n = devices
        ring = Array(repeating: .nan, count: devices * capacity)
        acc = Array(repeating: Accumulator(), count: devices)
        fitStart = Array(repeating: Self.noBucket, count: devices)
        shift = Array(repeating: Self.noBucket, count: devices)
        shiftScore = Array(repeating: 0, count: devices)
        lastShiftBucket = Array(repeating: 0, count: devices)
        lastValid = Array(repeating: .nan, count: devices)
        lastValidBucket = Array(repeating: Self.noBucket, count: devices)
        lastSlope = Array(repeating: 0, count: devices)
        replacedAt = Array(repeating: -.infinity, count: devices)
        forecastOpen = Array(repeating: false, count: devices)
        accelerating = Array(repeating: 0, count: devices)
        gaugeOpen = Array(repeating: false, count: devices)
        latest = Array(repeating: nil, count: devices)
        if !f.curveBy.isEmpty, f.model == .auto, let range {
            let ends = [sign * range.lowerBound, sign * range.upperBound]
            let template = LevelCurve(low: ends.min() ?? 0, high: ends.max() ?? 0)
            curveTemplate = template
            curves = CurveBook(
                metric: f.metric, falling: f.direction == .falling, attributes: f.curveBy, rule: r.id,
                template: template)
            cohort = Array(repeating: -1, count: devices)
            bands = Array(repeating: BandTracker(), count: devices)
        } else {
            curveTemplate = nil
            cohort = []
            bands = []
        }
    }

    mutating func prefetch(device: Int) { acc.prefetch(device) }

    mutating func observe(device d: Int, metric: Int, value: Double, time t: Double) {
        let b = Int((t / tickInterval).rounded(.down))
        let v = sign * value
        if acc[d].bucket != b {
            if acc[d].bucket != Self.noBucket, b > acc[d].bucket { close(d) }
            if b < acc[d].bucket { return }  // older than the open bucket (within lateness): ignore
            acc[d].bucket = b
        }
        let f = Float(v)
        acc[d].sum += v
        acc[d].count += 1
        acc[d].min = min(acc[d].min, f)
        acc[d].max = max(acc[d].max, f)
        acc[d].lastReading = max(acc[d].lastReading, t)
        if f != acc[d].rawLast {
            acc[d].rawLast = f
            acc[d].flatSince = t
        } else if !acc[d].flatSince.isFinite {
            acc[d].flatSince = t
        }
    }

    /// Stores the open bucket's trimmed mean, after testing it for a level shift.
    private mutating func close(_ d: Int) {
        let b = acc[d].bucket
        let count = Int(acc[d].count)
        let (sum, low, high) = (acc[d].sum, acc[d].min, acc[d].max)
        defer {
            acc[d].count = 0
            acc[d].sum = 0
            acc[d].min = .infinity
            acc[d].max = -.infinity
        }
        guard count > 0 else { return }
        var mean = sum / Double(count)
        if count >= 4 { mean = (sum - Double(low) - Double(high)) / Double(count - 2) }
        let mixed = Double(high - low) > stepSize
        if fitStart[d] == Self.noBucket { fitStart[d] = b }
        if lastValidBucket[d] != Self.noBucket {
            let expected = Double(lastValid[d]) + Double(lastSlope[d]) * Double(b - lastValidBucket[d])
            let diff = mean - expected
            if abs(diff) > stepSize {
                let age = Float(b - lastShiftBucket[d]) / Float(capacity)
                shiftScore[d] = shiftScore[d] * exp(-age) + 1
                lastShiftBucket[d] = b
            }
            if abs(diff) > stepSize, !bands.isEmpty { bands[d].reset() }
            if diff > stepSize {
                // Towards "full": a new battery. The history before belongs to the old one.
                fitStart[d] = mixed ? b + 1 : b
                shift[d] = Self.noBucket
                replacedAt[d] = Double(b) * tickInterval
                lastSlope[d] = 0
            } else if diff < -stepSize {
                shift[d] = mixed ? b + 1 : b
            }
        }
        lastValid[d] = Float(mean)
        lastValidBucket[d] = b
        if mixed { return }
        ring[d * capacity + (b % capacity + capacity) % capacity] = Float(mean)
        if let curveTemplate, let ratio = bands[d].add(bucket: b, level: mean, curve: curveTemplate) {
            learned.append((Int32(d), Int16(ratio.band), Float(ratio.ratio)))
        }
    }

    /// Hands the ratios learned since the last tick to the (possibly shared) curves, each to the
    /// cohort its device is in now.
    private mutating func learn(_ context: AnalysisContext) {
        guard !learned.isEmpty, let rule = curves?.ruleIndex(ruleID) else { return }
        for l in learned {
            guard let c = cohortOf(Int(l.device), context) else { continue }
            curves?.add(ratio: Double(l.ratio), band: Int(l.band), cohort: c, device: Int(l.device), rule: rule)
        }
        learned.removeAll(keepingCapacity: true)
    }

    /// The device's cohort for `curve_by` (its attribute values now), created when new; looked
    /// up again only when the values changed. A device without a value of every attribute
    /// belongs to no cohort: it neither teaches nor uses a curve.
    private mutating func cohortOf(_ d: Int, _ context: AnalysisContext) -> Int? {
        guard let book = curves else { return nil }
        let known = Int(cohort[d])
        if known >= 0, zip(book.names[known], rule.curveBy).allSatisfy({ $0 == context.attribute($1, device: d) }) {
            return known
        }
        let values = rule.curveBy.map { context.attribute($0, device: d) }
        guard !values.contains(where: \.isEmpty), let c = curves?.cohort(values) else {
            cohort[d] = -1
            return nil
        }
        cohort[d] = Int32(c)
        return c
    }

    mutating func tick(at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink) {
        let now = Int((time / tickInterval).rounded(.down))
        for d in 0..<n where acc[d].bucket != Self.noBucket && acc[d].bucket < now && acc[d].count > 0 { close(d) }
        learn(context)
        // Fits on multiples of the refit interval since the epoch (00:00, 06:00, … UTC for hourly buckets).
        guard now % refitEvery == 0 else { return }
        let day = Int((time / 86400).rounded(.down))
        let snapshot = recordHistory && day != lastHistoryDay
        if snapshot { lastHistoryDay = day }
        for d in 0..<n where context.applies(d) && acc[d].lastReading.isFinite {
            refit(d, at: time, bucketNow: now, context, &findings)
            if snapshot, let s = latest[d] { history.append(s) }
        }
    }

    mutating func finish(at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink) {
        let now = Int((time / tickInterval).rounded(.down)) + 1
        for d in 0..<n where acc[d].bucket != Self.noBucket && acc[d].count > 0 { close(d) }
        learn(context)
        var soonest: [(crossing: Double, device: Int, prediction: Prediction)] = []
        for d in 0..<n where context.applies(d) && acc[d].lastReading.isFinite {
            refit(d, at: time, bucketNow: now, context, &findings)
            if let p = lastPrediction, let crossing = latest[d]?.crossingAt, crossing > time,
                crossing - time <= rule.horizon
            {
                soonest.append((crossing, d, p))
            }
        }
        soonest.sort { ($0.crossing, $0.device) < ($1.crossing, $1.device) }
        series = soonest.prefix(ForecastSeries.maxPerRule).compactMap {
            plotSeries($0.device, $0.prediction, at: time, bucketNow: now, context)
        }
    }

    /// The device's bucket levels within the fit window (its current battery), averaged in
    /// neighbouring pairs, threes, … beyond `ForecastSeries.maxHistory`, and the prediction's
    /// path sampled over them and ahead to past the crossing, with its band; clamped to the range.
    private func plotSeries(
        _ d: Int, _ p: Prediction, at time: Double, bucketNow: Int, _ context: AnalysisContext
    ) -> ForecastSeries? {
        guard let snapshot = latest[d], let crossing = snapshot.crossingAt else { return nil }
        func clamp(_ v: Double) -> Double {
            guard let range else { return v }
            return min(max(v, range.lowerBound), range.upperBound)
        }
        let first = max(fitStart[d], bucketNow - capacity)
        var buckets: [(b: Double, v: Double)] = []
        if first < bucketNow {
            for b in first..<bucketNow {
                let v = ring[d * capacity + (b % capacity + capacity) % capacity]
                if !v.isNaN { buckets.append((Double(b) + 0.5, Double(v))) }
            }
        }
        guard let start = buckets.first?.b else { return nil }
        let merge = (buckets.count + ForecastSeries.maxHistory - 1) / ForecastSeries.maxHistory
        var history: [ForecastSeries.Point] = []
        var i = 0
        while i < buckets.count {
            let group = buckets[i..<min(buckets.count, i + merge)]
            let b = group.map(\.b).reduce(0, +) / Double(group.count)
            let v = group.map(\.v).reduce(0, +) / Double(group.count)
            history.append(.init(t: b * tickInterval, value: clamp(sign * v)))
            i += merge
        }
        // In fit units (mirrored, `phi` along a learned curve) and buckets after the fit's time.
        let nowBuckets = time / tickInterval
        func level(_ y: Double) -> Double { clamp(sign * (p.profile.map { $0.inversePhi(y) } ?? y)) }
        let ahead = max(crossing, min(snapshot.high ?? crossing, crossing + (crossing - time))) - time
        var trend: [ForecastSeries.TrendPoint] = []
        let past = ForecastSeries.trendPointsPast
        for k in 0..<past {
            let tau = (start - nowBuckets) * Double(past - k) / Double(past)
            trend.append(
                .init(t: time + tau * tickInterval, value: level(p.fit.value(after: tau)), lower: nil, upper: nil))
        }
        let count = ForecastSeries.trendPointsAhead
        for k in 0...count {
            let tau = ahead / tickInterval * Double(k) / Double(count)
            let band = p.fit.band(after: tau)
            let edges = [level(band.fast), level(band.slow)]
            trend.append(
                .init(
                    t: time + tau * tickInterval, value: level(p.fit.value(after: tau)), lower: edges.min(),
                    upper: edges.max()))
        }
        return ForecastSeries(
            device: context.deviceID(d), rule: ruleID, metric: rule.metric, range: range, threshold: rule.threshold,
            at: time, level: clamp(sign * p.level), crossingAt: crossing, low: snapshot.low, high: snapshot.high,
            model: p.model, history: history, trend: trend)
    }

    private mutating func refit(
        _ d: Int, at time: Double, bucketNow: Int, _ context: AnalysisContext, _ findings: inout FindingSink
    ) {
        let device = context.deviceID(d)
        var snapshot = ForecastSnapshot(
            device: device, rule: ruleID, at: time, state: .insufficient, level: nil, slopePerDay: nil,
            crossingAt: nil, low: nil, high: nil, points: 0, model: nil)
        defer { latest[d] = snapshot }
        lastPrediction = nil
        // Gauges that cannot be trusted get their own finding and no prediction.
        if time - acc[d].lastReading >= silentAfter {
            snapshot.state = .silent
            gauge(
                d, .silent, at: time, since: acc[d].lastReading,
                detail: "no reading since \(Timestamp.format(acc[d].lastReading))", context, &findings)
            return
        }
        let first = max(fitStart[d], bucketNow - capacity)
        var times: [Double] = []
        var values: [Double] = []
        times.reserveCapacity(capacity)
        values.reserveCapacity(capacity)
        if first < bucketNow {
            for b in first..<bucketNow {
                let v = ring[d * capacity + (b % capacity + capacity) % capacity]
                if !v.isNaN {
                    times.append(Double(b) + 0.5)
                    values.append(Double(v))
                }
            }
        }
        snapshot.points = times.count
        if time - acc[d].flatSince >= flatAfter, times.count >= RobustTrend.minimumPoints {
            snapshot.state = .flat
            gauge(
                d, .flat, at: time, since: acc[d].flatSince,
                detail:
                    "reads \(Engine.format(sign * Double(acc[d].rawLast))) since \(Timestamp.format(acc[d].flatSince))",
                context, &findings)
            return
        }
        let jumps = shiftScore[d] * exp(-Float(bucketNow - lastShiftBucket[d]) / Float(capacity))
        if jumps >= 3 {
            snapshot.state = .erratic
            gauge(
                d, .erratic, at: time, since: time,
                detail:
                    "\(Int(jumps.rounded())) level jumps in \(DurationText.format(Double(capacity) * tickInterval))",
                context, &findings)
            return
        }
        let shiftTime = shift[d] > first ? Double(shift[d]) : nil
        let nowBuckets = time / tickInterval
        guard
            var fit = RobustTrend.fit(
                times: times, values: values, shift: shiftTime, now: nowBuckets, allowAcceleration: rule.model == .auto,
                accelerationBelow: accelerationBelow)
        else {
            resolveForecast(d, at: time, context, &findings)
            resolveGauge(d, at: time, context, &findings)
            return
        }
        // An accelerating fit is trusted from the third in a row (12 hours apart when hourly): one
        // stretch of odd data (an outage, a cold night) must not bend a straight line.
        accelerating[d] = fit.model == .accelerating ? min(accelerating[d], 254) + 1 : 0
        if fit.model == .accelerating, accelerating[d] < 3,
            let straight = RobustTrend.fit(
                times: times, values: values, shift: shiftTime, now: nowBuckets, allowAcceleration: false)
        {
            fit = straight
        }
        lastSlope[d] = Float(fit.slope)
        if fit.sigma > erraticSigma {
            snapshot.level = sign * fit.level
            snapshot.slopePerDay = sign * fit.slope / tickInterval * 86400
            snapshot.model = fit.model
            snapshot.state = .erratic
            gauge(
                d, .erratic, at: time, since: time, detail: "scatter \(Engine.format(fit.sigma)) around the trend",
                context, &findings)
            return
        }
        resolveGauge(d, at: time, context, &findings)
        var prediction = Prediction(fit, threshold: threshold)
        if let c = cohortOf(d, context), let profile = curves?.profile(c) {
            let highest = values.max() ?? fit.level
            if profile.bends(from: threshold, to: max(highest, fit.level)),
                let curved = RobustTrend.fit(
                    times: times, values: values.map(profile.phi), shift: shiftTime, now: nowBuckets,
                    allowAcceleration: false)
            {
                prediction = Prediction(curved, threshold: profile.phi(threshold), profile: profile)
            }
        }
        snapshot.level = sign * prediction.level
        snapshot.slopePerDay = sign * prediction.slope / tickInterval * 86400
        snapshot.model = prediction.model
        // A crossing decades away is no trend worth a date.
        guard let until = prediction.until, until * tickInterval <= Self.farthest else {
            snapshot.state = .stable
            resolveForecast(d, at: time, context, &findings)
            return
        }
        let left = until * tickInterval
        let crossing = time + left
        snapshot.state = .depleting
        lastPrediction = prediction
        snapshot.crossingAt = crossing
        if let interval = prediction.interval {
            snapshot.low = time + interval.low * tickInterval
            snapshot.high = interval.high.flatMap {
                $0 * tickInterval <= Self.farthest ? time + $0 * tickInterval : nil
            }
        }
        // Alert within the horizon, at the severity of the first bracket the time left fits in, once
        // the fit has 48 buckets (two days when hourly) and its slow end is not far beyond the horizon.
        let confident = fit.points >= 48 && (snapshot.high.map { $0 - time <= 2 * rule.horizon } ?? false)
        let severity =
            left <= rule.horizon && (confident || forecastOpen[d])
            ? rule.severityByTimeLeft.first { left <= $0.seconds }?.severity : nil
        guard let severity else {
            // A little hysteresis: an open forecast stays until the crossing moves clearly beyond.
            if forecastOpen[d],
                left > rule.horizon * 1.1 || rule.severityByTimeLeft.allSatisfy({ left > $0.seconds * 1.1 })
            {
                resolveForecast(d, at: time, context, &findings)
            }
            return
        }
        let placeholders: [String: String] = [
            "value": Engine.format(sign * prediction.level), "level": Engine.format(sign * prediction.level),
            "metric": rule.metric, "threshold": Engine.format(rule.threshold),
            "time_left": DurationText.format(Self.roundedDuration(left)),
            "crossing_at": Timestamp.format(crossing.rounded()),
            "slope_per_day": Engine.format(snapshot.slopePerDay ?? 0),
            "interval_low": snapshot.low.map { Timestamp.format($0.rounded()) } ?? "",
            "interval_high": snapshot.high.map { Timestamp.format($0.rounded()) } ?? "open",
            "points": String(fit.points),
        ]
        var evidence: [(String, JSONValue)] = [
            ("state", "depleting"), ("level", .number((sign * prediction.level * 100).rounded() / 100)),
            ("slope_per_day", .number(((snapshot.slopePerDay ?? 0) * 1000).rounded() / 1000)),
            ("crossing_at", .string(Timestamp.format(crossing.rounded()))),
            ("interval_low", snapshot.low.map { .string(Timestamp.format($0.rounded())) } ?? .null),
            ("interval_high", snapshot.high.map { .string(Timestamp.format($0.rounded())) } ?? .null),
            ("time_left_seconds", .number(left.rounded())), ("points", .number(Double(fit.points))),
            ("model", .string(prediction.model.rawValue)), ("threshold", .number(rule.threshold)),
        ]
        if replacedAt[d].isFinite { evidence.append(("replaced_at", .string(Timestamp.format(replacedAt[d])))) }
        // A level already past the threshold has no crossing ahead: the rule's summary speaks of
        // one ("reaches 5% in {{time_left}}"), so the finding says where the level is instead.
        let summary =
            left <= 0
            ? Self.pastThresholdText(
                device: device, metric: rule.metric, level: sign * prediction.level, threshold: rule.threshold,
                falling: rule.direction == .falling, unit: context.plan.metrics[metrics[0]].unit)
            : context.renderSummary(
                device: d,
                fallback:
                    "\(device) reaches \(placeholders["threshold"] ?? "") in \(placeholders["time_left"] ?? "") (around \(placeholders["crossing_at"] ?? ""))",
                extra: placeholders)
        forecastOpen[d] = true
        findings.report(
            .init(
                key: device, device: d, site: nil, severity: severity, value: sign * prediction.level, summary: summary,
                evidence: evidence, maintenance: context.rule.maintenance, since: time,
                due: context.rule.maintenance.map { _ in max(time, crossing - lead) }))
    }

    /// What a fit predicts, in the metric's (mirrored) units and buckets: the straight or
    /// accelerating fit itself, or a straight fit of the cohort curve's `phi` values mapped back.
    private struct Prediction {
        var level: Double
        /// Rate now, per bucket.
        var slope: Double
        var model: RobustTrend.Model
        var until: Double?
        var interval: (low: Double, high: Double?)?
        /// The fit the prediction extrapolates, of `profile.phi` values along a learned curve.
        var fit: RobustTrend.Fit
        var profile: LevelProfile?

        init(_ fit: RobustTrend.Fit, threshold: Double) {
            self.fit = fit
            level = fit.level
            slope = fit.slope
            model = fit.model
            until = fit.bucketsUntil(threshold)
            interval = fit.intervalUntil(threshold)
        }

        /// `fit` is of `phi` values; `threshold` is `phi` of the threshold.
        init(_ fit: RobustTrend.Fit, threshold: Double, profile: LevelProfile) {
            self.fit = fit
            self.profile = profile
            level = profile.inversePhi(fit.level)
            slope = fit.slope * profile.multiplier(at: level)
            model = .curve
            until = fit.bucketsUntil(threshold)
            interval = fit.intervalUntil(threshold)
        }
    }

    /// What a forecast whose level is already past its threshold says:
    /// "d-00042: battery_pct is at 2.4%, below 5%".
    static func pastThresholdText(
        device: String, metric: String, level: Double, threshold: Double, falling: Bool, unit: String
    ) -> String {
        let suffix = unit == "percent" ? "%" : unit.isEmpty || unit == "ratio" ? "" : " " + unit
        let side = falling ? "below" : "above"
        return
            "\(device): \(metric) is at \(Engine.format(level))\(suffix), \(side) \(Engine.format(threshold))\(suffix)"
    }

    /// Time left rounded for people: to the hour up to ten days (4d22h), then to the day.
    static func roundedDuration(_ s: Double) -> Double {
        s < 10 * 86400 ? (s / 3600).rounded() * 3600 : (s / 86400).rounded() * 86400
    }

    private mutating func gauge(
        _ d: Int, _ state: ForecastSnapshot.State, at time: Double, since: Double, detail: String,
        _ context: AnalysisContext, _ findings: inout FindingSink
    ) {
        resolveForecast(d, at: time, context, &findings)
        gaugeOpen[d] = true
        let device = context.deviceID(d)
        findings.report(
            .init(
                key: device + "\u{1F}gauge", device: d, site: nil, severity: .info, value: nil,
                summary: "\(device): \(rule.metric) gauge \(state.rawValue), no forecast (\(detail))",
                evidence: [("state", .string(state.rawValue)), ("detail", .string(detail))], maintenance: nil,
                since: min(time, since.isFinite ? since : time)))
    }

    private mutating func resolveGauge(
        _ d: Int, at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink
    ) {
        guard gaugeOpen[d] else { return }
        gaugeOpen[d] = false
        findings.resolve(context.deviceID(d) + "\u{1F}gauge", at: time)
    }

    private mutating func resolveForecast(
        _ d: Int, at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink
    ) {
        guard forecastOpen[d] else { return }
        forecastOpen[d] = false
        findings.resolve(context.deviceID(d), at: time)
    }

    func sections(_ context: AnalysisContext) -> AnalysisSections {
        var sections = AnalysisSections()
        // The daily history (when recorded), then each device's latest forecast unless it is the
        // history's last entry already.
        let recorded = Set(history.map { "\($0.device)\u{1F}\($0.at)" })
        sections.forecasts.append(contentsOf: history)
        for s in latest.compactMap({ $0 }) where !recorded.contains("\(s.device)\u{1F}\(s.at)") {
            sections.forecasts.append(s)
        }
        sections.forecastSeries = series
        return sections
    }
}
