import Foundation

/// One telemetry record for the embedding API: numbers are metrics, strings are attributes.
public struct Reading: Sendable {
    /// Event time, seconds since the epoch (``date`` is the same instant as a `Date`).
    public var timestamp: Double
    /// The device's id, as in the inventory's `device` column.
    public var device: String
    /// The gateway the reading came through, if known (gateway balance rules count it).
    public var gateway: String?
    /// Metric values by metric name; names the policy does not declare are ignored.
    public var metrics: [String: Double]
    /// Attribute values by attribute name (a device's reported firmware version, say).
    public var attributes: [String: String]

    /// The event time as a `Date`.
    public var date: Date {
        get { Date(timeIntervalSince1970: timestamp) }
        set { timestamp = newValue.timeIntervalSince1970 }
    }

    /// A reading at an event time given as a `Date`.
    public init(
        timestamp: Date, device: String, gateway: String? = nil, metrics: [String: Double] = [:],
        attributes: [String: String] = [:]
    ) {
        self.init(
            timestamp: timestamp.timeIntervalSince1970, device: device, gateway: gateway, metrics: metrics,
            attributes: attributes)
    }

    /// A reading at an event time given in seconds since the epoch.
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
    /// The file (or request) the reading was read from.
    public var file: String
    /// Its line number, from 1.
    public var line: Int
    /// The origin of line `line` of `file`.
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }
}
