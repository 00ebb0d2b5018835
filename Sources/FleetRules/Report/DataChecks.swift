/// The checks `fleetrules check --data` adds once the rules have run over real data: names the
/// rules use that the data never has, data nobody reads, and rules that never or almost always
/// fire. Every rule kind `run` evaluates is covered; what a rule fired for is read from the same
/// findings and report sections `run` writes.
public enum DataChecks {
    /// Share of applicable devices above which a firing rule is suspicious.
    public static let mostDevices = 0.9

    /// Replays `dataFiles` through `policy` over `inventory`, then checks the rules against
    /// what the replay saw; throws when a file cannot be read.
    public static func run(_ policy: Policy, inventory: Inventory, dataFiles: [String]) throws -> [Diagnostic] {
        var engine = Engine(plan: policy.compile(), inventory: inventory)
        try Replay.run(&engine, files: dataFiles)
        return run(engine, dataFiles: dataFiles)
    }

    /// The checks over an engine that has replayed `dataFiles`.
    public static func run(_ engine: Engine, dataFiles: [String]) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let plan = engine.plan
        let stats = engine.stats
        let seenFields = Set(stats.fieldsSeen.keys)
        let dataFile = dataFiles.first ?? "telemetry"
        let dataRange = SourceRange(file: dataFile, line: 1, column: 1)

        // Metrics the rules read, by metric, with the rules reading them.
        var readers: [String: [String]] = [:]
        for a in plan.aggregates {
            for r in a.readers where !(readers[a.ref.metric]?.contains(r) ?? false) {
                readers[a.ref.metric, default: []].append(r)
            }
        }
        for op in plan.operators {
            var metrics: [String] = []
            switch op.rule.body {
            case .forecast(let f): metrics = [f.metric]
            case .drift(let d): metrics = [d.metric]
            case .correlation(let c): metrics = (c.x.windows + c.y.windows).map(\.metric)
            default: break
            }
            for m in metrics where !(readers[m]?.contains(op.rule.id) ?? false) {
                readers[m, default: []].append(op.rule.id)
            }
        }
        for (metric, rules) in readers.sorted(by: { $0.key < $1.key }) where !seenFields.contains(metric) {
            guard let decl = plan.policy.metrics[metric] else { continue }
            let unknown = stats.rejected[.unknownDevice] ?? 0
            let hint =
                Suggestion.hint(for: metric, in: seenFields)
                ?? (unknown > stats.readings
                    ? "most lines name devices missing from the inventory (\(unknown) lines): check the device ids"
                    : "fields in the data: \(seenFields.sorted().prefix(12).joined(separator: ", "))")
            out.append(
                Diagnostic(
                    .metricNotInData,
                    "metric '\(metric)' (read by \(rules.joined(separator: ", "))) never occurs in the data",
                    at: decl.location, hint: hint))
        }

        // Attributes the rules read that neither the inventory nor the telemetry provide.
        let columns = Set(engine.inventory.columns)
        for op in plan.operators {
            for name in attributesRead(by: op).sorted() where !columns.contains(name) && !seenFields.contains(name) {
                out.append(
                    Diagnostic(
                        .attributeNotInData,
                        "rule '\(op.rule.id)' reads attribute '\(name)', which is neither an inventory column nor a telemetry field",
                        at: op.rule.location,
                        hint: Suggestion.hint(for: name, in: columns.union(seenFields))
                            ?? "inventory columns: \(engine.inventory.columns.joined(separator: ", "))"))
            }
        }

        // Number attributes the rules read whose column is empty (or not a number) for some
        // devices: the rule has no value for them and never holds.
        for (o, op) in plan.operators.enumerated() {
            for name in attributesRead(by: op).sorted() where columns.contains(name) {
                guard case .number? = plan.policy.attributes[name] else { continue }
                let missing = engine.inventory.rows.indices.filter { d in
                    engine.applies[d * plan.operators.count + o]
                        && RuntimeValue.string(engine.attribute(name, device: engine.inventory.rows[d][0])).number
                            == nil
                }
                guard !missing.isEmpty else { continue }
                let ids = missing.prefix(10).map { engine.inventory.rows[$0][0] }
                let more = missing.count > ids.count ? ", … (\(missing.count - ids.count) more)" : ""
                out.append(
                    Diagnostic(
                        .attributeWithoutValue,
                        "rule '\(op.rule.id)' reads number attribute '\(name)', which has no value for \(missing.count) device\(missing.count == 1 ? "" : "s"): \(ids.joined(separator: ", "))\(more)",
                        at: op.rule.location,
                        hint:
                            "fill the '\(name)' column of these devices in the inventory; until then the rule never holds for them"
                    ))
            }
        }

        // Fields in the data that no rule reads.
        let readMetrics = Set(readers.keys)
        var readAttributes: Set<String> = []
        for op in plan.operators { readAttributes.formUnion(attributesRead(by: op)) }
        for (field, count) in stats.fieldsSeen.sorted(by: { $0.key < $1.key })
        where !readMetrics.contains(field) && !readAttributes.contains(field) {
            let declared = plan.policy.metrics[field] != nil ? "; it is declared under `metrics:`" : ""
            out.append(
                Diagnostic(
                    .fieldUnused, "field '\(field)' occurs in \(count) readings but no rule reads it\(declared)",
                    at: dataRange))
        }

