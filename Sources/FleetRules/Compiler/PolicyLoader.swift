import Foundation

/// The outcome of checking a set of policy files: the policy when there were no errors, every
/// diagnostic (sorted by file and position) and the sources, for printing excerpts.
public struct PolicyCheck: Sendable {
    public var policy: Policy?
    public var diagnostics: [Diagnostic]
    public var sources: [String: String]
    public var files: [String]
    public var ruleCount: Int
    /// Steps the expression checker took over all packs (see `ExpressionChecker.work`).
    var checkingWork = 0

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
    public var errorCount: Int { diagnostics.count { $0.severity == .error } }
    public var warningCount: Int { diagnostics.count { $0.severity == .warning } }
    public var infoCount: Int { diagnostics.count { $0.severity == .info } }
}

/// A path given on the command line that does not exist or holds no policy file.
public struct PolicyPathError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Loads and checks policy files: YAML → declarations of every file → rules, pack by pack.
///
/// Metrics and attributes are fleet-wide; lists, macros and defaults belong to a pack (files
/// with the same `pack:` name share them); rule ids are unique across everything loaded.
public struct PolicyLoader: Sendable {
    public var limits: LoadLimits

    public init(limits: LoadLimits = LoadLimits()) { self.limits = limits }

    /// Expands folders into their `*.yaml`/`*.yml` files in name order (rule test files
    /// `*.test.yaml` are skipped); files are taken as given.
    public static func files(for paths: [String]) throws(PolicyPathError) -> [String] {
        try expand(paths, recursive: false, emptyReason: "the folder holds no .yaml or .yml file") {
            ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasSuffix(".test.yaml") && !$0.hasSuffix(".test.yml")
                && !$0.hasPrefix(".")
        }
    }

