/// The kinds of rule; a rule mapping's first key names its kind.
public enum RuleKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// A condition over a device's metrics, held `for` a duration.
    case alert
    /// A gauge's predicted threshold crossing.
    case forecast
    /// Versions against baselines, advisories and rollouts.
    case compliance
    /// A sensor's offset from its peers or a reference.
    case drift
    /// A metric outside its range; zone-wide excursions become one alert.
    case limit
    /// Two signals correlated per group.
    case correlation
    /// Load balanced across a group's gateways.
    case balance
    /// A condition over each group of devices, evaluated on event-time ticks.
    case group

    /// Keys this kind accepts beyond the common ones.
    public var fields: [FieldSpec] {
        switch self {
        case .alert: AlertRule.fields + RuleSchedule.fields
        case .forecast: ForecastRule.fields
        case .compliance: ComplianceRule.fields
        case .drift: DriftRule.fields
        case .limit: LimitRule.fields + RuleSchedule.fields
        case .correlation: CorrelationRule.fields
        case .balance: BalanceRule.fields
        case .group: GroupRule.fields
        }
    }

    public var summary: String {
        switch self {
        case .alert: "a condition that must hold `for` a duration before it fires"
        case .forecast: "predicts when a metric crosses a threshold and acts before it does"
        case .compliance: "versions against baselines, deny lists, staleness and rollouts"
        case .drift: "a sensor slowly leaving the truth, tested against a reference"
        case .limit: "an operating range for a metric, with a duration"
        case .correlation: "a significant statistical link between two signals per group"
        case .balance: "gateways whose load differs from their group's mean, and the moves that fix it"
        case .group: "a condition over the members of each group of devices, evaluated on a tick"
        }
    }
}
