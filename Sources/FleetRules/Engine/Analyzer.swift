import Foundation

/// A fleet-level analysis that the engine feeds in event time: forecast, drift, correlation and
/// balance rules. Condition rules (alert, limit) and compliance run in the engine's own operators;
/// an analyzer keeps its own per-device state, sees every accepted value of the metrics it reads
/// (and, if it asks, every reading's gateway), is ticked at fixed event-time boundaries, and
/// reports findings through a `FindingSink`, which the engine turns into alert episodes.
///
/// Analyzers are value types held in the engine, so an engine stays copyable and deterministic.
protocol Analyzer: Sendable {
    /// Index of the rule's operator in `plan.operators`.
    var operatorIndex: Int { get }
    /// Metric ids whose accepted values `observe(device:metric:value:time:)` receives.
    var metrics: [Int] { get }
    /// Whether `observeReading(device:time:gateway:)` receives every accepted reading.
    var wantsReadings: Bool { get }
    /// Event-time spacing of `tick` calls (boundaries are multiples of it since the epoch); 0: none.
    var tickInterval: Double { get }
    /// Whether only devices the rule's `where` admits need to be observed (the engine then skips
    /// the others); false when other devices matter too, such as a drift rule's reference device.
    var observesApplicableOnly: Bool { get }

    mutating func observe(device: Int, metric: Int, value: Double, time: Double)
    mutating func observeReading(device: Int, time: Double, gateway: Int32)
    /// A hint that `device` is about to be observed: ask the cache for its per-device state.
    mutating func prefetch(device: Int)
    /// Called once per boundary `time`, before any reading at or after it is observed.
    mutating func tick(at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink)
    /// Called once at the end of the data, after the last tick.
    mutating func finish(at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink)
    /// What the analysis has to say beyond alerts (forecasts, moves, statistics), for the report.
    func sections(_ context: AnalysisContext) -> AnalysisSections
}

extension Analyzer {
    var wantsReadings: Bool { false }
    var observesApplicableOnly: Bool { false }
    mutating func observeReading(device: Int, time: Double, gateway: Int32) {}
    mutating func prefetch(device: Int) {}
    mutating func finish(at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink) {}
    func sections(_ context: AnalysisContext) -> AnalysisSections { AnalysisSections() }
}

/// What an analyzer may read of the engine: the rule, inventory, current device attributes,
/// gateway names and which devices the rule's `where` admits.
struct AnalysisContext {
    /// The engine's state the analyzers read, shared by every analyzer's context at a tick.
    let inputs: AnalysisInputs
    let operatorIndex: Int
    /// Event time of the tick or end of data.
    let now: Double

    var plan: EvaluationPlan { inputs.plan }
    var inventory: Inventory { inputs.inventory }
    var attributes: [[String]] { inputs.attributes }
    var attributeSlots: [String: Int] { inputs.attributeSlots }
    var gatewayNames: [String] { inputs.gatewayNames }
    /// The gateway each device was last heard through (index into `gatewayNames`, -1: none).
    var deviceGateway: [Int32] { inputs.deviceGateway }
    /// Whether each device sent at least one accepted reading.
    var seen: [Bool] { inputs.seen }
    /// The engine's scope flags, flat [device * operatorCount + operator].
    var applies: [Bool] { inputs.applies }
    var operatorCount: Int { inputs.operatorCount }

    var rule: Rule { plan.operators[operatorIndex].rule }
    var devices: Int { inventory.count }
    func deviceID(_ d: Int) -> String { inventory.rows[d][0] }
    /// Whether the rule's static `where` admits device `d`.
    func applies(_ d: Int) -> Bool { inputs.applies[d * inputs.operatorCount + operatorIndex] }
    /// A device's current attribute by name ("" when unknown or unset).
    func attribute(_ name: String, device d: Int) -> String {
        guard let slot = attributeSlots[name], slot < attributes[d].count else { return "" }
        return attributes[d][slot]
    }
}

/// Findings an analyzer opens, updates and resolves, keyed by a subject of its choosing
/// (a device id, or a group such as "plant-a/gw-3"). The engine keeps one episode per open key.
struct FindingSink {
    struct Finding: Sendable {
        /// Stable key of the subject within the rule.
        var key: String
        /// Inventory index of the device concerned, or -1 for a group-level finding.
        var device: Int
        /// Site of a group-level finding (device findings take the device's site).
        var site: String?
        var severity: AlertSeverity
        var value: Double?
        var summary: String
        var evidence: [(String, JSONValue)]
        var maintenance: MaintenanceSpec?
        /// When the condition started (may precede the tick that noticed it).
        var since: Double
        var labels: [String: String] = [:]
        /// When the maintenance task is due (nil: when the finding opens).
        var due: Double? = nil
        /// A group finding's member devices, when its rule inhibits device alerts.
        var members: [Int]? = nil
    }

    enum Change: Sendable {
        /// Opens the finding, or refreshes it in place when one is open under the key.
        case report(Finding)
        case resolve(key: String, at: Double)
    }

    private(set) var changes: [Change] = []

    /// Opens a finding, or updates the open one with the same key (severity, value, summary, evidence).
    mutating func report(_ finding: Finding) { changes.append(.report(finding)) }
    mutating func resolve(_ key: String, at time: Double) { changes.append(.resolve(key: key, at: time)) }
}

/// Builds the analyzer of an operator whose evaluation is `.analysis`.
enum Analyzers {
    static func make(plan: EvaluationPlan, operator o: Int, inventory: Inventory) -> (any Analyzer)? {
        let rule = plan.operators[o].rule
        switch rule.body {
        case .forecast(let f):
            guard let m = plan.metricIndex[f.metric] else { return nil }
            return ForecastAnalyzer(
                operatorIndex: o, rule: rule, forecast: f, metric: m, range: plan.metrics[m].range,
                devices: inventory.count)
        case .balance(let b): return BalanceAnalyzer(operatorIndex: o, rule: b, plan: plan, inventory: inventory)
        case .drift(let d):
            guard let m = plan.metricIndex[d.metric] else { return nil }
            return DriftAnalyzer(operatorIndex: o, metric: m, rule: d, inventory: inventory)
        case .correlation(let c):
            return CorrelationAnalyzer(operatorIndex: o, plan: plan, rule: c, inventory: inventory)
        case .group(let g):
            return GroupAnalyzer(operatorIndex: o, rule: g, plan: plan, inventory: inventory)
        default: return nil
        }
    }
}

/// `{{name}}` placeholders in a rule's `summary`, filled by a lookup. The engine parses each
/// rule's template once (`parse`) and fills the parts at every alert that opens, thousands per
/// replay, without parsing again.
enum SummaryTemplate {
    enum Part: Sendable, Equatable {
        case text(String)
        case placeholder(String)
    }

    /// The template's literal text and placeholders in order; a name is trimmed of white space,
    /// and an unclosed `{{` stays text.
    static func parse(_ template: String) -> [Part] {
        var parts: [Part] = []
        var rest = Substring(template)
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            parts.append(.placeholder(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        return parts
    }

    static func render(_ parts: [Part], _ lookup: (String) -> String) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .text(let s): out += s
            case .placeholder(let name): out += lookup(name)
            }
        }
        return out
    }

    static func render(_ template: String, _ lookup: (String) -> String) -> String {
        render(parse(template), lookup)
    }
}