    /// Expands each folder of `paths` into the files whose names `include` accepts, in name
    /// order (with their paths below the folder when `recursive`); files are taken as given.
    /// A missing path or a folder with no such file is an error.
    static func expand(
        _ paths: [String], recursive: Bool, emptyReason: String, include: (String) -> Bool
    ) throws(PolicyPathError) -> [String] {
        var out: [String] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw PolicyPathError(path: path, reason: "no such file or folder")
            }
            guard isDirectory.boolValue else {
                out.append(path)
                continue
            }
            let names: [String]
            if recursive {
                names = fm.enumerator(atPath: path)?.allObjects as? [String] ?? []
            } else {
                guard let listed = try? fm.contentsOfDirectory(atPath: path) else {
                    throw PolicyPathError(path: path, reason: "cannot list the folder")
                }
                names = listed
            }
            let found = names.filter(include).sorted()
            if found.isEmpty { throw PolicyPathError(path: path, reason: emptyReason) }
            let base = path.hasSuffix("/") ? String(path.dropLast()) : path
            out += found.map { "\(base)/\($0)" }
        }
        return out
    }

    /// Reads and checks files from disk; unreadable files are diagnostics (E0001), not throws.
    public func check(files: [String]) -> PolicyCheck {
        var sources: [(String, [UInt8])] = []
        var unreadable: [Diagnostic] = []
        for file in files {
            if let data = FileManager.default.contents(atPath: file) {
                sources.append((file, [UInt8](data)))
            } else {
                unreadable.append(
                    Diagnostic(.cannotRead, "cannot read file", at: SourceRange(file: file, line: 1, column: 1)))
            }
        }
        var result = check(sources: sources)
        result.diagnostics = unreadable + result.diagnostics
        result.files = files
        if !unreadable.isEmpty { result.policy = nil }
        return result
    }

    /// Checks in-memory sources, e.g. a pack posted to the HTTP service.
    public func check(sources: [(file: String, bytes: [UInt8])]) -> PolicyCheck {
        var bag = DiagnosticBag()
        var checkingWork = 0
        var texts: [String: String] = [:]
        var parsed: [ParsedFile] = []
        var metrics: [String: MetricDecl] = [:]
        var attributes = Scope.standardAttributes
        var packs: [String: PackState] = [:]
        var packOrder: [String] = []

        // Pass 1: every file's declarations, so rules may use what any file declares.
        for (file, bytes) in sources {
            if bytes.count <= limits.maxFileBytes { texts[file] = YAMLLoader.text(of: bytes) }
            guard let root = YAMLLoader(limits: limits).load(bytes, file: file, into: &bag) else { continue }
            let lines = (texts[file] ?? "").split(separator: "\n", omittingEmptySubsequences: false)
            var ctx = DecodeContext(scope: Scope(), sourceLines: lines)
            guard let pf = declarations(root, file: file, lines: lines, &ctx, &metrics, &attributes) else {
                bag.append(contentsOf: ctx.diagnostics.items)
                continue
            }
            bag.append(contentsOf: ctx.diagnostics.items)
            if packs[pf.pack] == nil {
                packs[pf.pack] = PackState(name: pf.pack)
                packOrder.append(pf.pack)
            }
            packs[pf.pack]?.files.append(file)
            if packs[pf.pack]?.description == nil { packs[pf.pack]?.description = pf.description }
            parsed.append(pf)
        }

        // One schedule for the whole policy: the files that declare one must agree.
        var schedule: (options: ScheduleOptions, range: SourceRange)?
        for pf in parsed {
            guard let s = pf.schedule else { continue }
            guard let first = schedule else {
                schedule = s
                continue
            }
            if first.options != s.options {
                bag.error(
                    .conflictingSchedule, "this `schedule:` differs from the one declared before", at: s.range,
                    hint: "declare the schedule once, e.g. in the file with the metrics",
                    notes: [Diagnostic.Note(message: "first declared here", range: first.range)])
            }
        }

        // Time intervals are fleet-wide: a name defined in two files must mean the same.
        var timeIntervals: [String: NamedTimeInterval] = [:]
        for pf in parsed {
            for interval in pf.timeIntervals {
                if let first = timeIntervals[interval.name] {
                    if first.entries != interval.entries {
                        bag.error(
                            .conflictingTimeInterval,
                            "time interval '\(interval.name)' is defined again with different entries",
                            at: interval.location, hint: "define each interval once, or identically",
                            notes: [Diagnostic.Note(message: "first defined here", range: first.location)])
                    }
                    continue
                }
                timeIntervals[interval.name] = interval
            }
        }
        var usedTimeIntervals: Set<String> = []

        // Pass 2: per pack, its namespace, macros, then rules.
        var rules: [Rule] = []
        var ruleIds: [String: SourceRange] = [:]
        var ruleCount = 0
        var tooMany = false
        for packName in packOrder {
            let files = parsed.filter { $0.pack == packName }
            var scope = Scope()
            scope.metrics = metrics
            scope.attributes = attributes
            var names: [String: SourceRange] = [:]
            func claim(_ name: String, _ range: SourceRange, _ what: String, _ bag: inout DiagnosticBag) -> Bool {
                if let first = names[name] {
                    bag.error(
                        .duplicateName, "\(what) '\(name)' is already defined in pack '\(packName)'", at: range,
                        hint: "rule ids, lists and macros share one namespace per pack",
                        notes: [Diagnostic.Note(message: "first defined here", range: first)])
                    return false
                }
                names[name] = range
                return true
            }
            for pf in files {
                for list in pf.lists where claim(list.name, list.location, "list", &bag) {
                    scope.lists[list.name] = list
                }
                for macro in pf.macros where claim(macro.name, macro.location, "macro", &bag) {
                    scope.macros[macro.name] = macro
                }
            }
            var ctx = DecodeContext(scope: scope, sourceLines: [])
            ctx.timeIntervals = timeIntervals
            for pf in files {
                ctx.sourceLines = pf.lines
                for macro in pf.macros where scope.macros[macro.name]?.location == macro.location {
                    _ = ctx.checker.macro(macro.name, &ctx.diagnostics)
                }
            }
            var signatures: [String: (id: String, range: SourceRange)] = [:]
            for pf in files {
                ctx.sourceLines = pf.lines
                for node in pf.ruleNodes {
                    ruleCount += 1
                    if ruleCount > limits.maxRules {
                        if !tooMany {
                            bag.error(
                                .tooManyRules, "more than \(limits.maxRules) rules", at: node.range,
                                hint: "split the fleet's policies across services, or raise the limit")
                            tooMany = true
                        }
                        continue
                    }
                    guard let rule = ctx.rule(node, pack: packName, defaults: pf.defaults) else { continue }
                    if let first = ruleIds[rule.id] {
                        ctx.diagnostics.error(
                            .duplicateName, "rule id '\(rule.id)' is already used", at: rule.location,
                            hint: "rule ids are unique across all loaded packs",
                            notes: [Diagnostic.Note(message: "first used here", range: first)])
                        continue
                    }
                    if let first = names[rule.id], names[rule.id] != rule.location {
                        ctx.diagnostics.error(
                            .duplicateName,
                            "rule id '\(rule.id)' is already the name of a list or macro in pack '\(packName)'",
                            at: rule.location, hint: "rule ids, lists and macros share one namespace per pack",
                            notes: [Diagnostic.Note(message: "first defined here", range: first)])
                        continue
                    }
                    ruleIds[rule.id] = rule.location
                    if let sig = Self.signature(rule) {
                        if let first = signatures[sig] {
                            ctx.diagnostics.warning(
                                .shadowedRule, "rule '\(rule.id)' repeats the condition of rule '\(first.id)'",
                                at: rule.location,
                                hint: "the two rules fire together; remove one or change its condition",
                                notes: [Diagnostic.Note(message: "'\(first.id)' is defined here", range: first.range)])
                        } else {
                            signatures[sig] = (rule.id, rule.location)
                        }
                    }
                    rules.append(rule)
                }
            }
            usedTimeIntervals.formUnion(ctx.usedTimeIntervals)
            let reachable = ctx.checker.reachableMacros()
            checkingWork += ctx.checker.work
            for pf in files {
                for list in pf.lists
                where !ctx.checker.usedLists.contains(list.name) && scope.lists[list.name]?.location == list.location {
                    ctx.diagnostics.warning(
                        .unusedList, "list '\(list.name)' is never used", at: list.location,
                        hint: "remove it, or use it with `in \(list.name)`")
                }
                for macro in pf.macros where scope.macros[macro.name]?.location == macro.location {
                    if !reachable.contains(macro.name) {
                        ctx.diagnostics.warning(
                            .unusedMacro, "macro '\(macro.name)' is never used", at: macro.location,
                            hint: "remove it, or use it in a `where` or `when`")
                    }
                }
            }
            bag.append(contentsOf: ctx.diagnostics.items)
        }

        Self.checkInhibits(rules, &bag)
        for interval in timeIntervals.values.sorted(by: { $0.name < $1.name })
        where !usedTimeIntervals.contains(interval.name) && !tooMany {
            bag.warning(
                .unusedTimeInterval, "time interval '\(interval.name)' is never used", at: interval.location,
                hint: "name it in a rule's `active_during` or `mute_during`, or remove it")
        }

        let diagnostics = bag.sorted
        let hasErrors = diagnostics.contains { $0.severity == .error }
        let policy =
            hasErrors
            ? nil
            : Policy(
                packs: packOrder.compactMap { packs[$0] }.map {
                    Policy.Pack(name: $0.name, description: $0.description, files: $0.files)
                },
                metrics: metrics, attributes: attributes, rules: rules, schedule: schedule?.options,
                timeIntervals: timeIntervals)
        var result = PolicyCheck(
            policy: policy, diagnostics: diagnostics, sources: texts, files: sources.map(\.file), ruleCount: ruleCount)
        result.checkingWork = checkingWork
        return result
    }

    /// Rules with equal signatures fire on exactly the same devices at the same times.
    static func signature(_ rule: Rule) -> String? {
        let scope = rule.scope?.description ?? "*"
        switch rule.body {
        case .alert(let a): return "alert|\(scope)|\(a.condition)|\(a.forDuration)" + a.signatureSuffix
        case .limit(let l):
            return
                "limit|\(scope)|\(l.metric)|\(String(describing: l.low))|\(String(describing: l.high))|\(l.forDuration)"
        case .forecast(let f): return "forecast|\(scope)|\(f.metric)|\(f.threshold)|\(f.direction)"
        default: return nil
        }
    }

    private struct PackState {
        var name: String
        var description: String?
        var files: [String] = []
    }

    struct ParsedFile {
        var file: String
        var lines: [Substring]
        var pack: String
        var description: String?
        var lists: [ListDecl] = []
        var macros: [MacroDecl] = []
        var defaults = RuleDefaults()
        var ruleNodes: [YAMLNode] = []
        var schedule: (options: ScheduleOptions, range: SourceRange)?
        var timeIntervals: [NamedTimeInterval] = []
    }

    /// Top-level keys of one file: version, pack, metrics, attributes, lists, macros, defaults.
    private func declarations(
        _ root: YAMLNode, file: String, lines: [Substring], _ ctx: inout DecodeContext,
        _ metrics: inout [String: MetricDecl], _ attributes: inout [String: ValueType]
    ) -> ParsedFile? {
        guard case .mapping(let entries) = root.kind else {
            ctx.diagnostics.error(
                .notAMapping, "a policy file must be a mapping, found \(root.typeDescription)", at: root.range,
                hint: "start the file with `fleetrules: 1` and put rules under `rules:`")
            return nil
        }
        guard let version = entries.first(where: { $0.name == "fleetrules" }) else {
            // A misspelled version key is reported where it is written, with the right spelling.
            let misspelled = entries.first {
                $0.name == "version" || Suggestion.closest(to: $0.name, in: ["fleetrules"]) != nil
            }
            ctx.diagnostics.error(
                .version, "missing the version key `fleetrules: 1`", at: misspelled?.key.range ?? root.range,
                hint: misspelled.map {
                    $0.name == "version"
                        ? "the version key is named `fleetrules`: write `fleetrules: 1`"
                        : "did you mean 'fleetrules' instead of '\($0.name)'?"
                } ?? "add `fleetrules: 1` as the first line")
            return nil
        }
        if case .scalar("1", let style) = version.value.kind, style != .plain {
            ctx.diagnostics.error(
                .version, "the language version must be the number 1, not a string", at: version.value.range,
                hint: "write `fleetrules: 1` without quotes")
            return nil
        }
        guard case .scalar("1", .plain) = version.value.kind else {
            ctx.diagnostics.error(
                .version, "unsupported language version '\(version.value.scalarText)'", at: version.value.range,
                hint: "this FleetRules reads version 1: `fleetrules: 1`")
            return nil
        }
        let top = LanguageSpec.topLevel.map { f -> FieldSpec in
            var f = f
            if f.name == "fleetrules" { f.required = false }
            return f
        }
        guard let f = ctx.fields(root, top, in: "the policy file") else { return nil }
        let packName = f["pack"].flatMap { ctx.name($0.value, "pack name") } ?? "default"
        var pf = ParsedFile(file: file, lines: lines, pack: packName)
        pf.description = f["description"].flatMap { ctx.string($0.value, "description") }

        if let e = f["metrics"], let entries = ctx.mapping(e.value, "metrics") {
            for entry in entries {
                guard let decl = metric(entry, &ctx) else { continue }
                if attributes[decl.name] != nil {
                    // `zone == "x"` would read the attribute and `last(zone)` the metric: one name, two meanings.
                    ctx.diagnostics.error(
                        .conflictingMetric, "metric '\(decl.name)' has the name of an inventory attribute",
                        at: entry.key.range,
                        hint: "rename the metric, e.g. '\(decl.name)_\(decl.unit == "count" ? "count" : "value")'")
                    continue
                }
                if let existing = metrics[decl.name] {
                    if existing.unit != decl.unit || existing.range != decl.range {
                        ctx.diagnostics.error(
                            .conflictingMetric,
                            "metric '\(decl.name)' is declared again with a different unit or range",
                            at: entry.key.range, hint: "declare each metric once, or identically",
                            notes: [Diagnostic.Note(message: "first declared here", range: existing.location)])
                    }
                    continue
                }
                metrics[decl.name] = decl
            }
        }
        if let e = f["attributes"], let entries = ctx.mapping(e.value, "attributes") {
            for entry in entries {
                guard let (t, unit) = attributeType(entry, &ctx) else { continue }
                let type: ValueType = t == "number" ? .number(unit: unit) : t == "version" ? .version : .string
                if let existing = attributes[entry.name], existing != type {
                    if Scope.standardAttributes[entry.name] != nil {
                        ctx.diagnostics.error(
                            .conflictingMetric,
                            "'\(entry.name)' is a standard inventory attribute of type \(existing); it cannot be declared as \(t)",
                            at: entry.key.range, hint: "remove it from `attributes:`, or give the column another name")
                    } else {
                        ctx.diagnostics.error(
                            .conflictingMetric, "attribute '\(entry.name)' is declared as \(existing) elsewhere",
                            at: entry.key.range)
                    }
                    continue
                }
                if let metric = metrics[entry.name] {
                    ctx.diagnostics.error(
                        .conflictingMetric, "attribute '\(entry.name)' has the name of a metric", at: entry.key.range,
                        hint: "give the inventory column another name",
                        notes: [Diagnostic.Note(message: "the metric is declared here", range: metric.location)])
                    continue
                }
                attributes[entry.name] = type
            }
        }
        if let e = f["lists"], let entries = ctx.mapping(e.value, "lists") {
            for entry in entries {
                guard checkName(entry, "list name", &ctx), let items = ctx.sequence(entry.value, "list '\(entry.name)'")
                else { continue }
                var values: [Constant] = []
                var type: ValueType?
                var ok = true
                for item in items {
                    guard case .scalar(let s, let style) = item.kind, !item.isNull else {
                        ctx.diagnostics.error(
                            .wrongType, "list items must be strings or numbers, found \(item.typeDescription)",
                            at: item.range)
                        ok = false
                        break
                    }
                    let value: Constant = style == .plain && Double(s) != nil ? .number(Double(s)!) : .string(s)
                    let t: ValueType = if case .number = value { .number(unit: nil) } else { .string }
                    if let type, type != t {
                        ctx.diagnostics.error(
                            .wrongType, "list '\(entry.name)' mixes strings and numbers", at: item.range,
                            hint: "quote the numbers to make them strings")
                        ok = false
                        break
                    }
                    type = t
                    values.append(value)
                }
                if ok {
                    pf.lists.append(
                        ListDecl(
                            name: entry.name, values: values, elementType: type ?? .string, location: entry.key.range))
                }
            }
        }
        if let e = f["macros"], let entries = ctx.mapping(e.value, "macros") {
            for entry in entries {
                guard checkName(entry, "macro name", &ctx) else { continue }
                var expression: Expression?
                if case .scalar(let text, _) = entry.value.kind, !entry.value.isNull {
                    expression = ExpressionParser.parse(
                        text, locator: ScalarLocator(node: entry.value, sourceLines: lines),
                        diagnostics: &ctx.diagnostics)
                    if expression == nil { continue }
                } else {
                    ctx.diagnostics.error(
                        .wrongType, "macro '\(entry.name)' must be an expression, found \(entry.value.typeDescription)",
                        at: entry.value.range)
                    continue
                }
                pf.macros.append(MacroDecl(name: entry.name, expression: expression, location: entry.key.range))
            }
        }
        if let e = f["defaults"], let d = ctx.fields(e.value, LanguageSpec.defaults, in: "defaults") {
            if let n = d["for"] { pf.defaults.forDuration = ctx.duration(n.value, "for", allowZero: true) }
            if let n = d["severity"] { pf.defaults.severity = ctx.severity(n.value) }
            if let n = d["labels"] { pf.defaults.labels = ctx.labels(n.value) ?? [:] }
        }
        if let e = f["schedule"], let d = ctx.fields(e.value, LanguageSpec.schedule, in: "schedule") {
            var options = ScheduleOptions()
            if let n = d["horizon"] {
                if let h = ctx.duration(n.value, "horizon", allowZero: true) { options.horizon = h }
            }
            if let n = d["max_tasks_per_visit"] {
                if let m = ctx.integer(n.value, "max_tasks_per_visit", minimum: 1) { options.maxTasksPerVisit = m }
            }
            pf.schedule = (options, e.key.range)
        }
        if let e = f["time_intervals"] {
            pf.timeIntervals = TimeIntervalReader.read(e.value, into: &ctx.diagnostics)
        }
        if let e = f["rules"] {
            if e.value.isNull {
                pf.ruleNodes = []
            } else if let items = ctx.sequence(
                e.value, "rules", hint: "start each rule with '- ' and its kind, e.g. `- alert: battery-low`")
            {
                pf.ruleNodes = items
            }
        }
        return pf
    }

    /// An attribute's type: `number`, or `{ type: number, unit: celsius }` so that it compares
    /// with metrics of that unit.
    private func attributeType(_ entry: YAMLEntry, _ ctx: inout DecodeContext) -> (String, String?)? {
        let types = ["string", "number", "version"]
        guard case .mapping = entry.value.kind else {
            return ctx.choice(entry.value, "attribute type", types).map { ($0, nil) }
        }
        guard let f = ctx.fields(entry.value, LanguageSpec.attribute, in: "attribute '\(entry.name)'"),
            let t = f["type"].flatMap({ ctx.choice($0.value, "attribute type", types) })
        else { return nil }
        guard let u = f["unit"] else { return (t, nil) }
        guard let unit = ctx.string(u.value, "unit") else { return nil }
        guard t == "number" else {
            ctx.diagnostics.error(
                .unitOnNonNumber, "attribute '\(entry.name)' is a \(t); only number attributes take a unit",
                at: u.key.range, hint: "write `type: number`, or remove the unit")
            return nil
        }
        if !KnownUnits.all.contains(unit) {
            ctx.diagnostics.warning(
                .unknownUnit, "unknown unit '\(unit)' for attribute '\(entry.name)'", at: u.value.range,
                hint: Suggestion.hint(for: unit, in: KnownUnits.all)
                    ?? "units are compared by name; known units include percent, celsius, dBm, g, volt")
        }
        return (t, unit)
    }

    /// Metric, list and macro names are read inside expressions, where `-` is subtraction.
    private func checkName(_ entry: YAMLEntry, _ place: String, _ ctx: inout DecodeContext) -> Bool {
        guard let name = ctx.name(entry.key, place) else { return false }
        if name.contains("-") {
            ctx.diagnostics.error(
                .invalidName, "invalid \(place) '\(name)': expressions would read '-' as a minus sign",
                at: entry.key.range,
                hint: "use '_' instead: '\(name.replacingOccurrences(of: "-", with: "_"))'")
            return false
        }
        return true
    }

    private func metric(_ entry: YAMLEntry, _ ctx: inout DecodeContext) -> MetricDecl? {
        guard checkName(entry, "metric name", &ctx),
            let f = ctx.fields(entry.value, LanguageSpec.metric, in: "metric '\(entry.name)'"),
            let unit = f["unit"].flatMap({ ctx.string($0.value, "unit") })
        else { return nil }
        if !KnownUnits.all.contains(unit), let u = f["unit"] {
            ctx.diagnostics.warning(
                .unknownUnit, "unknown unit '\(unit)' for metric '\(entry.name)'", at: u.value.range,
                hint: Suggestion.hint(for: unit, in: KnownUnits.all)
                    ?? "units are compared by name; known units include percent, celsius, dBm, g, volt")
        }
        var range: ClosedRange<Double>?
        if let r = f["range"] {
            guard let (lo, hi) = ctx.numberRange(r.value, "range") else { return nil }
            range = (lo ?? -Double.infinity)...(hi ?? Double.infinity)
        }
        var interval: Double?
        if let i = f["interval"] {
            guard let v = ctx.duration(i.value, "interval") else { return nil }
            interval = v
        }
        return MetricDecl(
            name: entry.name, unit: unit, range: range, interval: interval,
            description: f["description"].flatMap { ctx.string($0.value, "description") }, location: entry.key.range)
    }
}

extension YAMLNode {
    var scalarText: String {
        if case .scalar(let s, _) = kind { return s }
        return typeDescription
    }
}
