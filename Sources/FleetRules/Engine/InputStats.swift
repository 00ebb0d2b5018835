/// Counts of accepted and rejected input, with the first examples of each rejection.
public struct InputStats: Sendable {
    public struct Example: Sendable {
        public var reason: RejectReason
        public var origin: ReadingOrigin?
        public var message: String
    }

    public var readings = 0
    /// Lines rejected whole, by reason.
    public var rejected: [RejectReason: Int] = [:]
    /// Values dropped from lines that were otherwise accepted (out of range, not a number).
    public var droppedValues: [RejectReason: Int] = [:]
    public var examples: [Example] = []
    public var firstTimestamp: Double?
    public var lastTimestamp: Double?
    /// Field names seen in the data with how often, for `check --data`.
    public var fieldsSeen: [String: Int] = [:]

    public static let examplesPerReason = 5
    /// Lines rejected so far and the latest one, so a caller feeding line by line (the HTTP
    /// ingest) can tell which of its lines were rejected and why.
    public private(set) var rejections = 0
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

    public var rejectedTotal: Int { rejected.values.reduce(0, +) }
}
