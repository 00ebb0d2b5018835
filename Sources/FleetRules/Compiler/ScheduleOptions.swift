/// How maintenance tasks are grouped into site visits: the pack's `schedule:` section, or
/// `fleetrules run --horizon/--max-tasks-per-visit`.
public struct ScheduleOptions: Sendable, Hashable {
    /// How much earlier than its due time a task may be pulled to join a visit already planned.
    public var horizon: Double
    /// The most tasks one visit takes.
    public var maxTasksPerVisit: Int

    public static let defaultHorizon: Double = 3 * 86400
    public static let defaultMaxTasksPerVisit = 8

    public init(horizon: Double = defaultHorizon, maxTasksPerVisit: Int = defaultMaxTasksPerVisit) {
        self.horizon = horizon
        self.maxTasksPerVisit = maxTasksPerVisit
    }
}
