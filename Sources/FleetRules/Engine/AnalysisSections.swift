/// What the fleet-level analyses have to say beyond alerts, section by section, in the order
/// the analyzers produced them. Each analyzer returns its own; `Report` assembles them.
public struct AnalysisSections: Sendable {
    public var forecasts: [ForecastSnapshot] = []
    public var forecastCurves: [ForecastCurve] = []
    public var forecastSeries: [ForecastSeries] = []
    public var rebalancing: [Report.Move] = []
    public var rebalancingGroups: [Report.BalanceGroup] = []
    public var drift: [Report.Drift] = []
    public var driftSeries: [DriftSeries] = []
    public var correlations: [Report.Correlation] = []

    public init() {}

    /// Appends another analyzer's sections after these.
    mutating func append(_ other: AnalysisSections) {
        forecasts += other.forecasts
        forecastCurves += other.forecastCurves
        forecastSeries += other.forecastSeries
        rebalancing += other.rebalancing
        rebalancingGroups += other.rebalancingGroups
        drift += other.drift
        driftSeries += other.driftSeries
        correlations += other.correlations
    }
}
