/// Evaluates a `drift` rule: per bucket, each device's mean of the metric is compared with its
/// reference (the median of its peers' bucket means, itself excluded, or a named reference
/// device's bucket mean), and the residual is fed to the device's `DriftDetector`.
///
/// A device with fewer than `min_peers` peers reporting in a bucket is not tested in that bucket;
/// a device that was never testable, or not in its latest bucket, is listed as unverifiable in
/// the report's `drift` section (not as an alert). An alarm opens a finding at the bucket it was
/// detected in, with the estimated onset, offset, statistic and peers as evidence; it resolves
/// when the residual (smoothed over a few buckets) is back within the tolerance, as after a
/// recalibration, and the detector starts afresh.
struct DriftAnalyzer: Analyzer {
    let operatorIndex: Int
    let metrics: [Int]
    let tickInterval: Double
    let rule: DriftRule
    /// Inventory index of the reference device, -1 when comparing against peers (or unknown).
    let referenceDevice: Int
    /// Residual smoothing used to decide that a finding has cleared.
    static let clearLambda = 0.3
    /// Peers listed in a finding's evidence at most.
    static let maxPeersListed = 20

    /// What a device's readings add up to in the open bucket; one record, so a reading touches
    /// one cache line of this analyzer.
    private struct Bucket: Sendable {
        var sum = 0.0
        var count: Int32 = 0
        /// Whether the device ever reported the metric (others are not listed as unverifiable).
        var reported = false
    }

    // Per device, fixed size.
    private var bucket: [Bucket]
    private var detector: [DriftDetector]
    /// The ramp-onset tests (`trend`); empty when the rule has none.
    private var trend: [DriftRamp]
    private var open: [Bool]
    private var clear: [Double]
    /// Buckets tested, and buckets with too few peers; whether the latest bucket was testable.
    private var tested: [Int32]
    private var skipped: [Int32]
    private var lastTestable: [Bool]
    private var findings = 0
    /// Peer groups seen so far (their attribute values) and each device's group in its latest
    /// bucket: a bucket looks a device's group up again only when its attributes changed.
    private var groupKeys: [[String]] = []
    private var groupIndex: [[String]: Int] = [:]
    private var groupOf: [Int32]
    /// Group buckets skipped because the peers disagreed among themselves.
    private var transientBuckets = 0
    /// The plot series (`DriftSeries`): per device a ring of its last `DriftSeries.maxBefore`
    /// tested buckets (its mean and its reference's; NaN where it was not tested) and the latest
    /// bucket written; the detections captured (one per device, its latest), how many buckets
    /// after its detection each has, and each device's capture (-1: none).
    private var recentValue: [Float]
    private var recentReference: [Float]
    private var recentBucket: [Int]
    private var captures: [DriftSeries] = []
    private var capturedAfter: [Int] = []
    private var captureOf: [Int32]

    init(operatorIndex: Int, metric: Int, rule: DriftRule, inventory: Inventory) {
        self.operatorIndex = operatorIndex
        metrics = [metric]
        tickInterval = rule.bucket
        self.rule = rule
        if case .device(let id) = rule.reference {
            referenceDevice = inventory.deviceIndex[id] ?? -1
        } else {
            referenceDevice = -1
        }
        let n = inventory.count
        bucket = Array(repeating: Bucket(), count: n)
        groupOf = Array(repeating: -1, count: n)
        detector = Array(
            repeating: DriftDetector(
                method: rule.method, tolerance: rule.tolerance, threshold: rule.threshold, lambda: rule.lambda),
            count: n)
        if let w = rule.trendWindow {
            trend = Array(repeating: DriftRamp(window: w, level: rule.trendLevel), count: n)
        } else {
            trend = []
        }
        open = Array(repeating: false, count: n)
        clear = Array(repeating: 0, count: n)
        tested = Array(repeating: 0, count: n)
        skipped = Array(repeating: 0, count: n)
        lastTestable = Array(repeating: false, count: n)
        recentValue = Array(repeating: .nan, count: n * DriftSeries.maxBefore)
        recentReference = Array(repeating: .nan, count: n * DriftSeries.maxBefore)
        recentBucket = Array(repeating: Int.min, count: n)
        captureOf = Array(repeating: -1, count: n)
    }

