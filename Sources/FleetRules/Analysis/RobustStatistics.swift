/// Medians and the median absolute deviation: the robust location and spread behind the drift
/// rules' peer references, the forecasts' trend fits and learned level curves, and the scorer.
/// An even count takes the mean of the two middle values.
enum RobustStatistics {
    /// 1.4826 × MAD estimates the standard deviation of normally distributed values.
    static let normalConsistency = 1.4826

    /// Median of ascending `sorted` with the element at `index` left out (the device itself);
    /// an index outside the array leaves nothing out. Nil when nothing remains.
    static func median(_ sorted: [Double], excluding index: Int) -> Double? {
        let n = sorted.count - (index >= 0 && index < sorted.count ? 1 : 0)
        guard n > 0 else { return nil }
        func at(_ j: Int) -> Double { index >= 0 && j >= index ? sorted[j + 1] : sorted[j] }
        return n % 2 == 1 ? at(n / 2) : (at(n / 2 - 1) + at(n / 2)) / 2
    }

    /// Median of ascending `sorted`; nil when empty.
    static func median(sorted: [Double]) -> Double? { median(sorted, excluding: -1) }

    /// Median of `values` in any order; nil when empty.
    static func median(_ values: [Double]) -> Double? { median(sorted: values.sorted()) }

    /// Median of `values`, sorting them in place (no copy); nil when empty.
    static func median(sorting values: inout [Double]) -> Double? {
        values.sort()
        return median(sorted: values)
    }

    /// Robust standard deviation from absolute deviations (|value − centre|, any order, sorted
    /// in place): 1.4826 × their median. NaN when empty.
    static func spread(deviations: inout [Double]) -> Double {
        normalConsistency * (median(sorting: &deviations) ?? .nan)
    }

    /// Robust standard deviation of ascending `sorted`: 1.4826 × the median absolute deviation
    /// from its median; 0 when empty.
    static func spread(_ sorted: [Double]) -> Double {
        guard let m = median(sorted: sorted) else { return 0 }
        var deviations = sorted.map { abs($0 - m) }
        return spread(deviations: &deviations)
    }
}
