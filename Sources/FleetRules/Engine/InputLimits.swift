import Foundation

/// What the engine accepts of a reading before it is queued: timestamps no earlier than
/// `earliestAccepted` and no later than `wallClockLimit`, not behind what was already evaluated,
/// and values within their metric's declared range. A reading more than `maxForwardJump` ahead
/// of the fleet's time is held rather than judged at once (see `Engine.maxForwardJump`).
struct InputLimits: Sendable {
    /// How far ahead of the wall clock a device's clock may run.
    static let allowedClockSkew: Double = 86400

    var maxForwardJump: Double = 86400
    var wallClockLimit: Double = Date().timeIntervalSince1970 + InputLimits.allowedClockSkew
    /// Readings before this time (2000-01-01) are rejected as `too_old`.
    var earliestAccepted: Double = 946_684_800
    /// Per metric, its declared range (±infinity when none) and its name for the messages.
    let rangeLow: [Double]
    let rangeHigh: [Double]
    let metricNames: [String]

    init(rangeLow: [Double], rangeHigh: [Double], metricNames: [String]) {
        self.rangeLow = rangeLow
        self.rangeHigh = rangeHigh
        self.metricNames = metricNames
    }

    /// Why a reading at `t` is rejected whole whatever its values, nil when its time is
    /// acceptable. `frontier` is the event time of the latest reading or timer evaluated.
    func rejection(time t: Double, frontier: Double, lateness: Double) -> (RejectReason, String)? {
        guard t.isFinite, t >= earliestAccepted else {
            return (.tooOld, "timestamp \(t.isFinite ? Timestamp.format(t) : "\(t)") is before 2000-01-01")
        }
        if t > wallClockLimit {
            return (
                .future,
                "timestamp \(Timestamp.format(t)) is more than \(DurationText.format(Self.allowedClockSkew)) ahead of the current time"
            )
        }
        // Late means: events after it were already processed. Everything within `lateness` of the
        // fleet's time is safe; a device whose clock runs ahead cannot push the others out.
        if t < frontier {
            return (
                .late,
                "reading at \(Timestamp.format(t)) arrived after events up to \(Timestamp.format(frontier)) were evaluated (lateness \(DurationText.format(lateness)))"
            )
        }
        return nil
    }

    /// Whether value `v` of metric `m` is within the metric's declared range (NaN is not).
    @inline(__always)
    func inRange(_ m: Int, _ v: Double) -> Bool { v >= rangeLow[m] && v <= rangeHigh[m] }

    func rangeMessage(metric m: Int, _ v: Double) -> String {
        "\(metricNames[m]) = \(JSONValue.format(v)) is outside [\(JSONValue.format(rangeLow[m])), \(JSONValue.format(rangeHigh[m]))]"
    }

    /// Whether a reading at `t` is to be held: more than `maxForwardJump` ahead of the fleet's
    /// time, or the first reading, with no fleet's time yet to judge it by.
    func isFarAhead(_ t: Double, fleetTime: Double?) -> Bool {
        maxForwardJump.isFinite && t > (fleetTime ?? -.infinity) + maxForwardJump
    }
}
