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
    /// The `mute_during` interval the alert opened in: reported, never delivered.
    public var muted: String? = nil
}

/// A change drained from the engine: an alert started firing or resolved.
public struct AlertEvent: Sendable {
    /// `updated`: a finding still open changed severity (a forecast coming closer, say).
    public enum Change: String, Sendable { case fired, updated, resolved }
    public var change: Change
    public var time: Double
    public var episode: AlertEpisode
}
