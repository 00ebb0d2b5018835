/// Why a rule fired or stayed silent for one device at one event time: every sub-expression's
/// value, the parts that kept the condition false, and the `for`/firing state.
/// `fleetrules explain` prints it; embedders get it from `Engine.explain(rule:device:at:)`.
public struct Explanation: Sendable {
    /// One sub-expression and its value at the explained time.
    public struct Node: Sendable {
        public var expression: String
        /// The value as text: a number, `true`/`false`, a quoted string, or `no data`.
        public var value: String
        /// For boolean sub-expressions: true, false, or nil when the inputs have no data.
        public var truth: Bool?
        public var isBoolean: Bool
        /// "and" or "or" for the connectives (whose operands are the branches coverage counts), else nil.
        public var connective: String?
        public var children: [Node]
    }

    public enum State: String, Sendable {
        /// The rule's `where` excludes the device.
        case outOfScope = "out-of-scope"
        /// Not firing and not pending.
        case idle
        /// The condition holds and the `for` duration is running.
        case pending
        case firing
    }

    public var rule: String
    public var kind: RuleKind
    public var device: String
    public var time: Double
    public var scope: Node?
    public var condition: Node?
    public var clear: Node?
    public var forDuration: Double
    public var state: State
    /// Start of the pending period or of the firing episode.
    public var since: Double?
    /// How long the condition has held without firing yet (pending only).
    public var pendingFor: Double?
    /// The sub-expressions that made the condition false (or without data), outermost decisive ones.
    public var blocking: [Node]
    /// Findings of the rule for the device still open at `time` (all kinds; forecasts carry their fit in the evidence).
    public var findings: [AlertEpisode]
    /// The last finding that closed, if any and none is open.
    public var lastResolved: AlertEpisode?
    public var notes: [String]
    /// For a group rule: the device's group at the latest tick.
    public var group: GroupExplanation? = nil
}

/// An explanation was asked for a rule or device the engine does not know.
public struct ExplainError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Reads an engine's state for one device without changing it: running sums are advanced on
/// this private copy of the engine (copy-on-write: only the rings touched are copied).
struct ExplainInputs: EvaluationInputs {
    var engine: Engine
    let device: Int
    let now: Double

    func attribute(_ slot: Int) -> String? {
        guard slot < engine.attributes[device].count else { return nil }
        let v = engine.attributes[device][slot]
        return v.isEmpty ? nil : v
    }

    mutating func aggregate(_ id: Int) -> RuntimeValue? { engine.aggregateValueUpdating(id, device: device, at: now) }
}

