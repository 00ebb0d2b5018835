/// What the engine has to say so far: the values a `Report` is assembled from (`Report(assembling:)`).
public struct EngineOutput: Sendable {
    public let plan: EvaluationPlan
    public let inventory: Inventory
    public let stats: InputStats
    /// Every alert episode, in the order opened.
    public let episodes: [AlertEpisode]
    /// Inventory devices that sent at least one accepted reading.
    public let devicesSeen: Int
    /// The fleet-level analyses' sections.
    public let analyses: AnalysisSections
    /// Per compliance rule: every applicable device's state at the end of the data.
    let compliance: [(rule: String, states: [(device: Int, state: ComplianceState)])]
    /// Per compliance rule: the version each device reports.
    let complianceVersions: [String: [String?]]
    let attributes: [[String]]
    let attributeSlots: [String: Int]

    /// Attribute value of a device by name ("" when unknown).
    public func attribute(_ name: String, device: String) -> String {
        guard let d = inventory.deviceIndex[device], let slot = attributeSlots[name] else { return "" }
        return attributes[d][slot]
    }

    /// The version a device reports under a compliance rule's attribute.
    func complianceVersion(rule: String, device d: Int) -> String? {
        complianceVersions[rule].flatMap { $0[d] }
    }
}

extension Engine {
    /// The report of everything processed so far; call `finish()` first at the end of a replay.
    /// - Parameter schedule: the visit scheduler's settings; nil: the pack's `schedule:` section,
    ///   else the defaults.
    public func report(schedule: ScheduleOptions? = nil) -> Report {
        Report(assembling: output(), schedule: schedule)
    }
}
