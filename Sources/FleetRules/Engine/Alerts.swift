/// One alert episode: a rule firing for a device from `since` until `until` (nil while firing).
public struct AlertEpisode: Sendable {
    /// The rule's id.
    public var rule: String
    /// The rule's kind.
    public var kind: RuleKind
    /// The rule's pack.
    public var pack: String
    /// The device's id; empty for a group or zone finding.
    public var device: String
    /// The severity (a forecast or compliance finding can escalate).
    public var severity: AlertSeverity
    /// When it started firing, seconds since the epoch.
    public var since: Double
    /// When it resolved, seconds since the epoch; nil while open.
    public var until: Double?
    /// The value that made it fire, when there is one.
    public var value: Double?
    /// The rule's summary, rendered.
    public var summary: String
    /// The rule's labels.
    public var labels: [String: String]
    /// What supports it, by rule kind (docs/REPORT.md), in the engine's order.
    public var evidence: [(String, JSONValue)]
    /// The rule's maintenance task, if any.
    public var maintenance: MaintenanceSpec?
    /// The site of a group-level finding (device findings take the device's site).
    public var site: String? = nil
    /// When the maintenance task is due (forecasts: the predicted crossing minus `lead`); nil: at `since`.
    public var due: Double? = nil
    /// The firing group whose rule inhibits this device alert: kept in the report, not delivered.
    public var inhibitedBy: AlertInhibition? = nil
    /// The `mute_during` interval the alert opened in: reported, never delivered.
    public var muted: String? = nil
}

/// A group rule's finding that inhibits a device alert (`inhibits:`).
public struct AlertInhibition: Sendable, Hashable {
    public var rule: String
    public var group: String

    public init(rule: String, group: String) {
        self.rule = rule
        self.group = group
    }
}

/// A change drained from the engine: an alert started firing or resolved.
public struct AlertEvent: Sendable {
    /// `updated`: a finding still open changed severity (a forecast coming closer, say).
    public enum Change: String, Sendable { case fired, updated, resolved }
    /// What changed.
    public var change: Change
    /// The event time of the change, seconds since the epoch.
    public var time: Double
    /// The episode as it is after the change.
    public var episode: AlertEpisode
}
