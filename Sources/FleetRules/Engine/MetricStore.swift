/// The engine's history of each (device, metric): its latest value and time, a ring of raw
/// points when a rule reads a window of it, and the running sums of the windows kept up to date
/// as points arrive. State is flat, indexed `device * metricCount + metric`, so one device's
/// values share cache lines.
struct MetricStore: Sendable {
    let metricCount: Int
    /// Per metric: whether it keeps a ring, how long its points are kept, and the capacity a
    /// device's ring starts with once it reports: enough for its retention at the declared
    /// interval, up to 64 points (a day of 5-minute readings then doubles three times instead
    /// of seven; memory is touched as history accumulates).
    let ringMetric: [Bool]
    private let retention: [Double]
    private let ringCapacity: [Int]
    /// Per window aggregate: its metric, function and width.
    private let aggregateMetric: [Int]
    private let aggregateFunction: [WindowFunction]
    private let aggregateWidth: [Double]
    /// Per aggregate, its running window (-1: none); per metric, its running windows
    /// `runningStart[m]..<runningStart[m + 1]` with their widths and whether they keep a slope.
    private let runningIndex: [Int]
    let runningStart: [Int]
    private let runningWidth: [Double]
    private let runningSlope: [Bool]
    let runningTotal: Int

    private(set) var lastValue: [Double]
    private(set) var lastTime: [Double]
    private(set) var rings: [WindowRing]
    /// Running window sums, flat [device * runningTotal + running window].
    private(set) var running: [RunningWindow]

    init(plan: EvaluationPlan, program: EngineProgram, devices n: Int) {
        let m = plan.metrics.count
        metricCount = m
        ringMetric = program.ringMetric
        retention = plan.retention
        ringCapacity = plan.metrics.indices.map { m in
            guard plan.retention[m] > 0 else { return 0 }
            // Without a declared interval the guess stays small: rings grow as readings come.
            let interval = plan.metrics[m].interval ?? EvaluationPlan.assumedInterval
            // Clamped before converting: a window of centuries must not trap.
            let points = Int(min(64, (plan.retention[m] / max(1, interval)).rounded(.up) + 2))
            return plan.metrics[m].interval == nil ? min(points, 16) : points
        }
        aggregateMetric = program.aggregateMetric
        aggregateFunction = program.aggregateFunction
        aggregateWidth = program.aggregateWidth
        runningIndex = program.runningIndex
        runningStart = program.runningStart
        runningWidth = program.runningWidth
        runningSlope = program.runningSlope
        runningTotal = program.runningWidth.count
        lastValue = Array(repeating: .nan, count: m * n)
        lastTime = Array(repeating: -.infinity, count: m * n)
        rings = Array(repeating: WindowRing(), count: program.ringMetric.contains(true) ? m * n : 0)
        running = Array(repeating: RunningWindow(), count: n * program.runningWidth.count)
    }

    /// Bytes of metric state per device, for the prefetching decision.
    var bytesPerDevice: Int {
        metricCount * (16 + MemoryLayout<WindowRing>.stride) + runningTotal * MemoryLayout<RunningWindow>.stride
    }

    @inline(__always) func key(_ m: Int, _ d: Int) -> Int { d * metricCount + m }

    /// The time of the latest value of metric `m` from device `d` (-infinity: none).
    @inline(__always) func lastTime(metric m: Int, device d: Int) -> Double { lastTime[key(m, d)] }

    /// Records value `v` of metric `m` from device `d` at `t`. A reading older than the device's
    /// latest (within lateness, from another file) only adds history.
    @inline(__always)
    mutating func record(metric m: Int, device d: Int, _ t: Double, _ v: Double) {
        let k = key(m, d)
        if t >= lastTime[k] {
            lastValue[k] = v
            lastTime[k] = t
        }
        if ringMetric[m] { appendPoint(metric: m, device: d, key: k, t, v) }
    }

    /// Appends a point to a ring: its running windows first drop what leaves them, then the ring
    /// trims to the metric's retention, then every running window takes the new point.
    @inline(__always)
    private mutating func appendPoint(metric m: Int, device d: Int, key k: Int, _ t: Double, _ v: Double) {
        let lo = runningStart[m]
        let hi = runningStart[m + 1]
        let base = d * runningTotal
        var r = lo
        while r < hi {
            rings[k].evictIfNeeded(&running[base + r], before: t - runningWidth[r], slope: runningSlope[r])
            r += 1
        }
        rings[k].append(t, v, keep: retention[m], capacity: ringCapacity[m])
        r = lo
        while r < hi {
            rings[k].take(&running[base + r], slope: runningSlope[r])
            r += 1
        }
    }

