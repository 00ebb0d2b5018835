/// The state of one device under one compliance rule.
public enum ComplianceState: String, Sendable, CaseIterable, Comparable {
    /// None of the other states applies.
    case compliant
    /// Outside the `baseline` for the device's `type`.
    case outdated
    /// A `deny` entry matches the version.
    case denied
    /// The version cannot be parsed, or there is none.
    case unknown
    /// No version reported for the rule's `stale` duration.
    case stale
    /// Below the rollout target once the rollout has started.
    case rolloutPending = "rollout-pending"
    /// Reported the rollout target, then an older version.
    case rolloutFailed = "rollout-failed"

    public static func < (a: ComplianceState, b: ComplianceState) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// Per-device firmware (or any version attribute) tracking for one compliance rule: the newest
/// reported version and when, whether the rollout target was ever reached, and how often the
/// device fell back from it.
///
/// Precedence when several apply: stale (no version for `stale`), unknown (unparseable or
/// missing), denied (deny list, even inside the baseline), outdated (outside the baseline),
/// rollout-failed (reached the target, then reported an older version), rollout-pending (below
/// the target once the rollout has started; a finding once the deadline has passed), compliant.
struct ComplianceTracker: Sendable {
    let operatorIndex: Int
    let rule: ComplianceRule
    let attributeSlot: Int?
    /// Per device: whether the rule's `where` holds.
    var applies: [Bool]
    var version: [String?]
    var parsed: [Version?]
    /// When the version was last reported in telemetry; -inf when it comes from the inventory.
    var reportedAt: [Double]
    var reachedTarget: [Bool]
    var fallbacks: [UInt8]
    var state: [ComplianceState?]
    /// Whether the current state is reported as an alert (pending becomes one after the deadline).
    var alerting: [Bool]
    var episode: [Int32]
    /// Time of the pending timer per device (-inf: none), so each device keeps at most one.
    var armed: [Double]

    init(operatorIndex: Int, rule: ComplianceRule, attributeSlot: Int?, initial: [String?], applies: [Bool]) {
        self.operatorIndex = operatorIndex
        self.rule = rule
        self.attributeSlot = attributeSlot
        self.applies = applies
        let n = initial.count
        version = initial.map { $0?.isEmpty == false ? $0 : nil }
        parsed = version.map { $0.flatMap(Version.init(parsing:)) }
        reportedAt = Array(repeating: -.infinity, count: n)
        reachedTarget = Array(repeating: false, count: n)
        fallbacks = Array(repeating: 0, count: n)
        state = Array(repeating: nil, count: n)
        alerting = Array(repeating: false, count: n)
        episode = Array(repeating: -1, count: n)
        armed = Array(repeating: -.infinity, count: n)
        for d in 0..<n { noteTarget(d, type: nil) }
    }

    /// The rollout target for a device type, if the rule has a rollout that covers it.
    func target(for type: String) -> Version? {
        guard let r = rule.rollout else { return nil }
        return r.target[type] ?? r.target["*"]
    }

    func baseline(for type: String) -> VersionRange? { rule.baseline[type] ?? rule.baseline["*"] }

    /// A version reported in telemetry at `t`.
    mutating func observe(_ d: Int, _ text: String, at t: Double, type: String) {
        version[d] = text
        parsed[d] = Version(parsing: text)
        reportedAt[d] = t
        noteTarget(d, type: type)
    }

    private mutating func noteTarget(_ d: Int, type: String?) {
        guard let type, let target = target(for: type), let v = parsed[d] else { return }
        if v >= target {
            reachedTarget[d] = true
        } else if reachedTarget[d] {
            // Reported the target before and an older version now: the update did not hold.
            reachedTarget[d] = false
            fallbacks[d] &+= 1
        }
    }

    /// The state at event time `t`, the deny entry that applies, and since when a time-driven
    /// state holds (stale, overdue) — nil means "now".
    func classify(_ d: Int, at t: Double, type: String, dataStart: Double) -> (
        state: ComplianceState, deny: ComplianceRule.Deny?, since: Double?, overdue: Double?
    ) {
        if let stale = rule.stale {
            let last = reportedAt[d].isFinite ? reportedAt[d] : dataStart
            if t - last >= stale { return (.stale, nil, last + stale, nil) }
        }
        guard let v = parsed[d] else { return (.unknown, nil, nil, nil) }
        if let deny = rule.deny.first(where: { $0.versions.isSatisfied(by: v) }) { return (.denied, deny, nil, nil) }
        if let baseline = baseline(for: type), !baseline.isSatisfied(by: v) { return (.outdated, nil, nil, nil) }
        if let target = target(for: type), let rollout = rule.rollout, t >= rollout.started {
            if fallbacks[d] > 0, v < target { return (.rolloutFailed, nil, nil, nil) }
            if v < target {
                let due = rollout.started + rollout.deadline
                return (.rolloutPending, nil, t >= due ? due : nil, t >= due ? t - due : nil)
            }
        }
        return (.compliant, nil, nil, nil)
    }

    /// Whether a state is an alert: every non-compliant state, pending only once overdue.
    static func isFinding(_ s: ComplianceState, overdue: Double?) -> Bool {
        switch s {
        case .compliant: false
        case .rolloutPending: overdue != nil
        default: true
        }
    }
}
