/// The raw (time, value) points of one metric of one device, oldest first, trimmed to the
/// longest window any rule reads.
struct WindowRing: Sendable {
    private var times: ContiguousArray<Double> = []
    private var values: ContiguousArray<Double> = []
    private var start = 0

    var count: Int { times.count - start }

    mutating func append(_ t: Double, _ v: Double, keep: Double) {
        times.append(t)
        values.append(v)
        let cutoff = t - keep
        while start < times.count, times[start] <= cutoff { start += 1 }
        if start > 64, start * 2 > times.count {
            times.removeFirst(start)
            values.removeFirst(start)
            start = 0
        }
    }

    /// Index of the first point with time > `after`.
    private func firstIndex(after: Double) -> Int {
        var lo = start
        var hi = times.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if times[mid] > after { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// Computes a window function over (t − w, t]; nil when the window is empty (or too small).
    func aggregate(_ f: WindowFunction, at t: Double, width w: Double) -> Double? {
        let lo = firstIndex(after: t - w)
        var hi = times.count
        while hi > lo, times[hi - 1] > t { hi -= 1 }
        let n = hi - lo
        if f == .count { return Double(n) }
        guard n > 0 else { return nil }
        switch f {
        case .avg, .sum:
            var s = 0.0
            for i in lo..<hi { s += values[i] }
            return f == .sum ? s : s / Double(n)
        case .min:
            var m = values[lo]
            for i in lo..<hi where values[i] < m { m = values[i] }
            return m
        case .max:
            var m = values[lo]
            for i in lo..<hi where values[i] > m { m = values[i] }
            return m
        case .stddev:
            guard n > 1 else { return 0 }
            var mean = 0.0
            for i in lo..<hi { mean += values[i] }
            mean /= Double(n)
            var ss = 0.0
            for i in lo..<hi { ss += (values[i] - mean) * (values[i] - mean) }
            return (ss / Double(n - 1)).squareRoot()
        case .p50, .p90, .p95, .p99:
            let q: Double = f == .p50 ? 0.5 : f == .p90 ? 0.9 : f == .p95 ? 0.95 : 0.99
            let sorted = values[lo..<hi].sorted()
            // Linear interpolation between closest ranks (the "R-7" definition numpy uses by default).
            let h = q * Double(n - 1)
            let k = Int(h)
            let frac = h - Double(k)
            return k + 1 < n ? sorted[k] + frac * (sorted[k + 1] - sorted[k]) : sorted[k]
        case .delta:
            return values[hi - 1] - values[lo]
        case .rate:
            guard n > 1, times[hi - 1] > times[lo] else { return nil }
            return (values[hi - 1] - values[lo]) / (times[hi - 1] - times[lo]) * 3600
        case .slope:
            guard n > 1 else { return nil }
            let t0 = times[lo]
            var sx = 0.0
            var sy = 0.0
            var sxx = 0.0
            var sxy = 0.0
            for i in lo..<hi {
                let x = (times[i] - t0) / 3600
                sx += x
                sy += values[i]
                sxx += x * x
                sxy += x * values[i]
            }
            let d = Double(n) * sxx - sx * sx
            guard d > 0 else { return nil }
            return (Double(n) * sxy - sx * sy) / d
        case .last, .age, .absent, .count:
            return nil
        }
    }
}
