extension ForecastRule {
    /// Bucket length: the fit window in at most 168 buckets, a whole number of 5 minutes
    /// (hourly for the usual 7 days, two-hourly for 14 days, 5 minutes for 12 hours).
    var bucket: Double {
        max(300, (fit / 168 / 300).rounded(.up) * 300)
    }

    /// Fits run this often: every 6 hours, or 8 times per fit window when that is shorter.
    var refitInterval: Double {
        max(1, (min(6 * 3600, fit / 8) / bucket).rounded()) * bucket
    }

    /// Bytes of a device's band tracker (the per-band ratio state of `curve_by`) plus its cohort id.
    static let curveBytesPerDevice = 60

    /// Bytes of state per device: the buckets of the fit window (4 bytes each) and the fit's
    /// summary. With `curve_by` (auto model, a declared range) also the device's band tracker
    /// and cohort; the cohorts' curves (at most 20 bands × 256 ratios × 4 bytes = 20 KiB each)
    /// are shared and not per device.
    func stateBytesPerDevice(rangeDeclared: Bool = true) -> Int {
        let capacity = max(RobustTrend.minimumPoints, Int((fit / bucket).rounded(.up)))
        let curve = curveBy.isEmpty || model != .auto || !rangeDeclared ? 0 : Self.curveBytesPerDevice
        return capacity * 4 + 96 + curve
    }

    func planSteps(maintenance: MaintenanceSpec?) -> [String] {
        var steps: [String] = []
        steps.append(
            "bucket \(metric) per \(DurationText.format(bucket)) (trimmed mean); a jump towards full restarts the fit, a drop splits it"
        )
        steps.append(
            "every \(DurationText.format(refitInterval)): Theil–Sen trend over the last \(DurationText.format(fit))\(model == .auto ? ", accelerating model when the recent rate is significantly higher" : "")"
        )
        if !curveBy.isEmpty, model == .auto {
            steps.append(
                "learn how the rate changes with the level per \(curveBy.joined(separator: ", ")) (20 bands of the range); fit along the learned curve where it bends"
            )
        }
        steps.append(
            "predict when \(metric) \(direction == .falling ? "falls to" : "rises to") \(JSONValue.format(threshold)); alert within \(DurationText.format(horizon))"
        )
        steps.append(
            "severity by time left: "
                + severityByTimeLeft.map { "\(DurationText.format($0.seconds)) \($0.severity.rawValue)" }.joined(
                    separator: ", "))
        if let m = maintenance {
            steps.append(
                "schedule \(m.task)\(m.lead.map { " \(DurationText.format($0)) before the crossing" } ?? " at the crossing")"
            )
        }
        steps.append("flat, erratic or silent gauges: an info finding instead of a prediction")
        return steps
    }
}
