import CPrefetch

/// The raw (time, value) points of one metric of one device, oldest first, trimmed to the
/// longest window any rule reads. Points are addressed by absolute index (dropped points keep
/// their numbers) so running windows can point into the ring.
struct WindowRing: Sendable {
    /// One (time, value) pair per point, in one allocation so a point is one cache access.
    private struct Point: Sendable {
        var t: Double
        var v: Double
    }
    /// A circular buffer whose capacity is a power of two: absolute index `i` lives at
    /// `points[i & mask]`, so dropping old points and appending new ones never moves memory.
    private var points: ContiguousArray<Point> = []
    private var mask = -1
    /// Absolute index of the oldest point kept, and one past the newest.
    private var first = 0
    private var end = 0

    var count: Int { end - first }
    /// Absolute index one past the newest point.
    var endIndex: Int { end }
    /// Absolute index of the oldest point kept.
    var startIndex: Int { first }

    func time(_ absolute: Int) -> Double { points[absolute & mask].t }
    func value(_ absolute: Int) -> Double { points[absolute & mask].v }

    /// Appends a point and drops those older than `keep`. `capacity` is the size to start
    /// with (rounded up to a power of two); a full ring doubles.
    mutating func append(_ t: Double, _ v: Double, keep: Double, capacity: Int = 4) {
        let cutoff = t - keep
        while first < end, points[first & mask].t <= cutoff { first += 1 }
        if end - first == points.count { grow(atLeast: capacity) }
        points[end & mask] = Point(t: t, v: v)
        end += 1
    }