extension Engine {
    /// Explains `rule` for `device` at event time `time` (default: the engine's latest evaluated
    /// time). Values are read from the engine's current state, so feed readings up to `time`
    /// (and `advance(to:)` past the lateness) first.
    public func explain(rule id: String, device: String, at time: Double? = nil) throws(ExplainError) -> Explanation {
        guard let o = plan.operators.firstIndex(where: { $0.rule.id == id }) else {
            throw ExplainError(
                description: "no rule '\(id)'"
                    + (Suggestion.closest(to: id, in: plan.operators.map(\.rule.id)).map { "; did you mean '\($0)'?" }
                        ?? ""))
        }
        guard let d = inventory.deviceIndex[device] else {
            throw ExplainError(description: "device '\(device)' is not in the inventory")
        }
        let t = time ?? stats.lastTimestamp ?? 0
        let op = plan.operators[o]
        let rule = op.rule
        var out = Explanation(
            rule: id, kind: rule.kind, device: device, time: t, scope: nil, condition: nil, clear: nil, forDuration: 0,
            state: .idle, since: nil, pendingFor: nil, blocking: [], findings: [], lastResolved: nil, notes: [])
        let k = opKey(o, d)
        if let scope = rule.scope {
            let node = explainNode(scope, device: d, at: t)
            out.scope = node
            if !applies[k] || node.truth != true { out.state = .outOfScope }
        }
        let mine = episodes.filter { $0.rule == id && $0.device == device && $0.since <= t }
        out.findings = mine.filter { $0.until.map { $0 > t } ?? true }
        if out.findings.isEmpty { out.lastResolved = mine.last { $0.until != nil } }
        switch op.evaluation {
        case .condition(let condition, let forDuration, let clear):
            out.forDuration = forDuration
            let node = explainNode(condition, device: d, at: t)
            out.condition = node
            out.clear = clear.map { explainNode($0, device: d, at: t) }
            if node.truth != true { out.blocking = Self.blocking(node) }
            if out.state != .outOfScope {
                let since = conditions.since[k]
                switch conditions.phase[k] {
                case .pending:
                    out.state = .pending
                    out.since = since
                    out.pendingFor = max(0, t - since)
                    out.notes.append(
                        "the condition has held for \(DurationText.format(max(0, t - since))) of the \(DurationText.format(forDuration)) `for`; it fires at \(Timestamp.format(since + forDuration)) if it keeps holding"
                    )
                case .firing:
                    out.state = .firing
                    out.since = since
                    if clear != nil {
                        out.notes.append("firing until `clear` holds (hysteresis), even if the condition is false")
                    }
                case .idle:
                    out.state = .idle
                    if node.truth == true, forDuration > 0 {
                        out.notes.append("the condition holds now; the `for` starts at the next evaluation")
                    }
                }
            }
            if severityLevels.column[o] >= 0, out.state != .outOfScope {
                out.notes += severityLevels.notes(column: severityLevels.column[o], device: d, at: t)
            }
            if debounce.column[o] >= 0, out.state != .outOfScope {
                out.notes += debounce.notes(column: debounce.column[o], device: d, at: t)
            }
            if node.truth == nil {
                out.notes.append(
                    "the condition has no data (a window is empty or an attribute is missing), which never fires")
            }
        case .compliance:
            if out.state != .outOfScope { out.state = out.findings.isEmpty ? .idle : .firing }
            for (r, states) in complianceStates(at: t) where r == id {
                if let s = states.first(where: { $0.device == d }) {
                    out.notes.append("compliance state: \(s.state.rawValue)")
                }
            }
            if let v = complianceVersion(rule: id, device: d) { out.notes.append("version: \(v)") }
        case .analysis where rule.kind == .group:
            explainGroup(&out, operator: o, device: d)
        case .analysis:
            if out.state != .outOfScope { out.state = out.findings.isEmpty ? .idle : .firing }
            out.notes.append(
                "a fleet-level \(rule.kind.rawValue) analysis: its findings and their evidence are shown below")
        case .notEvaluated(let reason):
            out.notes.append("not evaluated by this version: \(reason)")
        }
        return out
    }

    func explainNode(_ e: TypedExpression, device d: Int, at t: Double) -> Explanation.Node {
        var inputs = ExplainInputs(engine: self, device: d, now: t)
        let value = program.lower(e).evaluate(&inputs)
        let boolean = Self.isBoolean(e)
        var truth: Bool?
        if case .bool(let b)? = value { truth = b }
        var connective: String?
        if case .and = e { connective = "and" }
        if case .or = e { connective = "or" }
        return Explanation.Node(
            expression: e.description, value: Self.render(value), truth: truth, isBoolean: boolean,
            connective: connective,
            children: Self.explainChildren(e).map { explainNode($0, device: d, at: t) })
    }

    /// The sub-expressions an explanation shows under `e` (constants are left out).
    static func explainChildren(_ e: TypedExpression) -> [TypedExpression] {
        var children: [TypedExpression] = []
        switch e {
        case .constant, .attribute, .now, .window: break
        case .toVersion(let x), .satisfies(let x, _), .not(let x), .negate(let x), .abs(let x), .member(let x, _),
            .matches(let x, _):
            children = [x]
        case .and(let a, let b), .or(let a, let b), .compare(_, let a, let b), .arithmetic(_, let a, let b):
            children = [a, b]
        }
        return children.filter { if case .constant = $0 { return false } else { return true } }
    }

    static func isBoolean(_ e: TypedExpression) -> Bool {
        switch e {
        case .not, .and, .or, .compare, .member, .matches, .satisfies: true
        case .window(.absent, _, _): true
        case .constant(.bool): true
        default: false
        }
    }

    static func render(_ v: RuntimeValue?) -> String {
        switch v {
        case nil: "no data"
        case .number(let x)?: JSONValue.format(abs(x) >= 1e9 ? x : (x * 1e6).rounded() / 1e6)
        case .string(let s)?: JSONValue.string(s).serialized()
        case .bool(let b)?: b ? "true" : "false"
        case .version(let v)?: "v\"\(v)\""
        case .duration(let s)?: DurationText.format(s)
        case .timestamp(let s)?: Timestamp.format(s)
        }
    }

