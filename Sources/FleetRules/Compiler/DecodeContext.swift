import Foundation

/// Reads YAML nodes into typed values for one file, reporting every problem as it goes.
struct DecodeContext {
    var diagnostics = DiagnosticBag()
    var checker: ExpressionChecker
    var sourceLines: [Substring]
    /// The policy's `time_intervals:`, by name, for `active_during` and `mute_during`.
    var timeIntervals: [String: NamedTimeInterval] = [:]
    /// Names of the intervals rules used, for the unused-interval warning.
    var usedTimeIntervals: Set<String> = []

    init(scope: Scope, sourceLines: [Substring]) {
        checker = ExpressionChecker(scope: scope)
        self.sourceLines = sourceLines
    }

    // MARK: structure

    /// The mapping's entries keyed by name, after duplicate, unknown and missing key checks.
    mutating func fields(_ node: YAMLNode, _ spec: [FieldSpec], in place: String, also: [String] = [])
        -> [String: YAMLEntry]?
    {
        diagnostics.fields(
            node, in: place, known: spec.map(\.name) + also, required: spec.filter(\.required).map(\.name),
            hint: { name in spec.first { $0.name == name }.map { "\(name): \($0.doc)" } })
    }

    /// Entries with duplicates reported (E0106) and dropped; the first one wins.
    mutating func unique(_ entries: [YAMLEntry]) -> [YAMLEntry] { diagnostics.unique(entries) }

    mutating func mapping(_ node: YAMLNode, _ place: String) -> [YAMLEntry]? {
        guard case .mapping(let entries) = node.kind else {
            diagnostics.error(.wrongType, "\(place) must be a mapping, found \(node.typeDescription)", at: node.range)
            return nil
        }
        return unique(entries)
    }

    mutating func sequence(_ node: YAMLNode, _ place: String, hint: String? = nil) -> [YAMLNode]? {
        diagnostics.sequence(node, place, hint: hint)
    }

    // MARK: scalars

    mutating func string(_ node: YAMLNode, _ place: String) -> String? { diagnostics.string(node, place) }

    /// Lowercase letters, digits, `-` and `_`, starting with a letter.
    mutating func name(_ node: YAMLNode, _ place: String) -> String? { diagnostics.name(node, place) }

    mutating func number(_ node: YAMLNode, _ place: String) -> Double? {
        if case .scalar(let s, .plain) = node.kind, let v = Double(s), v.isFinite { return v }
        var hint: String?
        if case .scalar(let s, _) = node.kind, s.hasSuffix("%"), let v = Double(s.dropLast()) {
            hint = "`%` literals belong in expressions; write the plain number here, e.g. \(JSONValue.format(v))"
        }
        diagnostics.error(
            .wrongType, "\(place) must be a number, found \(node.typeDescription)", at: node.range, hint: hint)
        return nil
    }

    mutating func integer(_ node: YAMLNode, _ place: String, minimum: Int) -> Int? {
        diagnostics.integer(node, place, minimum: minimum)
    }

    mutating func bool(_ node: YAMLNode, _ place: String) -> Bool? { diagnostics.bool(node, place) }

    /// A positive duration such as `10m`, `1h30m`, `7d`; `allowZero` also accepts `0s` (e.g. `for: 0s`, fire at once).
    mutating func duration(_ node: YAMLNode, _ place: String, allowZero: Bool = false) -> Double? {
        diagnostics.duration(node, place, allowZero: allowZero)
    }

    mutating func timestamp(_ node: YAMLNode, _ place: String) -> Double? { diagnostics.timestamp(node, place) }

    mutating func choice(_ node: YAMLNode, _ place: String, _ options: [String]) -> String? {
        guard case .scalar(let s, _) = node.kind, !node.isNull else {
            diagnostics.error(
                .wrongType, "\(place) must be one of \(options.joined(separator: ", ")); found \(node.typeDescription)",
                at: node.range)
            return nil
        }
        guard options.contains(s) else {
            diagnostics.error(
                .invalidValue, "\(place) must be one of \(options.joined(separator: ", ")); found '\(s)'",
                at: node.range,
                hint: Suggestion.hint(for: s, in: options))
            return nil
        }
        return s
    }