    /// Asks the cache for point `absolute` (a hint; mutating only so the ring is accessed in place).
    @inline(__always)
    mutating func prefetch(point absolute: Int) {
        points.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress, mask >= 0 else { return }
            fleetrules_prefetch(base + (absolute & mask))
        }
    }

    /// Asks the cache for the buffer's header (its uniqueness is checked on every write) and the
    /// slot the next point goes to.
    @inline(__always)
    mutating func prefetchTail() {
        points.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress, mask >= 0 else { return }
            // The buffer's header: its reference count (read by the uniqueness check) and its
            // element count (read by bounds checks), which can fall in two cache lines.
            fleetrules_prefetch(UnsafeRawPointer(base) - 32)
            fleetrules_prefetch(UnsafeRawPointer(base) - 16)
            fleetrules_prefetch_write(base + (end & mask))
        }
    }

    /// Doubles the capacity, placing every kept point at its slot for the new mask.
    private mutating func grow(atLeast minimum: Int) {
        var capacity = max(4, points.count * 2)
        while capacity < minimum { capacity *= 2 }
        var bigger = ContiguousArray(repeating: Point(t: 0, v: 0), count: capacity)
        let newMask = capacity - 1
        for i in first..<end { bigger[i & newMask] = points[i & mask] }
        points = bigger
        mask = newMask
    }

    /// Absolute index of the first point with time > `after`.
    private func firstIndex(after: Double) -> Int {
        var lo = first
        var hi = end
        while lo < hi {
            let mid = (lo + hi) / 2
            if time(mid) > after { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// The window functions without running sums — min, max and percentiles — over (t − w, t],
    /// by scanning; nil when the window is empty. The others are kept as `RunningWindow` sums
    /// (avg, sum, count, stddev, slope, rate, delta) or read from the latest value (last, age, absent).
    func aggregate(_ f: WindowFunction, at t: Double, width w: Double) -> Double? {
        let lo = firstIndex(after: t - w)
        var hi = end
        while hi > lo, time(hi - 1) > t { hi -= 1 }
        let n = hi - lo
        guard n > 0 else { return nil }
        switch f {
        case .min:
            var m = value(lo)
            for i in lo..<hi where value(i) < m { m = value(i) }
            return m
        case .max:
            var m = value(lo)
            for i in lo..<hi where value(i) > m { m = value(i) }
            return m
        case .p50, .p90, .p95, .p99:
            let q: Double = f == .p50 ? 0.5 : f == .p90 ? 0.9 : f == .p95 ? 0.95 : 0.99
            let sorted = (lo..<hi).map { value($0) }.sorted()
            // Linear interpolation between closest ranks (the "R-7" definition numpy uses by default).
            let h = q * Double(n - 1)
            let k = Int(h)
            let frac = h - Double(k)
            return k + 1 < n ? sorted[k] + frac * (sorted[k + 1] - sorted[k]) : sorted[k]
        default:
            return nil
        }
    }
}

/// Running sums of one window aggregate for one device, so avg/sum/count/stddev/slope/rate/
/// delta cost O(1) per reading instead of a scan of the window. The engine keeps one per
/// (device, metric, width) in a flat array; it points into that metric's ring.
struct RunningWindow: Sendable {
    /// Absolute ring index of the oldest point inside the window.
    var head = 0
    /// Time of the point at `head`, kept here so the common "nothing leaves" check reads no point.
    var headTime = Double.infinity
    /// Points inside, and points dropped since the sums were last recomputed (32 bits each, so
    /// the record takes 72 bytes: a device's windows share fewer cache lines).
    var n: Int32 = 0
    var evictions: Int32 = 0
    var sum = 0.0
    var sumSquares = 0.0
    /// Sums over x (hours since `origin`), kept only by windows a `slope` reads.
    var sx = 0.0
    var sxx = 0.0
    var sxy = 0.0
    /// Origin of x (hours) for the slope sums, reset when the window empties or is recomputed.
    var origin = 0.0

    static func supports(_ f: WindowFunction) -> Bool {
        switch f {
        case .avg, .sum, .count, .stddev, .slope, .rate, .delta: true
        default: false
        }
    }

    @inline(__always)
    mutating func include(_ t: Double, _ v: Double, slope: Bool) {
        n += 1
        sum += v
        sumSquares += v * v
        if slope {
            let x = (t - origin) / 3600
            sx += x
            sxx += x * x
            sxy += x * v
        }
    }

    @inline(__always)
    mutating func exclude(_ t: Double, _ v: Double, slope: Bool) {
        n -= 1
        sum -= v
        sumSquares -= v * v
        if slope {
            let x = (t - origin) / 3600
            sx -= x
            sxx -= x * x
            sxy -= x * v
        }
    }
}

extension WindowRing {
    /// Whether running window `w` may hold points at or before `cutoff`; the common "nothing
    /// leaves" answer reads no point.
    @inline(__always)
    private func mustEvict(_ w: RunningWindow, before cutoff: Double) -> Bool {
        !(w.n > 0 && w.headTime > cutoff && w.head >= startIndex)
    }

    /// Drops points with time ≤ `cutoff` from running window `w`, after the cheap check.
    @inline(__always)
    mutating func evictIfNeeded(_ w: inout RunningWindow, before cutoff: Double, slope: Bool) {
        if mustEvict(w, before: cutoff) { evict(&w, before: cutoff, slope: slope) }
    }

    /// Drops points with time ≤ `cutoff` from running window `w`; recomputes from the ring now
    /// and then so rounding errors of the running subtraction cannot build up.
    private mutating func evict(_ w: inout RunningWindow, before cutoff: Double, slope: Bool) {
        w.head = max(w.head, startIndex)
        var dropped = false
        var large = false
        while w.n > 0, w.head < endIndex, time(w.head) <= cutoff {
            let v = value(w.head)
            // Subtracting a value far larger than what stays would leave only rounding error.
            // (|v| ≤ 1e6 · (|sum − v| / k + 1), multiplied out: no division per dropped point.)
            let k = Double(max(1, Int(w.n) - 1))
            if !(abs(v) * k <= 1e6 * (abs(w.sum - v) + k)) { large = true }
            w.exclude(time(w.head), v, slope: slope)
            w.head += 1
            w.evictions += 1
            dropped = true
        }
        w.headTime = w.head < endIndex ? time(w.head) : .infinity
        if w.n == 0 {
            w = RunningWindow()
            w.head = endIndex
        } else if dropped, w.evictions >= 512 || large || !w.sum.isFinite || !w.sxy.isFinite {
            let from = w.head
            w = RunningWindow()
            w.head = from
            w.origin = time(from)
            w.headTime = time(from)
            for j in from..<endIndex { w.include(time(j), value(j), slope: slope) }
        }
    }

    /// Adds the newest point (just appended) to running window `w`.
    @inline(__always)
    mutating func take(_ w: inout RunningWindow, slope: Bool) {
        let last = endIndex - 1
        let t = time(last)
        if w.n == 0 {
            w.head = last
            w.origin = t
            w.headTime = t
        }
        w.include(t, value(last), slope: slope)
    }

    /// The aggregate `f` of running window `w` over (cutoff, newest], evicting what left it.
    /// Mutating only so the caller's ring is accessed in place (no copy of its buffer).
    @inline(__always)
    mutating func runningAggregate(_ w: inout RunningWindow, _ f: WindowFunction, after cutoff: Double, slope: Bool)
        -> Double?
    {
        evictIfNeeded(&w, before: cutoff, slope: slope)
        return runningValue(w, f)
    }

    /// The aggregate `f` of running window `w`, already evicted up to the evaluation time.
    func runningValue(_ w: RunningWindow, _ f: WindowFunction) -> Double? {
        if f == .count { return Double(w.n) }
        guard w.n > 0 else { return nil }
        let count = Double(w.n)
        switch f {
        case .avg: return w.sum / count
        case .sum: return w.sum
        case .stddev:
            guard w.n > 1 else { return 0 }
            let variance = (w.sumSquares - w.sum * w.sum / count) / (count - 1)
            return max(0, variance).squareRoot()
        case .slope:
            guard w.n > 1 else { return nil }
            let d = count * w.sxx - w.sx * w.sx
            guard d > 1e-12 * max(1, count * w.sxx) else { return nil }
            return (count * w.sxy - w.sx * w.sum) / d
        case .delta:
            return value(endIndex - 1) - value(w.head)
        case .rate:
            let last = endIndex - 1
            guard w.n > 1, time(last) > time(w.head) else { return nil }
            return (value(last) - value(w.head)) / (time(last) - time(w.head)) * 3600
        default:
            return nil
        }
    }
}