    /// The sub-expressions that keep a false (or no-data) condition from holding: every
    /// non-true operand of an `and`, every operand of a false `or`, down to the comparisons.
    static func blocking(_ node: Explanation.Node) -> [Explanation.Node] {
        guard node.truth != true else { return [] }
        // and/or: descend into the operands that are not true (all of them, for a false `or`).
        guard node.connective != nil else { return [node] }
        return node.children.filter { $0.truth != true }.flatMap(blocking)
    }
}

extension Explanation {
    /// The terminal form: a tree of sub-expressions with their values, then the verdict.
    public func text() -> String {
        var out = "rule \(rule) (\(kind.rawValue)) for device \(device) at \(Timestamp.format(time))\n"
        func tree(_ n: Node, _ depth: Int, _ into: inout String) {
            let mark = n.isBoolean ? (n.truth == true ? "✓" : n.truth == false ? "✗" : "?") : "="
            into += String(repeating: "  ", count: depth) + "\(mark) \(n.expression)  → \(n.value)\n"
            for c in n.children { tree(c, depth + 1, &into) }
        }
        if let scope {
            out += "where:\n"
            tree(scope, 1, &out)
        }
        if let condition {
            out += "when:\n"
            tree(condition, 1, &out)
        }
        if let clear {
            out += "clear:\n"
            tree(clear, 1, &out)
        }
        if forDuration > 0 { out += "for: \(DurationText.format(forDuration))\n" }
        var stateLine = "state: \(state.rawValue)"
        if let since { stateLine += " since \(Timestamp.format(since))" }
        if let pendingFor { stateLine += " (pending for \(DurationText.format(pendingFor)))" }
        out += stateLine + "\n"
        if !blocking.isEmpty {
            out += "false because:\n"
            for b in blocking {
                let inputs = b.children.map { "\($0.expression) = \($0.value)" }
                out +=
                    "  \(b.expression) is \(b.truth == false ? "false" : "without data")"
                    + (inputs.isEmpty ? "" : " (\(inputs.joined(separator: ", ")))") + "\n"
            }
        }
        if let group { out += group.text() }
        for note in notes { out += "note: \(note)\n" }
        for f in findings {
            out += "finding: \(f.severity.rawValue) since \(Timestamp.format(f.since)): \(f.summary)\n"
            if !f.evidence.isEmpty { out += "  evidence: \(JSONValue.object(f.evidence).serialized())\n" }
        }
        if let r = lastResolved, let until = r.until {
            out += "last finding: \(Timestamp.format(r.since)) – \(Timestamp.format(until)): \(r.summary)\n"
        }
        return out
    }

    public func json() -> JSONValue {
        func node(_ n: Node) -> JSONValue {
            .object([
                ("expression", .string(n.expression)), ("value", .string(n.value)),
                ("truth", n.truth.map { .bool($0) } ?? .null), ("children", .array(n.children.map(node))),
            ])
        }
        func episode(_ e: AlertEpisode) -> JSONValue {
            .object([
                ("severity", .string(e.severity.rawValue)), ("since", .string(Timestamp.format(e.since))),
                ("until", e.until.map { .string(Timestamp.format($0)) } ?? .null), ("summary", .string(e.summary)),
                ("evidence", .object(e.evidence)),
            ])
        }
        var fields: [(String, JSONValue)] = [
            ("rule", .string(rule)), ("kind", .string(kind.rawValue)), ("device", .string(device)),
            ("at", .string(Timestamp.format(time))), ("where", scope.map(node) ?? .null),
            ("when", condition.map(node) ?? .null), ("clear", clear.map(node) ?? .null),
            ("for_seconds", .number(forDuration)), ("state", .string(state.rawValue)),
            ("since", since.map { .string(Timestamp.format($0)) } ?? .null),
            ("pending_seconds", pendingFor.map { .number($0) } ?? .null),
            ("blocking", .array(blocking.map { .string($0.expression) })),
            ("findings", .array(findings.map(episode))), ("notes", .array(notes.map { .string($0) })),
        ]
        if let group { fields.append(("group", group.json())) }
        return .object(fields)
    }
}

extension Replay {
    /// Replays only the readings up to event time `until` (later ones are skipped, not counted),
    /// then finishes the engine at `until`: the state a run whose data ended at `until` reports,
    /// which is what `fleetrules explain --at` looks at.
    public static func run(_ engine: inout Engine, files: [String], until: Double) throws {
        try merge(&engine, files: files, until: until, progress: nil)
        engine.advance(to: until)
        engine.finish()
    }
}
