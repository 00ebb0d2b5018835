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