    /// The value of aggregate `id` for device `d` at `t`, from the latest value or the ring.
    func aggregateValue(_ id: Int, device d: Int, at t: Double) -> RuntimeValue? {
        let m = aggregateMetric[id]
        let k = key(m, d)
        switch aggregateFunction[id] {
        case .last:
            let v = lastValue[k]
            return v.isNaN ? nil : .number(v)
        case .age:
            let last = lastTime[k]
            return last.isFinite ? .duration(t - last) : nil
        case .absent:
            let last = lastTime[k]
            return .bool(!(last.isFinite && last > t - aggregateWidth[id]))
        case let f:
            guard ringMetric[m] else { return nil }
            return rings[k].aggregate(f, at: t, width: aggregateWidth[id]).map { .number($0) }
        }
    }

    /// Like `aggregateValue`, but reads (and advances) the running sums where the function has them.
    mutating func aggregateValueUpdating(_ id: Int, device d: Int, at t: Double) -> RuntimeValue? {
        let r = runningIndex[id]
        guard r >= 0 else { return aggregateValue(id, device: d, at: t) }
        return runningAggregate(id, window: r, device: d, at: t).map { .number($0) }
    }

    /// Like `aggregateValueUpdating`, but leaves the stored running sums as they are: the running
    /// window is evicted on a copy. For readers at a tick, such as group rules.
    func aggregateValueReading(_ id: Int, device d: Int, at t: Double) -> RuntimeValue? {
        let r = runningIndex[id]
        guard r >= 0 else { return aggregateValue(id, device: d, at: t) }
        var ring = rings[key(aggregateMetric[id], d)]
        var w = running[d * runningTotal + r]
        return ring.runningAggregate(
            &w, aggregateFunction[id], after: t - runningWidth[r], slope: runningSlope[r]
        ).map { .number($0) }
    }

    /// `aggregateValueReading` as a number, NaN when there is none; the latest value and `age`
    /// without boxing.
    @inline(__always)
    func numberReading(_ id: Int, device d: Int, at t: Double) -> Double {
        if runningIndex[id] < 0 {
            let k = key(aggregateMetric[id], d)
            switch aggregateFunction[id] {
            case .last: return lastValue[k]
            case .age:
                let last = lastTime[k]
                return last.isFinite ? t - last : .nan
            default: break
            }
        }
        return aggregateValueReading(id, device: d, at: t)?.number ?? .nan
    }

    /// The numeric value of aggregate `id` for the threshold kernels, NaN when there is none:
    /// `aggregateValueUpdating` without wrapping the number in a `RuntimeValue`.
    @inline(__always)
    mutating func number(_ id: Int, device d: Int, at t: Double) -> Double {
        let r = runningIndex[id]
        if r >= 0 { return runningAggregate(id, window: r, device: d, at: t) ?? .nan }
        let k = key(aggregateMetric[id], d)
        switch aggregateFunction[id] {
        case .last: return lastValue[k]
        case .age:
            let last = lastTime[k]
            return last.isFinite ? t - last : .nan
        default: return aggregateValue(id, device: d, at: t)?.number ?? .nan
        }
    }

    /// Aggregate `id` from its running window `r` for device `d`, evicting what left it by `t`.
    @inline(__always)
    private mutating func runningAggregate(_ id: Int, window r: Int, device d: Int, at t: Double) -> Double? {
        rings[key(aggregateMetric[id], d)].runningAggregate(
            &running[d * runningTotal + r], aggregateFunction[id], after: t - runningWidth[r], slope: runningSlope[r])
    }

    /// Asks the cache for a device's rows before its reading is processed.
    @inline(__always)
    func prefetchRows(device d: Int) {
        lastValue.prefetch(d * metricCount, count: metricCount)
        lastTime.prefetch(d * metricCount, count: metricCount)
        rings.prefetch(d * metricCount, count: metricCount)
        running.prefetch(d * runningTotal, count: runningTotal)
    }

    /// The second step: ring slots the reading will write and the points its running windows
    /// will drop, found through the ring headers `prefetchRows` asked for earlier.
    @inline(__always)
    mutating func prefetchPoints(device d: Int) {
        guard !rings.isEmpty else { return }
        for m in 0..<metricCount where ringMetric[m] {
            let k = d * metricCount + m
            rings[k].prefetchTail()
            var r = runningStart[m]
            while r < runningStart[m + 1] {
                let head = running[d * runningTotal + r].head
                rings[k].prefetch(point: head)
                rings[k].prefetch(point: head + 1)
                r += 1
            }
        }
    }
}
