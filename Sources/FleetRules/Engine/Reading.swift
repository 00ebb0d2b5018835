/// One telemetry record for the embedding API: numbers are metrics, strings are attributes.
public struct Reading: Sendable {
    /// Event time, seconds since the epoch.
    public var timestamp: Double
    public var device: String
    public var gateway: String?
    public var metrics: [String: Double]
    public var attributes: [String: String]

    public init(
        timestamp: Double, device: String, gateway: String? = nil, metrics: [String: Double] = [:],
        attributes: [String: String] = [:]
    ) {
        self.timestamp = timestamp
        self.device = device
        self.gateway = gateway
        self.metrics = metrics
        self.attributes = attributes
    }
}

/// Where a reading came from, for the examples of rejected input in the report.
public struct ReadingOrigin: Sendable, Hashable {
    public var file: String
    public var line: Int
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }
}

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

/// One alert episode: a rule firing for a device from `since` until `until` (nil while firing).
public struct AlertEpisode: Sendable {
    public var rule: String
    public var kind: RuleKind
    public var pack: String
    public var device: String
    public var severity: AlertSeverity
    public var since: Double
    public var until: Double?
    public var value: Double?
    public var summary: String
    public var labels: [String: String]
    public var evidence: [(String, JSONValue)]
    public var maintenance: MaintenanceSpec?
    /// The site of a group-level finding (device findings take the device's site).
    public var site: String? = nil
    /// When the maintenance task is due (forecasts: the predicted crossing minus `lead`); nil: at `since`.
    public var due: Double? = nil
}

/// A change drained from the engine: an alert started firing or resolved.
public struct AlertEvent: Sendable {
    /// `updated`: a finding still open changed severity (a forecast coming closer, say).
    public enum Change: String, Sendable { case fired, updated, resolved }
    public var change: Change
    public var time: Double
    public var episode: AlertEpisode
}