    mutating func prefetch(device: Int) {
        bucket.prefetch(device)
    }

    mutating func observe(device: Int, metric: Int, value: Double, time: Double) {
        guard device >= 0, device < bucket.count, value.isFinite else { return }
        bucket[device].sum += value
        bucket[device].count += 1
        bucket[device].reported = true
    }

    mutating func tick(at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink) {
        let start = time - tickInterval
        let n = bucket.count
        var mean = Array(repeating: Double.nan, count: n)
        for d in 0..<n where bucket[d].count > 0 { mean[d] = bucket[d].sum / Double(bucket[d].count) }
        defer {
            for d in 0..<n {
                bucket[d].sum = 0
                bucket[d].count = 0
            }
        }
        switch rule.reference {
        case .device:
            let ref = referenceDevice >= 0 ? mean[referenceDevice] : .nan
            for d in 0..<n where d != referenceDevice && context.applies(d) && mean[d].isFinite {
                guard ref.isFinite else {
                    skip(d)
                    continue
                }
                test(
                    d, value: mean[d], reference: ref, peers: [referenceDevice], at: time, bucketStart: start, context,
                    &findings)
            }
        case .peers(let attributes):
            let slots = attributes.map { context.attributeSlots[$0] }
            func value(_ slot: Int?, _ d: Int) -> String {
                guard let slot, slot < context.attributes[d].count else { return "" }
                return context.attributes[d][slot]
            }
            var groups = Array(repeating: [Int](), count: groupKeys.count)
            for d in 0..<n where context.applies(d) && mean[d].isFinite {
                var g = Int(groupOf[d])
                if g < 0 || slots.indices.contains(where: { groupKeys[g][$0] != value(slots[$0], d) }) {
                    let key = slots.map { value($0, d) }
                    if let known = groupIndex[key] {
                        g = known
                    } else {
                        g = groupKeys.count
                        groupKeys.append(key)
                        groupIndex[key] = g
                        groups.append([])
                    }
                    groupOf[d] = Int32(g)
                }
                groups[g].append(d)
            }
            for members in groups where !members.isEmpty {
                let ordered = members.sorted { mean[$0] < mean[$1] }
                let values = ordered.map { mean[$0] }
                // Peers that disagree among themselves by more than the threshold (a zone-wide
                // transient half-way through a bucket) say nothing about any one of them.
                if ordered.count - 1 >= rule.minPeers, RobustStatistics.spread(values) > rule.threshold {
                    transientBuckets += 1
                    continue
                }
                for (i, d) in ordered.enumerated() {
                    guard ordered.count - 1 >= rule.minPeers, let ref = RobustStatistics.median(values, excluding: i)
                    else {
                        skip(d)
                        continue
                    }
                    test(
                        d, value: mean[d], reference: ref, peers: ordered, at: time, bucketStart: start, context,
                        &findings)
                }
            }
        }
    }

    private mutating func skip(_ d: Int) {
        skipped[d] += 1
        lastTestable[d] = false
    }