    mutating func severity(_ node: YAMLNode) -> AlertSeverity? {
        choice(node, "severity", AlertSeverity.allCases.map(\.rawValue)).flatMap(AlertSeverity.init(rawValue:))
    }

    /// A ratio: `30%` or a number between 0 and 1.
    mutating func ratio(_ node: YAMLNode, _ place: String) -> Double? {
        if case .scalar(let s, _) = node.kind {
            if s.hasSuffix("%"), let v = Double(s.dropLast()), v >= 0 { return v / 100 }
            if let v = Double(s), v >= 0, v <= 1 { return v }
            if let v = Double(s), v > 1 {
                diagnostics.error(
                    .invalidValue, "\(place) must be a ratio between 0 and 1 or a percentage", at: node.range,
                    hint: "write \(JSONValue.format(v))%")
                return nil
            }
        }
        diagnostics.error(
            .invalidValue, "\(place) must be a percentage like 30% or a ratio like 0.3", at: node.range)
        return nil
    }

    /// `[min, max]`; either end may be null for an open range.
    mutating func numberRange(_ node: YAMLNode, _ place: String) -> (Double?, Double?)? {
        guard let items = sequence(node, place) else { return nil }
        guard items.count == 2 else {
            diagnostics.error(
                .invalidValue, "\(place) must have two items [min, max], found \(items.count)", at: node.range,
                hint: "write [min, max]; null leaves an end open, e.g. [20, null]")
            return nil
        }
        let lo = items[0].isNull ? nil : number(items[0], "\(place) minimum")
        let hi = items[1].isNull ? nil : number(items[1], "\(place) maximum")
        if !items[0].isNull, lo == nil { return nil }
        if !items[1].isNull, hi == nil { return nil }
        if lo == nil, hi == nil {
            diagnostics.error(.invalidValue, "\(place) needs at least one bound", at: node.range)
            return nil
        }
        if let lo, let hi, lo > hi {
            diagnostics.error(
                .invalidValue, "\(place) minimum \(JSONValue.format(lo)) is above its maximum \(JSONValue.format(hi))",
                at: node.range,
                hint: "write the smaller bound first: [\(JSONValue.format(hi)), \(JSONValue.format(lo))]")
            return nil
        }
        return (lo, hi)
    }

    mutating func labels(_ node: YAMLNode) -> [String: String]? {
        guard let entries = mapping(node, "labels") else { return nil }
        var out: [String: String] = [:]
        for e in entries {
            guard let v = string(e.value, "label '\(e.name)'") else { continue }
            out[e.name] = v
        }
        return out
    }

    mutating func stringList(_ node: YAMLNode, _ place: String) -> [String]? {
        if case .scalar = node.kind, let s = string(node, place) { return [s] }
        guard let items = sequence(node, place) else { return nil }
        var out: [String] = []
        for item in items {
            guard let s = string(item, "an item of \(place)") else { return nil }
            out.append(s)
        }
        return out
    }

    // MARK: expressions

    mutating func expression(_ node: YAMLNode, _ place: String) -> Expression? {
        guard case .scalar(let text, _) = node.kind, !node.isNull else {
            diagnostics.error(
                .wrongType, "\(place) must be an expression, found \(node.typeDescription)", at: node.range)
            return nil
        }
        if text.trimmingCharacters(in: .whitespaces).isEmpty {
            diagnostics.error(.expressionSyntax, "\(place) is empty", at: node.range)
            return nil
        }
        return ExpressionParser.parse(
            text, locator: ScalarLocator(node: node, sourceLines: sourceLines), diagnostics: &diagnostics)
    }

    /// A boolean condition, checked; nil after reporting problems.
    mutating func condition(_ node: YAMLNode, _ place: String) -> Checked? {
        guard let e = expression(node, place), checker.withinLimits(e, place, &diagnostics) else { return nil }
        return checker.condition(e, &diagnostics)
    }

    /// A numeric expression such as `avg(humidity, 1h)`.
    mutating func numeric(_ node: YAMLNode, _ place: String) -> Checked? {
        guard let e = expression(node, place), checker.withinLimits(e, place, &diagnostics),
            let c = checker.check(e, &diagnostics)
        else { return nil }
        guard case .number = c.type else {
            diagnostics.error(.typeMismatch, "\(place) must be a number, but this is a \(c.type)", at: e.range)
            return nil
        }
        return c
    }

