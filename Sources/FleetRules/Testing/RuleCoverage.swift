/// Which rules, and which branches of their conditions, the rule tests exercised.
///
/// Branches of an alert or limit rule: the whole condition true and false; each operand of
/// every `and`/`or` true and false; with a `for`, the condition pending (held, not yet long
/// enough) and elapsed (fired); with a `clear`, clear false while firing and clear true
/// (resolved); and the rule firing at all. Other kinds have one branch: a finding. Outcomes are
/// sampled whenever a device's readings arrive and at every expectation time.
public struct CoverageRecorder: Sendable {
    public struct Rule: Sendable {
        public var id: String
        public var pack: String
        public var kind: RuleKind
        /// False for rules this version does not evaluate; they are listed but not counted.
        public var evaluated: Bool
        public var branches: [String]
        public var hit: Set<String>
        public var covered: Int { branches.count { hit.contains($0) } }
    }

    public private(set) var rules: [Rule] = []
    private var index: [String: Int] = [:]

    public init() {}

    static func operandLabels(_ e: TypedExpression) -> [String] {
        var out: [String] = []
        func walk(_ e: TypedExpression) {
            let connective: Bool
            switch e {
            case .and, .or: connective = true
            default: connective = false
            }
            for c in Engine.explainChildren(e) {
                if connective {
                    out.append("operand `\(c)` true")
                    out.append("operand `\(c)` false")
                }
                walk(c)
            }
        }
        walk(e)
        return out
    }

    /// Adds the rules of a plan (once per rule id).
    mutating func register(_ plan: EvaluationPlan) {
        for op in plan.operators where index[op.rule.id] == nil {
            var branches = ["fired"]
            var evaluated = true
            switch op.evaluation {
            case .condition(let condition, let forDuration, let clear):
                branches = ["when true", "when false"] + Self.operandLabels(condition)
                if forDuration > 0 { branches += ["for pending", "for elapsed"] }
                if clear != nil { branches += ["clear false while firing", "clear true (resolved)"] }
                branches.append("fired")
            case .compliance, .analysis: branches = ["fired"]
            case .notEvaluated:
                evaluated = false
                branches = []
            }
            // An operand written twice is one branch pair.
            var seen: Set<String> = []
            branches = branches.filter { seen.insert($0).inserted }
            index[op.rule.id] = rules.count
            rules.append(
                Rule(
                    id: op.rule.id, pack: op.rule.pack, kind: op.rule.kind, evaluated: evaluated, branches: branches,
                    hit: []))
        }
    }

    /// Replays a test once, sampling every condition's outcomes.
    mutating func record(_ test: RuleTest, plan: EvaluationPlan) {
        var engine = RuleTestRunner.engine(plan, test.inventory)
        let checkTimes = test.checks.map(\.at)
        var i = 0
        var c = 0
        let readings = test.readings
        while i < readings.count || c < checkTimes.count {
            let nextReading = i < readings.count ? readings[i].timestamp : .infinity
            let nextCheck = c < checkTimes.count ? checkTimes[c] : .infinity
            let t = min(nextReading, nextCheck)
            var devices: Set<Int> = []
            while i < readings.count, readings[i].timestamp == t {
                engine.ingest(readings[i])
                if let d = test.inventory.deviceIndex[readings[i].device] { devices.insert(d) }
                i += 1
            }
            let atCheck = nextCheck == t
            while c < checkTimes.count, checkTimes[c] == t { c += 1 }
            engine.advance(to: t)
            sample(engine, devices: atCheck ? Set(0..<test.inventory.count) : devices, at: t)
        }
        engine.finish()
        for e in engine.episodes {
            guard let r = index[e.rule] else { continue }
            rules[r].hit.insert("fired")
            let op = plan.operators.first { $0.rule.id == e.rule }
            if case .condition(_, let forDuration, let clear)? = op?.evaluation {
                if forDuration > 0 { rules[r].hit.insert("for elapsed") }
                if clear != nil, e.until != nil { rules[r].hit.insert("clear true (resolved)") }
            }
        }
    }

    private mutating func sample(_ engine: Engine, devices: Set<Int>, at t: Double) {
        for (o, op) in engine.plan.operators.enumerated() {
            guard case .condition(let condition, _, let clear) = op.evaluation, let r = index[op.rule.id] else {
                continue
            }
            for d in devices.sorted() where engine.conditions.applies[engine.conditions.key(o, d)] {
                if let scope = op.rule.scope, engine.explainNode(scope, device: d, at: t).truth != true { continue }
                let node = engine.explainNode(condition, device: d, at: t)
                mark(node, rule: r)
                let phase = engine.conditions.phase(op: o, device: d)
                if phase == .pending { rules[r].hit.insert("for pending") }
                if phase == .firing, let clear, engine.explainNode(clear, device: d, at: t).truth == false {
                    rules[r].hit.insert("clear false while firing")
                }
            }
        }
    }

    private mutating func mark(_ node: Explanation.Node, rule r: Int) {
        if let truth = node.truth { rules[r].hit.insert(truth ? "when true" : "when false") }
        func walk(_ n: Explanation.Node, _ hits: inout Set<String>) {
            for c in n.children {
                if n.connective != nil, let truth = c.truth {
                    hits.insert("operand `\(c.expression)` \(truth ? "true" : "false")")
                }
                walk(c, &hits)
            }
        }
        walk(node, &rules[r].hit)
    }

    // MARK: output

    public var totals: (covered: Int, branches: Int, rulesFired: Int, rules: Int) {
        let counted = rules.filter(\.evaluated)
        return (
            counted.map(\.covered).reduce(0, +), counted.map(\.branches.count).reduce(0, +),
            counted.count { $0.hit.contains("fired") }, counted.count
        )
    }

    static func percent(_ a: Int, _ b: Int) -> String {
        b == 0 ? "-" : "\(Int((Double(a) * 100 / Double(b)).rounded(.down)))%"
    }

    /// Per rule: branches covered, then the branches never exercised.
    public func text() -> String {
        var out = "coverage:\n"
        for r in rules {
            guard r.evaluated else {
                out += "  \(r.id) (\(r.kind.rawValue)): not evaluated by this version\n"
                continue
            }
            out +=
                "  \(r.id) (\(r.kind.rawValue)): \(r.covered)/\(r.branches.count) branches (\(Self.percent(r.covered, r.branches.count)))\n"
            for b in r.branches where !r.hit.contains(b) { out += "    not exercised: \(b)\n" }
        }
        let t = totals
        out +=
            "total: \(t.rulesFired)/\(t.rules) rules fired, \(t.covered)/\(t.branches) branches (\(Self.percent(t.covered, t.branches)))\n"
        return out
    }

    public func json() -> JSONValue {
        let t = totals
        return .object([
            (
                "rules",
                .array(
                    rules.map { r in
                        .object([
                            ("rule", .string(r.id)), ("pack", .string(r.pack)), ("kind", .string(r.kind.rawValue)),
                            ("evaluated", .bool(r.evaluated)), ("fired", .bool(r.hit.contains("fired"))),
                            ("covered", .number(Double(r.covered))), ("branches", .number(Double(r.branches.count))),
                            (
                                "detail",
                                .array(
                                    r.branches.map { b in
                                        .object([("branch", .string(b)), ("hit", .bool(r.hit.contains(b)))])
                                    })
                            ),
                        ])
                    })
            ),
            (
                "total",
                .object([
                    ("rules", .number(Double(t.rules))), ("rules_fired", .number(Double(t.rulesFired))),
                    ("branches", .number(Double(t.branches))), ("covered", .number(Double(t.covered))),
                ])
            ),
        ])
    }
}