    private mutating func test(
        _ d: Int, value: Double, reference: Double, peers: [Int], at time: Double, bucketStart: Double,
        _ context: AnalysisContext, _ sink: inout FindingSink
    ) {
        let r = value - reference
        record(d, bucket: Int((bucketStart / tickInterval).rounded()), value: value, reference: reference)
        tested[d] += 1
        lastTestable[d] = true
        // One bucket moves the test by a bounded step: a single bad bucket cannot alarm.
        detector[d].update(r, bucketStart: bucketStart, clip: clip)
        if !trend.isEmpty { trend[d].update(max(-clip, min(clip, r)), bucket: (bucketStart / tickInterval).rounded()) }
        clear[d] = tested[d] == 1 ? r : Self.clearLambda * r + (1 - Self.clearLambda) * clear[d]
        let key = context.deviceID(d)
        if open[d] {
            if abs(clear[d]) <= clearLevel {
                sink.resolve(key, at: time)
                open[d] = false
                detector[d].reset()
                if !trend.isEmpty { trend[d].reset() }
            }
            return
        }
        let byTrend = !detector[d].alarm && !trend.isEmpty && trend[d].alarm
        guard detector[d].alarm || byTrend else { return }
        open[d] = true
        findings += 1
        let det = detector[d]
        let offset = byTrend ? trend[d].baseline + trend[d].offset : det.offset
        // The ramp's hinge is the onset bucket's value: the drift starts at that bucket's end.
        let onset = byTrend ? (trend[d].onsetBucket + 1) * tickInterval : det.onset
        let others = peers.filter { $0 != d }
        let peerIDs = others.prefix(Self.maxPeersListed).map { context.deviceID($0) }
        let peersText: String
        if case .device(let id) = rule.reference {
            peersText = id
        } else {
            peersText = "\(others.count)"
        }
        var evidence: [(String, JSONValue)] = [
            ("metric", .string(rule.metric)),
            ("method", .string(rule.method.rawValue)),
            ("offset", .number(Self.round(offset))),
            ("onset", onset.isFinite ? .string(Timestamp.format(onset)) : .null),
            ("statistic", .number(Self.round(det.statistic))),
            ("threshold", .number(rule.threshold)),
            ("tolerance", .number(rule.tolerance)),
        ]
        if !trend.isEmpty {
            // Which test alarmed; the ramp's slope per bucket and its standardized evidence.
            evidence.append(("test", .string(byTrend ? "trend" : rule.method.rawValue)))
            evidence.append(("slope", .number((trend[d].slope * 1e5).rounded() / 1e5)))
            evidence.append(("ramp_statistic", .number(Self.round(max(-1e6, min(1e6, trend[d].statistic))))))
        }
        switch rule.reference {
        case .device(let id): evidence.append(("reference", .string(id)))
        case .peers(let attrs):
            evidence.append(("reference", .string("median of peers by " + attrs.joined(separator: ", "))))
            evidence.append(("peer_count", .number(Double(others.count))))
            evidence.append(("peers", .array(peerIDs.map { .string($0) })))
        }
        let onsetText = onset.isFinite ? Timestamp.format(onset) : "unknown"
        let offsetText = Self.format(offset)
        let summary = context.renderSummary(
            device: d,
            fallback: "\(key): \(rule.metric) drifts \(offsetText) from its reference (\(rule.method.rawValue))",
            extra: [
                "value": Self.format(offset), "metric": rule.metric, "offset": offsetText,
                "statistic": Self.format(det.statistic), "onset": onsetText, "peers": peersText,
                "reference": {
                    if case .device(let id) = rule.reference { return id }
                    return "peer median"
                }(),
            ])
        sink.report(
            FindingSink.Finding(
                key: key, device: d, site: nil, severity: context.rule.severity, value: Self.round(offset),
                summary: summary, evidence: evidence, maintenance: context.rule.maintenance, since: time))
        capture(d, onset: onset.isFinite ? onset : nil, detectedAt: time, context)
    }

    /// Writes the tested bucket to the device's ring (the buckets skipped since become NaN) and,
    /// while its capture is collecting the buckets after its detection, to the capture.
    private mutating func record(_ d: Int, bucket b: Int, value: Double, reference: Double) {
        let k = DriftSeries.maxBefore
        let last = recentBucket[d]
        if last != Int.min, b > last + 1 {
            for g in (last + 1)..<min(b, last + 1 + k) {
                recentValue[d * k + (g % k + k) % k] = .nan
                recentReference[d * k + (g % k + k) % k] = .nan
            }
        }
        recentValue[d * k + (b % k + k) % k] = Float(value)
        recentReference[d * k + (b % k + k) % k] = Float(reference)
        recentBucket[d] = b
        let i = Int(captureOf[d])
        if i >= 0, capturedAfter[i] < DriftSeries.maxAfter {
            captures[i].points.append(.init(t: Double(b) * tickInterval, device: value, reference: reference))
            capturedAfter[i] += 1
        }
    }