    /// A metric name declared under `metrics:`.
    mutating func metric(_ node: YAMLNode, _ place: String) -> MetricDecl? {
        guard let s = string(node, place) else { return nil }
        guard let m = checker.scope.metrics[s] else {
            diagnostics.error(
                .unknownMetric, "unknown metric '\(s)'", at: node.range,
                hint: Suggestion.hint(for: s, in: checker.scope.metrics.keys)
                    ?? "declare it under `metrics:` with its unit")
            return nil
        }
        return m
    }

    /// An inventory attribute name.
    mutating func attribute(_ node: YAMLNode, _ place: String) -> String? {
        guard let s = string(node, place) else { return nil }
        guard checker.scope.attributes[s] != nil else {
            diagnostics.error(
                .unknownName, "unknown attribute '\(s)' in \(place)", at: node.range,
                hint: Suggestion.hint(for: s, in: checker.scope.attributes.keys)
                    ?? "declare extra inventory columns under `attributes:`")
            return nil
        }
        return s
    }

    mutating func attributes(_ node: YAMLNode, _ place: String) -> [String]? {
        let items: [YAMLNode]
        if case .scalar = node.kind {
            items = [node]
        } else {
            guard let seq = sequence(node, place) else { return nil }
            items = seq
        }
        var out: [String] = []
        for item in items {
            guard let a = attribute(item, place) else { return nil }
            out.append(a)
        }
        return out
    }

    mutating func versionRange(_ node: YAMLNode, _ place: String) -> VersionRange? {
        guard let s = string(node, place) else { return nil }
        switch VersionRange.parse(s) {
        case .success(let r): return r
        case .failure(let e):
            diagnostics.error(
                .invalidRange, "invalid version range \"\(s)\": \(e.message)", at: node.range,
                hint: "npm-style ranges: >=1.2.3 <2.0.0, ~1.2, ^1.2.3, 1.2.x, 1.0.0 - 1.4.0, a || b")
            return nil
        }
    }

    mutating func version(_ node: YAMLNode, _ place: String) -> Version? {
        guard let s = string(node, place) else { return nil }
        guard let v = Version(parsing: s) else {
            diagnostics.error(
                .invalidVersion, "invalid version '\(s)' in \(place)", at: node.range,
                hint: "write MAJOR.MINOR.PATCH, optionally with -prerelease or +build, e.g. 2.4.3")
            return nil
        }
        return v
    }

    /// Checks `{{name}}` placeholders against the names the rule kind provides.
    mutating func template(_ node: YAMLNode, allowed: [String]) -> String? {
        guard let text = string(node, "summary") else { return nil }
        let locator = ScalarLocator(node: node, sourceLines: sourceLines)
        let scalars = Array(text.unicodeScalars)
        var i = 0
        var line = 0
        var lineStart = 0
        var ok = true
        while i < scalars.count {
            if scalars[i] == "\n" {
                line += 1
                lineStart = i + 1
            }
            if scalars[i] == "{", i + 1 < scalars.count, scalars[i + 1] == "{" {
                var j = i + 2
                while j + 1 < scalars.count, !(scalars[j] == "}" && scalars[j + 1] == "}") { j += 1 }
                let at = SourceRange(
                    file: locator.file, start: locator.position(line: line, column: i - lineStart),
                    end: locator.position(line: line, column: min(j + 2, scalars.count) - lineStart))
                guard j + 1 < scalars.count else {
                    diagnostics.error(
                        .invalidTemplate, "unclosed placeholder in summary", at: at, hint: "close it with }}")
                    return nil
                }
                let name = String(String.UnicodeScalarView(scalars[(i + 2)..<j])).trimmingCharacters(in: .whitespaces)
                if !allowed.contains(name) {
                    diagnostics.error(
                        .invalidTemplate, "unknown placeholder '{{\(name)}}' in summary", at: at,
                        hint: Suggestion.hint(for: name, in: allowed) ?? "available: \(allowed.joined(separator: ", "))"
                    )
                    ok = false
                }
                i = j + 2
                continue
            }
            i += 1
        }
        return ok ? text : nil
    }
}
