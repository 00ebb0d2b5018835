/// The severity of an alert or finding (not of a diagnostic).
public enum AlertSeverity: String, Sendable, Hashable, Comparable, CaseIterable, Codable {
    /// Worth knowing; no action needed.
    case info
    /// Needs attention soon.
    case warning
    /// Needs attention now.
    case critical

    public static func < (a: AlertSeverity, b: AlertSeverity) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A maintenance task a rule schedules: `maintenance: replace-battery` or `{task, lead, parts}`.
public struct MaintenanceSpec: Sendable, Hashable {
    public var task: String
    /// Seconds before the predicted failure that the visit should happen.
    public var lead: Double?
    public var parts: [String]
}

/// One checked rule of any kind: the fields all kinds share plus the kind's own body.
public struct Rule: Sendable {
    public var id: String
    public var pack: String
    /// Where the rule's id is written: what diagnostics and reports point at.
    public var location: SourceRange
    public var description: String?
    /// The `where` filter on inventory attributes; nil applies the rule to every device.
    public var scope: TypedExpression?
    public var severity: AlertSeverity
    public var labels: [String: String]
    public var summary: String?
    public var maintenance: MaintenanceSpec?
    public var body: RuleBody
    /// `active_during` and `mute_during` (alert and limit rules); nil when the rule has neither.
    public var schedule: RuleSchedule? = nil

    public var kind: RuleKind {
        switch body {
        case .alert: .alert
        case .forecast: .forecast
        case .compliance: .compliance
        case .drift: .drift
        case .limit: .limit
        case .correlation: .correlation
        case .balance: .balance
        case .group: .group
        }
    }
}

/// The kind-specific part of a rule.
public enum RuleBody: Sendable {
    case alert(AlertRule)
    case forecast(ForecastRule)
    case compliance(ComplianceRule)
    case drift(DriftRule)
    case limit(LimitRule)
    case correlation(CorrelationRule)
    case balance(BalanceRule)
    case group(GroupRule)
}

/// A set of checked rules from one or more files, ready to compile.
public struct Policy: Sendable {
    /// A named group of files sharing lists and macros.
    public struct Pack: Sendable, Hashable {
        public var name: String
        public var description: String?
        public var files: [String]
    }

    public var packs: [Pack]
    public var metrics: [String: MetricDecl]
    public var attributes: [String: ValueType]
    public var rules: [Rule]
    /// The `schedule:` section (any file may carry it; all that do must agree).
    public var schedule: ScheduleOptions? = nil
    /// The `time_intervals:` of every file, by name.
    public var timeIntervals: [String: NamedTimeInterval] = [:]
}