    /// Starts the device's series at a detection: the ring's buckets up to the detection's.
    /// A later detection of the device replaces its series; devices beyond
    /// `DriftSeries.maxPerRule` get none.
    private mutating func capture(_ d: Int, onset: Double?, detectedAt: Double, _ context: AnalysisContext) {
        let k = DriftSeries.maxBefore
        let b = recentBucket[d]
        guard b != Int.min else { return }
        var points: [DriftSeries.Point] = []
        for g in (b - k + 1)...b {
            let v = recentValue[d * k + (g % k + k) % k]
            let r = recentReference[d * k + (g % k + k) % k]
            if !v.isNaN, !r.isNaN {
                points.append(.init(t: Double(g) * tickInterval, device: Double(v), reference: Double(r)))
            }
        }
        let reference: String
        if case .device(let id) = rule.reference { reference = id } else { reference = "peer median" }
        let series = DriftSeries(
            rule: context.rule.id, device: context.deviceID(d), metric: rule.metric, reference: reference,
            onset: onset, detectedAt: detectedAt, bucket: tickInterval, points: points)
        let i = Int(captureOf[d])
        if i >= 0 {
            captures[i] = series
            capturedAfter[i] = 0
        } else if captures.count < DriftSeries.maxPerRule {
            captureOf[d] = Int32(captures.count)
            captures.append(series)
            capturedAfter.append(0)
        }
    }

    /// Residuals are clipped to ±clip before the test. CUSUM and Page–Hinkley add at most one
    /// threshold per bucket; EWMA moves by λ·clip, and its smoothed value must be able to pass
    /// tolerance + threshold, so its clip is tolerance + 2·threshold.
    private var clip: Double {
        rule.method == .ewma ? rule.tolerance + 2 * rule.threshold : rule.tolerance + rule.threshold
    }

    /// A finding clears when the smoothed residual is back within this distance of the reference.
    /// With a `trend`, which may alarm at half the tolerance, half of that.
    private var clearLevel: Double {
        let level = rule.tolerance > 0 ? rule.tolerance : rule.threshold / 2
        return trend.isEmpty ? level : rule.trendLevel / 2
    }

    static func round(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
    static func format(_ v: Double) -> String { JSONValue.format((v * 100).rounded() / 100) }

    func sections(_ context: AnalysisContext) -> AnalysisSections {
        var sections = AnalysisSections()
        var unverifiable: [(device: String, reason: String)] = []
        var testedDevices = 0
        for d in 0..<bucket.count where context.applies(d) && bucket[d].reported {
            if referenceDevice >= 0, d == referenceDevice { continue }
            if tested[d] > 0 { testedDevices += 1 }
            if tested[d] == 0 || !lastTestable[d] {
                let reason: String
                switch rule.reference {
                case .device(let id):
                    reason =
                        referenceDevice < 0
                        ? "reference device \(id) is not in the inventory"
                        : "no reading of reference \(id) in the bucket"
                case .peers:
                    reason = "fewer than \(rule.minPeers) peers reporting"
                }
                unverifiable.append((context.deviceID(d), tested[d] == 0 ? reason : reason + " in the latest bucket"))
            }
        }
        sections.drift.append(
            Report.Drift(
                rule: context.rule.id, method: rule.method.rawValue, tested: testedDevices,
                findings: findings, transientBuckets: transientBuckets, unverifiable: unverifiable))
        sections.driftSeries = captures
        return sections
    }
}
