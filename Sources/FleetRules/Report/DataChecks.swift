/// The checks `fleetrules check --data` adds once the rules have run over real data: names the
/// rules use that the data never has, data nobody reads, and rules that never or almost always fire.
public enum DataChecks {
    /// Share of applicable devices above which a firing rule is suspicious.
    public static let mostDevices = 0.9

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
            for r in a.readers where !(readers[a.ref.metric]?.contains(r) ?? false) { readers[a.ref.metric, default: []].append(r) }
        }
        for op in plan.operators {
            var metrics: [String] = []
            switch op.rule.body {
            case .forecast(let f): metrics = [f.metric]
            case .drift(let d): metrics = [d.metric]
            case .correlation(let c): metrics = (c.x.windows + c.y.windows).map(\.metric)
            default: break
            }
            for m in metrics where !(readers[m]?.contains(op.rule.id) ?? false) { readers[m, default: []].append(op.rule.id) }
        }
        for (metric, rules) in readers.sorted(by: { $0.key < $1.key }) where !seenFields.contains(metric) {
            guard let decl = plan.policy.metrics[metric] else { continue }
            let unknown = stats.rejected[.unknownDevice] ?? 0
            let hint = Suggestion.hint(for: metric, in: seenFields)
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
            var used = op.rule.scope?.attributes ?? []
            if case .condition(let c, _, let clear) = op.evaluation {
                used.formUnion(c.attributes)
                if let clear { used.formUnion(clear.attributes) }
            }
            for name in used.sorted() where !columns.contains(name) && !seenFields.contains(name) {
                out.append(
                    Diagnostic(
                        .attributeNotInData,
                        "rule '\(op.rule.id)' reads attribute '\(name)', which is neither an inventory column nor a telemetry field",
                        at: op.rule.location,
                        hint: Suggestion.hint(for: name, in: columns.union(seenFields))
                            ?? "inventory columns: \(engine.inventory.columns.joined(separator: ", "))"))
            }
        }

        // Fields in the data that no rule reads.
        let readMetrics = Set(readers.keys)
        var readAttributes: Set<String> = []
        for op in plan.operators {
            readAttributes.formUnion(op.rule.scope?.attributes ?? [])
            if case .condition(let c, _, _) = op.evaluation { readAttributes.formUnion(c.attributes) }
            if case .compliance(let c) = op.rule.body { readAttributes.insert(c.attribute) }
        }
        for (field, count) in stats.fieldsSeen.sorted(by: { $0.key < $1.key })
        where !readMetrics.contains(field) && !readAttributes.contains(field) {
            let declared = plan.policy.metrics[field] != nil ? "; it is declared under `metrics:`" : ""
            out.append(
                Diagnostic(
                    .fieldUnused, "field '\(field)' occurs in \(count) readings but no rule reads it\(declared)",
                    at: dataRange))
        }

        // Rules that never fired, or fired for almost every device.
        for (o, op) in plan.operators.enumerated() {
            if case .compliance = op.evaluation { continue }
            guard case .condition = op.evaluation else {
                out.append(
                    Diagnostic(
                        .notEvaluated,
                        "\(op.rule.kind.rawValue) rule '\(op.rule.id)' is not evaluated by this version; its data checks are skipped",
                        at: op.rule.location))
                continue
            }
            let devices = Set(engine.episodes.filter { $0.rule == op.rule.id }.map(\.device))
            if devices.isEmpty {
                out.append(
                    Diagnostic(
                        .neverFired, "rule '\(op.rule.id)' never fired on \(stats.readings) readings", at: op.rule.location,
                        hint: "expected for a healthy fleet; otherwise check its thresholds and `where`"))
                continue
            }
            let applicable = engine.applicableDevices(rule: o)
            if applicable >= 5, Double(devices.count) > mostDevices * Double(applicable) {
                out.append(
                    Diagnostic(
                        .firesForMost,
                        "rule '\(op.rule.id)' fired for \(devices.count) of \(applicable) devices it applies to",
                        at: op.rule.location, hint: "a threshold that trips for nearly every device is likely mis-set"))
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
}
