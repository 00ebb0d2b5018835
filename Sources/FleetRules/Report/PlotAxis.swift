import Foundation

/// Axis ticks for the HTML report's plots: round values, and times on UTC hour or day
/// boundaries, spaced so that their labels never meet.
enum PlotAxis {
    /// Width of one character of the plots' 11px labels, a little more than the widest digit.
    static let charWidth = 6.6
    /// Least distance between two time ticks: a five-character label and a gap, so that a last
    /// label moved to end at its tick still clears the one before.
    static let timeLabelSpacing = 56.0

    /// Round values between `v0` and `v1`, at most `maxCount` of them (at least two when the
    /// span allows).
    static func valueTicks(_ v0: Double, _ v1: Double, maxCount: Int) -> [Double] {
        guard v0.isFinite, v1.isFinite, v1 > v0, maxCount >= 1 else { return [] }
        let raw = (v1 - v0) / Double(max(1, maxCount - 1))
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        guard magnitude.isFinite, magnitude > 0 else { return [] }
        for m in [1.0, 2, 2.5, 5, 10, 20] {
            let step = m * magnitude
            let first = (v0 / step).rounded(.up)
            let last = (v1 / step).rounded(.down)
            guard last - first + 1 <= Double(maxCount) else { continue }
            return stride(from: first, through: last, by: 1).map { ($0 * step * 1e9).rounded() / 1e9 }
        }
        return []
    }

    /// Times between `t0` and `t1` on multiples of the smallest step (an hour to a year) that
    /// gives at most `maxCount` ticks, with their labels: "MM-DD" at midnight, else "HH:MM"
    /// (a year, "YYYY", for steps of a year).
    static func timeTicks(_ t0: Double, _ t1: Double, maxCount: Int) -> [(Double, String)] {
        guard t0.isFinite, t1.isFinite, t1 >= t0, maxCount >= 1 else { return [] }
        let hour = 3600.0, day = 86400.0
        let steps =
            [hour, 2 * hour, 3 * hour, 6 * hour, 12 * hour, day, 2 * day, 3 * day, 7 * day, 14 * day, 30 * day]
            + [61 * day, 91 * day, 182 * day, 365 * day, 3650 * day]
        for step in steps {
            let first = (t0 / step).rounded(.up)
            let last = (t1 / step).rounded(.down)
            guard last - first + 1 <= Double(maxCount) else { continue }
            return stride(from: first, through: last, by: 1).map { k in
                let t = k * step
                let text = Timestamp.format(t)
                let label =
                    step >= 365 * day
                    ? String(text.prefix(4))
                    : t.truncatingRemainder(dividingBy: day) == 0
                        ? String(text.dropFirst(5).prefix(5)) : String(text.dropFirst(11).prefix(5))
                return (t, label)
            }
        }
        return []
    }
}