        // Rules that never fired, or fired for almost every device (or group) they judge.
        let report = engine.report()
        for (o, op) in plan.operators.enumerated() {
            if case .notEvaluated(let reason) = op.evaluation {
                out.append(
                    Diagnostic(
                        .notEvaluated,
                        "\(op.rule.kind.rawValue) rule '\(op.rule.id)' is not evaluated (\(reason)); its data checks are skipped",
                        at: op.rule.location))
                continue
            }
            let reach = reach(of: op, index: o, engine: engine, report: report)
            if reach.findings == 0 {
                out.append(
                    Diagnostic(
                        .neverFired, "rule '\(op.rule.id)' never fired on \(stats.readings) readings",
                        at: op.rule.location,
                        hint: reach.quietHint))
                continue
            }
            if reach.judged >= 5, Double(reach.fired) > mostDevices * Double(reach.judged) {
                out.append(Diagnostic(.firesForMost, reach.mostMessage, at: op.rule.location, hint: reach.mostHint))
            }
        }

        if stats.rejectedTotal > 0 {
            let parts = stats.rejected.sorted { $0.key < $1.key }.map { "\($0.key.rawValue) \($0.value)" }
            for e in stats.examples.prefix(5) {
                let at = e.origin.map { SourceRange(file: $0.file, line: $0.line, column: 1) } ?? dataRange
                out.append(Diagnostic(.rejectedInput, "\(e.reason.rawValue): \(e.message)", at: at))
            }
            out.append(
                Diagnostic(
                    .rejectedInput, "\(stats.rejectedTotal) readings rejected (\(parts.joined(separator: ", ")))",
                    at: dataRange))
        }
        return out
    }

    /// Inventory attributes (or telemetry fields) a rule reads, whatever its kind.
    static func attributesRead(by op: RuleOperator) -> Set<String> {
        var used = op.rule.scope?.attributes ?? []
        if case .condition(let c, _, let clear) = op.evaluation {
            used.formUnion(c.attributes)
            if let clear { used.formUnion(clear.attributes) }
        }
        switch op.rule.body {
        case .compliance(let c): used.insert(c.attribute)
        case .forecast(let f): used.formUnion(f.curveBy)
        case .drift(let d): if case .peers(let attributes) = d.reference { used.formUnion(attributes) }
        case .correlation(let c): used.formUnion(c.by)
        case .balance(let b):
            // Loads are counted per gateway the readings name.
            used.insert("gateway")
            used.formUnion(b.groupBy)
            if let r = b.rebalance {
                used.insert(r.reachable)
                used.formUnion(r.prefer?.attributes ?? [])
            }
        case .group(let g):
            used.formUnion(g.by)
            for term in g.condition.memberTerms { used.formUnion(term.expression.attributes) }
        case .alert, .limit: break
        }
        return used
    }

    /// How far one rule reached on the data.
    struct Reach {
        /// Findings the rule opened (zero: it never fired).
        var findings: Int
        /// Devices (groups for a correlation) it fired for, out of those it could judge.
        var fired: Int
        var judged: Int
        var mostMessage: String
        var mostHint = "a threshold that trips for nearly every device is likely mis-set"
        var quietHint = "expected for a healthy fleet; otherwise check its thresholds and `where`"
    }

    /// What a rule fired for, by kind: devices with a finding (alert, limit, compliance,
    /// forecast, drift), devices moved (balance: its findings are per gateway), or groups with a
    /// significant correlation. Drift judges only the devices it could test against a reference.
    static func reach(of op: RuleOperator, index o: Int, engine: Engine, report: Report) -> Reach {
        let id = op.rule.id
        let episodes = engine.episodes.filter { $0.rule == id }
        let devices = Set(episodes.map(\.device)).count
        let applicable = engine.applicableDevices(rule: o)
        var reach = Reach(
            findings: episodes.count, fired: devices, judged: applicable,
            mostMessage: "rule '\(id)' fired for \(devices) of \(applicable) devices it applies to")
        switch op.rule.body {
        case .alert, .limit, .compliance, .forecast:
            break
        case .group:
            // A group rule's findings are per group: it fires for groups, not devices.
            let groups = Set(episodes.compactMap { e in e.evidence.first { $0.0 == "group" }.map { "\($0.1)" } })
            reach.fired = groups.count
            reach.judged = groups.count
            reach.mostMessage = "rule '\(id)' fired for \(groups.count) groups"
            reach.mostHint = "a group condition that holds for every group is likely mis-set"
            reach.quietHint = "expected for a healthy fleet; otherwise check its thresholds, `by` and `where`"
        case .drift:
            let tested = report.drift.first { $0.rule == id }?.tested ?? applicable
            reach.judged = tested
            reach.mostMessage = "rule '\(id)' fired for \(devices) of the \(tested) devices it could test"
            reach.mostHint = "a tolerance or threshold that flags nearly every device is likely mis-set"
        case .balance:
            let moved = Set(report.rebalancing.filter { $0.rule == id }.map(\.device)).count
            reach.fired = moved
            reach.mostMessage = "rule '\(id)' moves \(moved) of \(applicable) devices it applies to"
            reach.mostHint = "a threshold that moves nearly every device is likely mis-set"
            reach.quietHint =
                "expected for a fleet whose gateways share the load evenly; otherwise check its threshold and `where`"
        case .correlation:
            let groups = report.correlations.filter { $0.rule == id }
            let significant = groups.count(where: \.significant)
            reach.fired = significant
            reach.judged = groups.count
            reach.mostMessage =
                "rule '\(id)' found a significant correlation in \(significant) of \(groups.count) groups"
            reach.mostHint =
                "expected when the two metrics move together everywhere; otherwise check `significance` and `by`"
            reach.quietHint = "no group showed a significant correlation; expected when the metrics are unrelated"
        }
        return reach
    }
}
