extension DecodeContext {
    /// Reads one rule mapping: its kind and id, the fields every kind shares, then the kind's own.
    mutating func rule(_ node: YAMLNode, pack: String, defaults: RuleDefaults) -> Rule? {
        guard case .mapping(let entries) = node.kind, let first = entries.first else {
            diagnostics.error(
                .notAMapping, "a rule must be a mapping that starts with its kind, found \(node.typeDescription)",
                at: node.range, hint: "e.g. - alert: battery-low")
            return nil
        }
        let kinds = RuleKind.allCases.map(\.rawValue)
        guard let kind = RuleKind(rawValue: first.name) else {
            if let later = entries.first(where: { RuleKind(rawValue: $0.name) != nil }) {
                diagnostics.error(
                    .unknownRuleKind,
                    "a rule's first key must be its kind; '\(later.name)' comes after '\(first.name)'",
                    at: first.key.range, hint: "move `\(later.name): …` to the top of the rule")
            } else {
                diagnostics.error(
                    .unknownRuleKind, "unknown rule kind '\(first.name)'", at: first.key.range,
                    hint: Suggestion.hint(for: first.name, in: kinds)
                        ?? "a rule starts with one of: \(kinds.joined(separator: ", "))")
            }
            return nil
        }
        guard let id = name(first.value, "rule id") else { return nil }
        var spec = kind.fields
        for common in LanguageSpec.commonRule where !spec.contains(where: { $0.name == common.name }) {
            spec.append(common)
        }
        if kind == .alert, !entries.contains(where: { $0.name == "levels" }) {
            spec = AlertRule.fieldsWithoutLevels(spec)
        }
        guard let f = fields(node, spec, in: "\(kind.rawValue) rule '\(id)'", also: [kind.rawValue]) else { return nil }

        var ok = true
        var scope: TypedExpression?
        if let e = f["where"] {
            if let c = condition(e.value, "where") { scope = c.expr } else { ok = false }
        }
        var severity: AlertSeverity? = defaults.severity
        if let e = f["severity"], !(kind == .forecast && { if case .mapping = e.value.kind { true } else { false } }())
        {
            if let s = self.severity(e.value) { severity = s } else { ok = false }
        }
        var labels = defaults.labels
        if let e = f["labels"] {
            if let l = self.labels(e.value) { labels.merge(l) { $1 } } else { ok = false }
        }
        let description = f["description"].flatMap { string($0.value, "description") }
        var maintenance: MaintenanceSpec?
        if let e = f["maintenance"] {
            if let m = self.maintenance(e.value) { maintenance = m } else { ok = false }
        }
        let body: RuleBody?
        switch kind {
        case .alert: body = AlertRule.decode(f, &self, defaults).map(RuleBody.alert)
        case .limit: body = LimitRule.decode(f, &self, defaults).map(RuleBody.limit)
        case .forecast: body = ForecastRule.decode(f, &self, &severity).map(RuleBody.forecast)
        case .compliance: body = ComplianceRule.decode(f, &self, at: node).map(RuleBody.compliance)
        case .drift: body = DriftRule.decode(f, &self).map(RuleBody.drift)
        case .correlation: body = CorrelationRule.decode(f, &self).map(RuleBody.correlation)
        case .balance: body = BalanceRule.decode(f, &self).map(RuleBody.balance)
        case .group: body = GroupRule.decode(f, &self, defaults).map(RuleBody.group)
        }
        var summary: String?
        if let e = f["summary"] {
            let allowed = Self.commonPlaceholders + Array(checker.scope.attributes.keys).sorted() + kind.placeholders
            if let s = template(e.value, allowed: allowed) { summary = s } else { ok = false }
        }
        if let m = maintenance, m.lead != nil, kind != .forecast, let e = f["maintenance"] {
            diagnostics.warning(
                .ignoredSetting,
                "`lead` only applies to forecast rules; \(kind == .alert ? "an" : "a") \(kind.rawValue) rule schedules its task when it fires",
                at: e.value.range)
        }
        let schedule = self.schedule(f)
        guard ok, let body, let schedule else { return nil }
        if let top = body.levels.last { severity = top.severity }
        var rule = Rule(
            id: id, pack: pack, location: first.value.range, description: description, scope: scope,
            severity: severity ?? .warning, labels: labels, summary: summary, maintenance: maintenance, body: body)
        rule.schedule = schedule
        return rule
    }

    static let commonPlaceholders = ["rule", "pack", "severity", "kind"]

    mutating func maintenance(_ node: YAMLNode) -> MaintenanceSpec? {
        if case .scalar = node.kind {
            return name(node, "maintenance task").map { MaintenanceSpec(task: $0, lead: nil, parts: []) }
        }
        guard case .object(let spec) = LanguageSpec.maintenance.objectCase,
            let f = fields(node, spec, in: "maintenance"),
            let task = f["task"].flatMap({ name($0.value, "maintenance task") })
        else { return nil }
        var lead: Double?
        if let e = f["lead"] {
            guard let v = duration(e.value, "lead") else { return nil }
            lead = v
        }
        var parts: [String] = []
        if let e = f["parts"] {
            guard let p = stringList(e.value, "parts") else { return nil }
            parts = p
        }
        return MaintenanceSpec(task: task, lead: lead, parts: parts)
    }
}

extension RuleKind {
    /// Summary placeholders the kind provides beyond the common ones and inventory attributes.
    var placeholders: [String] {
        switch self {
        case .alert: AlertRule.placeholders
        case .forecast: ForecastRule.placeholders
        case .compliance: ComplianceRule.placeholders
        case .drift: DriftRule.placeholders
        case .limit: LimitRule.placeholders
        case .correlation: CorrelationRule.placeholders
        case .balance: BalanceRule.placeholders
        case .group: GroupRule.placeholders
        }
    }
}

extension FieldType {
    /// The object alternative of a `oneOf`, or self.
    var objectCase: FieldType {
        if case .oneOf(let options) = self {
            for o in options { if case .object = o { return o } }
        }
        return self
    }
}
