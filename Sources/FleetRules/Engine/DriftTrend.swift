/// The ramp-sensitive companion of a drift test: the least-squares line through the device's
/// last `window` residuals (one per bucket). A slow ramp adds a fraction of the tolerance per
/// bucket, so CUSUM only starts to accumulate once the ramp has left the tolerance; the line
/// sees the movement itself. It alarms when, over a full window,
///
/// - the slope is significant: |b| / SE(b) > `tBound`, with SE(b) = s / √Sxx, s² the mean
///   squared deviation from the line (n − 2 degrees of freedom), Sxx = n(n² − 1)/12; and
/// - the line's value at the latest bucket is beyond `level`, on the side the slope points to
///   (a device moving *towards* its reference does not alarm).
///
/// Residuals should be clipped before they are fed (one wild bucket then bends the line by a
/// bounded amount). State: the ring of `window` residuals and a few numbers.
struct DriftTrend: Sendable, Equatable {
    let window: Int
    let level: Double
    let tBound: Double
    private var ring: [Double]
    private var next = 0
    private(set) var filled = 0
    /// Of the latest full window: slope per bucket, fitted value at the latest bucket, t statistic.
    private(set) var slope = 0.0
    private(set) var end = 0.0
    private(set) var t = 0.0

    /// Significance bound of the slope's t statistic. A device is tested every bucket (~700
    /// times a month with hourly buckets), so the bound is well above the usual 2; together with
    /// the level bound it gave 1 false alarm in 5000 devices over 30 days on the simulator with
    /// 24- to 48-bucket windows (docs/DRIFT.md). Shorter windows need a higher bound.
    static let defaultTBound = 4.0

    init(window: Int, level: Double, tBound: Double = DriftTrend.defaultTBound) {
        self.window = max(3, window)
        self.level = level
        self.tBound = tBound
        ring = Array(repeating: 0, count: max(3, window))
    }

    var alarm: Bool {
        filled == window && abs(t) > tBound && abs(end) > level && (end > 0) == (slope > 0)
    }

    /// Buckets before the latest one at which the fitted line crosses zero (the onset estimate),
    /// clamped to the window.
    var onsetBucketsAgo: Double {
        guard slope != 0 else { return Double(window - 1) }
        return min(Double(window - 1), max(0, end / slope))
    }

    mutating func update(_ r: Double) {
        guard r.isFinite else { return }
        ring[next] = r
        next = (next + 1) % window
        filled = min(filled + 1, window)
        guard filled == window else { return }
        let n = Double(window)
        let xMean = (n - 1) / 2
        var yMean = 0.0
        for v in ring { yMean += v }
        yMean /= n
        var sxy = 0.0
        for i in 0..<window {
            sxy += (Double(i) - xMean) * (ring[(next + i) % window] - yMean)
        }
        let sxx = n * (n * n - 1) / 12
        let b = sxy / sxx
        let a = yMean - b * xMean
        var sse = 0.0
        for i in 0..<window {
            let e = ring[(next + i) % window] - (a + b * Double(i))
            sse += e * e
        }
        slope = b
        end = a + b * (n - 1)
        let se = (sse / (n - 2)).squareRoot() / sxx.squareRoot()
        if se > 0 {
            t = b / se
        } else {
            t = b == 0 ? 0 : (b > 0 ? 1e9 : -1e9)
        }
    }

    /// Forgets the window (after a recalibration resolved the finding).
    mutating func reset() {
        self = DriftTrend(window: window, level: level, tBound: tBound)
    }
}
