extension DriftRule {
    /// Standardized evidence for a slope beyond which the ramp-onset test alarms.
    static let rampBound = 5.0

    /// Bytes of state per device: bucket sum and count, detector, finding flags and counters
    /// (199), and the report's plot series: the last 48 tested buckets' device and reference
    /// means (two floats each), the latest bucket's index and the device's series (396).
    static let baseStateBytesPerDevice = 199 + 396
    /// Bytes of the ramp test's fixed part (its rings' elements are counted apart).
    static let rampStateBytes = 208

    /// The same, plus the ramp test's rings of buckets and residuals when the rule has a `trend`.
    var stateBytesPerDevice: Int {
        Self.baseStateBytesPerDevice + (trendWindow.map { Self.rampStateBytes + 2 * (32 + 8 * $0) } ?? 0)
    }

    /// Buckets in the ramp-onset test's window, nil with `trend: off`.
    var trendWindow: Int? { trend.map { Int(($0 / bucket).rounded()) } }
    /// Fitted level beyond which a significant slope alarms: half the tolerance (or of the
    /// threshold when the tolerance is 0).
    var trendLevel: Double { (tolerance > 0 ? tolerance : threshold) / 2 }

    var planSteps: [String] {
        var s: [String] = []
        switch reference {
        case .peers(let attrs):
            s.append(
                "every \(DurationText.format(bucket)): mean \(metric) per device; reference = median of the other devices with the same \(attrs.joined(separator: ", ")) (at least \(minPeers))"
            )
        case .device(let id):
            s.append(
                "every \(DurationText.format(bucket)): mean \(metric) per device; reference = mean of device \(id)")
        }
        let test: String
        switch method {
        case .cusum:
            test = "two-sided CUSUM, slack \(JSONValue.format(tolerance)), alarm above \(JSONValue.format(threshold))"
        case .ewma:
            test =
                "EWMA λ=\(JSONValue.format(lambda)), alarm when |z| exceeds \(JSONValue.format(tolerance)) + \(JSONValue.format(threshold))"
        case .pageHinkley:
            test =
                "two-sided Page–Hinkley, slack \(JSONValue.format(tolerance)), alarm above \(JSONValue.format(threshold))"
        }
        s.append("test residual (device − reference): \(test)")
        if let w = trendWindow, let trend {
            let window = DurationText.format(trend) + (trendIsDefault ? ", the default window" : "")
            s.append(
                "and a ramp-onset test (broken-line likelihood ratio) over the last \(w) buckets (\(window)): alarm when the standardized evidence for a slope since some onset exceeds \(JSONValue.format(DriftRule.rampBound)) and the implied offset is beyond \(JSONValue.format(trendLevel))"
            )
        } else {
            s.append("no ramp-onset test (trend: off): slow ramps are seen by the \(method.rawValue) test alone")
        }
        if trendWindow != nil {
            s.append(
                "resolve when the smoothed residual is back within \(JSONValue.format(trendLevel / 2)) (recalibration)")
        } else {
            s.append("resolve when the smoothed residual is back within the tolerance (recalibration)")
        }
        return s
    }
}
