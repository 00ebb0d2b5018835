/// Counts of accepted and rejected input, with the first examples of each rejection.
public struct InputStats: Sendable {
    /// One rejected line (or dropped value) shown in the report.
    public struct Example: Sendable {
        /// Why it was rejected.
        public var reason: RejectReason
        /// Where it came from, when known.
        public var origin: ReadingOrigin?
        /// What was wrong with it.
        public var message: String
    }

    /// Readings accepted.
    public var readings = 0
    /// Lines rejected whole, by reason.
    public var rejected: [RejectReason: Int] = [:]
    /// Values dropped from lines that were otherwise accepted (out of range, not a number).
    public var droppedValues: [RejectReason: Int] = [:]
    /// The first examples of each reason (`examplesPerReason`).
    public var examples: [Example] = []
    /// The first event time evaluated, seconds since the epoch.
    public var firstTimestamp: Double?
    /// The last event time evaluated, seconds since the epoch.
    public var lastTimestamp: Double?
    /// Field names seen in the data with how often, for `check --data`.
    public var fieldsSeen: [String: Int] = [:]

    /// Examples kept per reason.
    public static let examplesPerReason = 5
    /// Lines rejected so far and the latest one, so a caller feeding line by line (the HTTP
    /// ingest) can tell which of its lines were rejected and why.
    public private(set) var rejections = 0
    /// The latest rejection.
    public private(set) var lastRejection: Example?

    mutating func reject(_ reason: RejectReason, _ message: String, _ origin: ReadingOrigin?) {
        rejections += 1
        lastRejection = Example(reason: reason, origin: origin, message: message)
        let n = rejected[reason, default: 0]
        rejected[reason] = n + 1
        if n < Self.examplesPerReason { examples.append(Example(reason: reason, origin: origin, message: message)) }
    }

    mutating func dropValue(_ reason: RejectReason, _ message: @autoclosure () -> String, _ origin: ReadingOrigin?) {
        let n = droppedValues[reason, default: 0] + rejected[reason, default: 0]
        droppedValues[reason, default: 0] += 1
        if n < Self.examplesPerReason { examples.append(Example(reason: reason, origin: origin, message: message())) }
    }

    /// Lines rejected, all reasons.
    public var rejectedTotal: Int { rejected.values.reduce(0, +) }
}
