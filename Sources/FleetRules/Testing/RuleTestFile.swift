import Foundation

/// One rule-test file (`*.test.yaml`): the rules it loads and its tests. See docs/TESTING.md.
public struct RuleTestFile: Sendable {
    public var file: String
    /// The policy the tests run against (the files named by `rules:`).
    public var policy: Policy
    public var tests: [RuleTest]
}

/// One test: an inventory snippet, input series and expectations at evaluation times.
public struct RuleTest: Sendable {
    public var name: String
    public var range: SourceRange
    /// When set, only these rules' findings are compared (other rules still run).
    public var focus: Set<String>?
    public var inventory: Inventory
    /// Every input reading, in time order.
    public var readings: [Reading]
    public var start: Double
    public var checks: [RuleTestCheck]
}

/// What must hold at one evaluation time; a nil list is not checked.
public struct RuleTestCheck: Sendable {
    public var at: Double
    public var range: SourceRange
    /// The exact set of firing alerts (of the focused rules).
    public var alerts: [ExpectedAlert]?
    public var forecasts: [ExpectedForecast]?
    public var compliance: [ExpectedCompliance]?
    /// The exact set of maintenance tasks.
    public var maintenance: [ExpectedTask]?
    /// The exact set of rebalancing moves the focused balance rules propose.
    public var rebalancing: [ExpectedMove]?
}

public struct ExpectedAlert: Sendable, Hashable {
    public var rule: String
    /// "" for group findings (site-level).
    public var device: String
    public var severity: AlertSeverity?
    /// When set, the alert's labels must be exactly these.
    public var labels: [String: String]?
    public var site: String?
    /// When set, whether a group rule inhibits the alert (`inhibits:`).
    public var inhibited: Bool? = nil
    /// When set, the group of a group rule's finding.
    public var group: String? = nil
    /// When set, the `mute_during` interval the alert must be muted by ("": it must not be muted).
    public var muted: String?
}

public struct ExpectedForecast: Sendable, Hashable {
    public var rule: String
    public var device: String
    /// Predicted crossing; nil means "no forecast finding for this device".
    public var crossingAt: Double?
    public var tolerance: Double
}

public struct ExpectedCompliance: Sendable, Hashable {
    public var rule: String
    public var device: String
    public var state: ComplianceState
}

public struct ExpectedTask: Sendable, Hashable {
    public var device: String
    public var task: String
    public var rule: String?
}

public struct ExpectedMove: Sendable, Hashable {
    public var device: String
    public var from: String
    public var to: String
}

/// Reads rule-test files with located diagnostics, like rule files.
public struct RuleTestLoader: Sendable {
    public var limits: LoadLimits
    public init(limits: LoadLimits = LoadLimits()) { self.limits = limits }

    /// Default start of every series when neither the file nor the test sets one.
    public static let defaultStart: Double = 1_767_225_600  // 2026-01-01T00:00:00Z

    /// The outcome of loading one test file: the file when usable, every diagnostic, and the
    /// sources read (the test file and the rule files) for excerpts.
    public struct Loaded: Sendable {
        public var file: RuleTestFile?
        public var diagnostics: [Diagnostic]
        public var sources: [String: String]
    }

    /// Expands folders into their `*.test.yaml`/`*.test.yml` files in name order (recursively).
    public static func files(for paths: [String]) throws(PolicyPathError) -> [String] {
        try PolicyLoader.expand(paths, recursive: true, emptyReason: "the folder holds no .test.yaml file") {
            $0.hasSuffix(".test.yaml") || $0.hasSuffix(".test.yml")
        }
    }

    public func load(path: String) -> Loaded {
        guard let data = FileManager.default.contents(atPath: path) else {
            return Loaded(
                file: nil,
                diagnostics: [
                    Diagnostic(.cannotRead, "cannot read file", at: SourceRange(file: path, line: 1, column: 1))
                ],
                sources: [:])
        }
        let base = (path as NSString).deletingLastPathComponent
        return load(bytes: [UInt8](data), file: path) { relative in
            let resolved = relative.hasPrefix("/") ? relative : (base.isEmpty ? relative : "\(base)/\(relative)")
            do throws(PolicyPathError) {
                let files = try PolicyLoader.files(for: [resolved])
                return .success(files.map { ($0, FileManager.default.contents(atPath: $0).map { [UInt8]($0) }) })
            } catch {
                return .failure(error)
            }
        }
    }

    /// The rule files a `rules:` entry names, with their bytes (nil: unreadable).
    public typealias RuleSources = (String) -> Result<[(file: String, bytes: [UInt8]?)], PolicyPathError>

    /// Decodes a test file; `rules` reads the files a `rules:` entry (a path relative to the
    /// test file) names. All entries together are checked as one policy set.
    public func load(bytes: [UInt8], file: String, rules: RuleSources) -> Loaded {
        var bag = DiagnosticBag()
        let text = YAMLLoader.text(of: bytes)
        var sources = [file: text]
        guard let root = YAMLLoader(limits: limits).load(bytes, file: file, into: &bag) else {
            return Loaded(file: nil, diagnostics: bag.sorted, sources: sources)
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var decoder = TestDecoder(ctx: DecodeContext(scope: Scope(), sourceLines: lines), limits: limits)
        let result = decoder.decodeFile(root, file: file, rules: rules)
        bag.append(contentsOf: decoder.ctx.diagnostics.items)
        for (k, v) in decoder.ruleSources { sources[k] = v }
        bag.append(contentsOf: decoder.ruleDiagnostics)
        let usable = bag.hasErrors ? nil : result
        return Loaded(file: usable, diagnostics: bag.sorted, sources: sources)
    }
}

/// The decoder proper: one per file, reporting through `ctx`.
struct TestDecoder {
    var ctx: DecodeContext
    var ruleSources: [String: String] = [:]
    var ruleDiagnostics: [Diagnostic] = []
    var limits = LoadLimits()
    var policy: Policy?
    var start = RuleTestLoader.defaultStart
    var interval = 300.0

    static let topLevel: [FieldSpec] = [
        FieldSpec("fleetrules-test", .integer(minimum: 1), required: true, "format version of test files; 1"),
        FieldSpec("rules", .list(.text), required: true, "rule files or folders, relative to this file"),
        FieldSpec("start", .timestamp, "when series start unless a test says otherwise (default 2026-01-01T00:00:00Z)"),
        FieldSpec("interval", .duration, "step of the series notation unless a test says otherwise (default 5m)"),
        FieldSpec("tests", .list(.text), required: true, "the tests"),
    ]
    static let test: [FieldSpec] = [
        FieldSpec("name", .text, required: true, "what the test shows"),
        FieldSpec("rules", .list(.name), "compare only these rules' findings"),
        FieldSpec("start", .timestamp, "when this test's series start"),
        FieldSpec("interval", .duration, "step of this test's series"),
        FieldSpec("inventory", .list(.text), required: true, "devices: mappings with `device` and attribute columns"),
        FieldSpec("series", .list(.text), required: true, "input series per device"),
        FieldSpec("expect", .list(.text), required: true, "expectations at evaluation times"),
    ]
    static let seriesKeys = ["device", "start", "interval", "gateway"]
    static let expect: [FieldSpec] = [
        FieldSpec("at", .text, required: true, "evaluation time: offset from the start (e.g. 2h) or RFC 3339"),
        FieldSpec("alerts", .list(.text), "the exact set of firing alerts"),
        FieldSpec("forecasts", .list(.text), "forecast crossings within a tolerance"),
        FieldSpec("compliance", .list(.text), "compliance states of devices"),
        FieldSpec("maintenance", .list(.text), "the exact set of maintenance tasks"),
        FieldSpec("rebalancing", .list(.text), "rebalancing moves"),
    ]

    mutating func decodeFile(
        _ root: YAMLNode, file: String, rules: RuleTestLoader.RuleSources
    ) -> RuleTestFile? {
        guard let f = ctx.fields(root, Self.topLevel, in: "a test file") else { return nil }
        if let v = f["fleetrules-test"] {
            if case .scalar("1", .plain) = v.value.kind {
            } else {
                ctx.diagnostics.error(
                    .testVersion, "unsupported test file version \(Self.text(v.value))", at: v.value.range,
                    hint: "write `fleetrules-test: 1`")
                return nil
            }
        } else {
            return nil
        }
        if let s = f["start"] { start = ctx.timestamp(s.value, "start") ?? start }
        if let i = f["interval"] { interval = ctx.duration(i.value, "interval") ?? interval }
        guard let r = f["rules"] else { return nil }
        let paths: [YAMLNode]
        if case .scalar = r.value.kind { paths = [r.value] } else { paths = ctx.sequence(r.value, "rules") ?? [] }
        var sources: [(file: String, bytes: [UInt8])] = []
        var unreadable = false
        for p in paths {
            guard let path = ctx.string(p, "a rules path") else { continue }
            switch rules(path) {
            case .success(let files):
                for (name, bytes) in files where !sources.contains(where: { $0.file == name }) {
                    if let bytes {
                        sources.append((name, bytes))
                    } else {
                        unreadable = true
                        ctx.diagnostics.error(.cannotRead, "cannot read rule file '\(name)'", at: p.range)
                    }
                }
            case .failure(let error):
                ctx.diagnostics.error(
                    .testRules, "rules path '\(path)': \(error.reason)", at: p.range,
                    hint: "paths are relative to the test file, e.g. `..` for the pack folder above")
            }
        }
        guard !sources.isEmpty, !unreadable else { return nil }
        // All paths together form one policy set, as `fleetrules check` would load them.
        let check = PolicyLoader(limits: limits).check(sources: sources)
        for (k, v) in check.sources { ruleSources[k] = v }
        ruleDiagnostics = check.diagnostics.filter { $0.severity == .error }
        guard let policy = check.policy else {
            ctx.diagnostics.error(
                .testRules, "the rules this file loads have errors", at: r.value.range,
                hint: "run `fleetrules check` on them")
            return nil
        }
        self.policy = policy
        guard let t = f["tests"], let items = ctx.sequence(t.value, "tests") else { return nil }
        var tests: [RuleTest] = []
        var names: [String: SourceRange] = [:]
        for item in items {
            guard let test = decodeTest(item) else { continue }
            if let first = names[test.name] {
                ctx.diagnostics.error(
                    .duplicateName, "a test named '\(test.name)' already exists", at: test.range,
                    notes: [Diagnostic.Note(message: "first defined here", range: first)])
                continue
            }
            names[test.name] = test.range
            tests.append(test)
        }
        return RuleTestFile(file: file, policy: policy, tests: tests)
    }

    static func text(_ node: YAMLNode) -> String {
        if case .scalar(let s, _) = node.kind { return "'\(s)'" }
        return node.typeDescription
    }

    mutating func decodeTest(_ node: YAMLNode) -> RuleTest? {
        guard let f = ctx.fields(node, Self.test, in: "a test"), let policy else { return nil }
        guard let nameEntry = f["name"], let name = ctx.string(nameEntry.value, "name") else { return nil }
        let errorsBefore = ctx.diagnostics.errorCount
        var testStart = start
        var testInterval = interval
        if let s = f["start"] { testStart = ctx.timestamp(s.value, "start") ?? start }
        if let i = f["interval"] { testInterval = ctx.duration(i.value, "interval") ?? interval }
        var focus: Set<String>?
        if let r = f["rules"], let ids = ctx.sequence(r.value, "rules") {
            var set: Set<String> = []
            let known = policy.rules.map(\.id)
            for id in ids {
                guard let s = ctx.string(id, "a rule id") else { continue }
                if known.contains(s) {
                    set.insert(s)
                } else {
                    unknownRule(s, at: id.range)
                }
            }
            focus = set
        }
        let inventory = f["inventory"].flatMap { decodeInventory($0.value) }
        var readings: [Reading] = []
        if let s = f["series"], let items = ctx.sequence(s.value, "series") {
            var points:
                [String: [Double: (metrics: [String: Double], attributes: [String: String], gateway: String?)]] = [:]
            for item in items {
                decodeSeries(item, inventory: inventory, start: testStart, interval: testInterval, into: &points)
            }
            for (device, byTime) in points {
                for (t, p) in byTime {
                    readings.append(
                        Reading(
                            timestamp: t, device: device, gateway: p.gateway, metrics: p.metrics,
                            attributes: p.attributes))
                }
            }
            readings.sort { ($0.timestamp, $0.device) < ($1.timestamp, $1.device) }
        }
        var checks: [RuleTestCheck] = []
        if let e = f["expect"], let items = ctx.sequence(e.value, "expect") {
            for item in items {
                if let c = decodeCheck(item, start: testStart, inventory: inventory) { checks.append(c) }
            }
            if items.isEmpty {
                ctx.diagnostics.error(.missingField, "a test needs at least one expectation", at: e.value.range)
            }
        }
        guard ctx.diagnostics.errorCount == errorsBefore, let inventory else { return nil }
        return RuleTest(
            name: name, range: node.range, focus: focus, inventory: inventory, readings: readings, start: testStart,
            checks: checks.sorted { $0.at < $1.at })
    }

    mutating func unknownRule(_ id: String, at range: SourceRange) {
        let known = policy?.rules.map(\.id) ?? []
        ctx.diagnostics.error(
            .unknownTestReference, "no rule '\(id)' in the rules this file loads", at: range,
            hint: Suggestion.closest(to: id, in: known).map { "did you mean '\($0)'?" })
    }

    mutating func decodeInventory(_ node: YAMLNode) -> Inventory? {
        guard
            let items = ctx.sequence(node, "inventory", hint: "a list of devices, e.g. - { device: s1, site: plant-a }")
        else { return nil }
        var columns: [String] = ["device"]
        var rows: [[String: String]] = []
        var seen: [String: SourceRange] = [:]
        for item in items {
            guard let entries = ctx.mapping(item, "an inventory device") else { continue }
            var row: [String: String] = [:]
            for e in entries {
                guard case .scalar(let s, _) = e.value.kind else {
                    ctx.diagnostics.error(
                        .wrongType,
                        "inventory attribute '\(e.name)' must be a scalar, found \(e.value.typeDescription)",
                        at: e.value.range)
                    continue
                }
                row[e.name] = e.value.isNull ? "" : s
                if !columns.contains(e.name) { columns.append(e.name) }
            }
            guard let device = row["device"], !device.isEmpty else {
                ctx.diagnostics.error(
                    .missingField, "an inventory device is missing the required key 'device'", at: item.range)
                continue
            }
            if let first = seen[device] {
                ctx.diagnostics.error(
                    .duplicateName, "device '\(device)' is listed twice", at: item.range,
                    notes: [Diagnostic.Note(message: "first listed here", range: first)])
                continue
            }
            seen[device] = item.range
            rows.append(row)
        }
        do {
            return try Inventory(columns: columns, rows: rows.map { r in columns.map { r[$0] ?? "" } })
        } catch {
            ctx.diagnostics.error(.invalidValue, "the inventory cannot be built: \(error)", at: node.range)
            return nil
        }
    }

    /// A time: an offset from `start` (`0s`, `90m`) or an RFC 3339 timestamp.
    mutating func time(_ node: YAMLNode, _ place: String, start: Double) -> Double? {
        guard case .scalar(let s, _) = node.kind, !node.isNull else {
            ctx.diagnostics.error(
                .wrongType,
                "\(place) must be an offset such as 2h or an RFC 3339 timestamp, found \(node.typeDescription)",
                at: node.range)
            return nil
        }
        if s.contains("T"), s.contains("-") { return ctx.timestamp(node, place) }
        guard let d = ctx.duration(node, place, allowZero: true) else { return nil }
        return start + d
    }

    mutating func decodeSeries(
        _ node: YAMLNode, inventory: Inventory?, start: Double, interval: Double,
        into points:
            inout [String: [Double: (metrics: [String: Double], attributes: [String: String], gateway: String?)]]
    ) {
        guard let entries = ctx.mapping(node, "a series entry"), let policy else { return }
        let byName = Dictionary(entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        guard let deviceEntry = byName["device"] else {
            ctx.diagnostics.error(
                .missingField, "a series entry is missing the required key 'device'", at: node.range,
                hint: "e.g. - { device: s1, battery_pct: 80-1x48 }")
            return
        }
        guard let device = ctx.string(deviceEntry.value, "device") else { return }
        if let inventory, inventory.deviceIndex[device] == nil {
            ctx.diagnostics.error(
                .unknownTestReference, "device '\(device)' is not in the test's inventory", at: deviceEntry.value.range,
                hint: Suggestion.closest(to: device, in: inventory.rows.map { $0[0] }).map { "did you mean '\($0)'?" })
        }
        var seriesStart = start
        var step = interval
        var gateway: String?
        if let s = byName["start"] { seriesStart = time(s.value, "start", start: start) ?? start }
        if let i = byName["interval"] { step = ctx.duration(i.value, "interval") ?? interval }
        if let g = byName["gateway"] { gateway = ctx.string(g.value, "gateway") }
        var any = false
        for e in entries where !Self.seriesKeys.contains(e.name) {
            any = true
            let isMetric = policy.metrics[e.name] != nil
            let isAttribute = policy.attributes[e.name] != nil
            guard isMetric || isAttribute else {
                ctx.diagnostics.error(
                    .unknownTestReference, "'\(e.name)' is neither a declared metric nor an attribute", at: e.key.range,
                    hint: Suggestion.closest(to: e.name, in: Array(policy.metrics.keys) + Self.seriesKeys)
                        .map { "did you mean '\($0)'?" } ?? "declare the metric in the pack's `metrics:`")
                continue
            }
            var add: [(Double, Double?, String?)] = []
            if case .scalar(let text, _) = e.value.kind, isMetric {
                switch SeriesNotation.parse(text) {
                case .success(let values):
                    for (k, v) in values.enumerated() { add.append((seriesStart + Double(k) * step, v, nil)) }
                case .failure(let failure):
                    let locator = ScalarLocator(node: e.value, sourceLines: ctx.sourceLines)
                    let at = locator.range(offset: failure.offset, length: failure.length, in: text)
                    ctx.diagnostics.error(.seriesNotation, failure.message, at: at, hint: failure.hint)
                }
            } else if let items = ctx.sequence(
                e.value, "series '\(e.name)'",
                hint: isMetric ? "a notation such as 80-1x48, or a list of { ts, value }" : "a list of { ts, value }")
            {
                for item in items {
                    guard
                        let f = ctx.fields(
                            item,
                            [
                                FieldSpec("ts", .text, required: true, "offset or timestamp"),
                                FieldSpec("value", .text, required: true, "the value"),
                            ],
                            in: "a point")
                    else { continue }
                    guard let tsNode = f["ts"]?.value, let t = time(tsNode, "ts", start: seriesStart),
                        let valueNode = f["value"]?.value
                    else { continue }
                    if isMetric {
                        if case .scalar("_", .plain) = valueNode.kind { continue }
                        if valueNode.isNull { continue }
                        if let v = ctx.number(valueNode, "value") { add.append((t, v, nil)) }
                    } else if let s = ctx.string(valueNode, "value") {
                        add.append((t, nil, s))
                    }
                }
            }
            for (t, v, s) in add {
                var p = points[device, default: [:]][t] ?? (metrics: [:], attributes: [:], gateway: gateway)
                if let v { p.metrics[e.name] = v }
                if let s { p.attributes[e.name] = s }
                if p.gateway == nil { p.gateway = gateway }
                if v != nil || s != nil { points[device, default: [:]][t] = p }
            }
        }
        if !any {
            ctx.diagnostics.error(
                .missingField, "series entry for '\(device)' has no metric", at: node.range,
                hint: "add a metric with values, e.g. battery_pct: 80-1x48")
        }
    }

    mutating func decodeCheck(_ node: YAMLNode, start: Double, inventory: Inventory?) -> RuleTestCheck? {
        guard let f = ctx.fields(node, Self.expect, in: "an expectation") else { return nil }
        guard let atNode = f["at"]?.value, let at = time(atNode, "at", start: start) else { return nil }
        var check = RuleTestCheck(at: at, range: atNode.range)
        func list(_ key: String) -> [YAMLNode]? {
            guard let e = f[key] else { return nil }
            if e.value.isNull { return [] }
            return ctx.sequence(e.value, key)
        }
        if let items = list("alerts") {
            check.alerts = items.compactMap { decodeAlert($0, inventory) }
        }
        if let items = list("forecasts") {
            check.forecasts = items.compactMap { decodeForecast($0, inventory) }
        }
        if let items = list("compliance") {
            check.compliance = items.compactMap { decodeCompliance($0, inventory) }
        }
        if let items = list("maintenance") {
            check.maintenance = items.compactMap { decodeTask($0, inventory) }
        }
        if let items = list("rebalancing") {
            check.rebalancing = items.compactMap { decodeMove($0, inventory) }
        }
        return check
    }

    /// A rule id that must exist; `kinds` restricts it (e.g. forecasts).
    mutating func rule(_ entry: YAMLEntry?, kinds: Set<RuleKind>? = nil) -> String? {
        guard let entry, let id = ctx.string(entry.value, "rule") else { return nil }
        guard let rule = policy?.rules.first(where: { $0.id == id }) else {
            unknownRule(id, at: entry.value.range)
            return nil
        }
        if let kinds, !kinds.contains(rule.kind) {
            ctx.diagnostics.error(
                .unknownTestReference,
                "rule '\(id)' is a \(rule.kind.rawValue) rule, not \(kinds.map(\.rawValue).sorted().joined(separator: " or "))",
                at: entry.value.range)
            return nil
        }
        return id
    }

    mutating func device(_ entry: YAMLEntry?, _ inventory: Inventory?, required: Bool = true) -> String? {
        guard let entry else { return required ? nil : "" }
        guard let d = ctx.string(entry.value, "device") else { return nil }
        if let inventory, inventory.deviceIndex[d] == nil {
            ctx.diagnostics.error(
                .unknownTestReference, "device '\(d)' is not in the test's inventory", at: entry.value.range,
                hint: Suggestion.closest(to: d, in: inventory.rows.map { $0[0] }).map { "did you mean '\($0)'?" })
            return nil
        }
        return d
    }

    mutating func decodeAlert(_ node: YAMLNode, _ inventory: Inventory?) -> ExpectedAlert? {
        let spec = [
            FieldSpec("rule", .name, required: true, "rule id"),
            FieldSpec("device", .text, "device (omit for site findings)"),
            FieldSpec("severity", .severity, "severity"), FieldSpec("labels", .map(.text), "exact labels"),
            FieldSpec("site", .text, "site of a group finding"),
            FieldSpec("group", .text, "group of a group rule's finding (the `by` values joined with /)"),
            FieldSpec(
                "inhibited", .choice(["true", "false"]), "whether a firing group rule inhibits the alert (true/false)"),
            FieldSpec("muted", .text, "the mute_during interval that mutes the alert, or false for none"),
        ]
        guard let f = ctx.fields(node, spec, in: "an expected alert") else { return nil }
        guard let rule = rule(f["rule"]), let device = device(f["device"], inventory, required: false) else {
            return nil
        }
        var alert = ExpectedAlert(rule: rule, device: device)
        if let s = f["severity"] { alert.severity = ctx.severity(s.value) }
        if let s = f["site"] { alert.site = ctx.string(s.value, "site") }
        if let s = f["group"] { alert.group = ctx.string(s.value, "group") }
        if let s = f["inhibited"] { alert.inhibited = ctx.bool(s.value, "inhibited") }
        if let m = f["muted"] {
            if case .scalar("false", .plain) = m.value.kind {
                alert.muted = ""
            } else {
                alert.muted = ctx.string(m.value, "muted")
            }
        }
        if let l = f["labels"], let entries = ctx.mapping(l.value, "labels") {
            var labels: [String: String] = [:]
            for e in entries { labels[e.name] = ctx.string(e.value, "label '\(e.name)'") }
            alert.labels = labels
        }
        return alert
    }

    mutating func decodeForecast(_ node: YAMLNode, _ inventory: Inventory?) -> ExpectedForecast? {
        let spec = [
            FieldSpec("rule", .name, required: true, "forecast rule id"),
            FieldSpec("device", .text, required: true, "device"),
            FieldSpec("crossing_at", .timestamp, required: true, "predicted crossing (RFC 3339), or null for none"),
            FieldSpec("tolerance", .duration, "how far the prediction may be off (default 1h)"),
        ]
        guard let f = ctx.fields(node, spec, in: "an expected forecast") else { return nil }
        guard let rule = rule(f["rule"], kinds: [.forecast]), let device = device(f["device"], inventory),
            let crossing = f["crossing_at"]?.value
        else { return nil }
        var out = ExpectedForecast(rule: rule, device: device, crossingAt: nil, tolerance: 3600)
        if !crossing.isNull {
            guard let t = ctx.timestamp(crossing, "crossing_at") else { return nil }
            out.crossingAt = t
        }
        if let tol = f["tolerance"] { out.tolerance = ctx.duration(tol.value, "tolerance") ?? 3600 }
        return out
    }

    mutating func decodeCompliance(_ node: YAMLNode, _ inventory: Inventory?) -> ExpectedCompliance? {
        let states = ComplianceState.allCases.map(\.rawValue)
        let spec = [
            FieldSpec("rule", .name, required: true, "compliance rule id"),
            FieldSpec("device", .text, required: true, "device"),
            FieldSpec("state", .choice(states), required: true, "expected state"),
        ]
        guard let f = ctx.fields(node, spec, in: "an expected compliance state") else { return nil }
        guard let rule = rule(f["rule"], kinds: [.compliance]), let device = device(f["device"], inventory),
            let s = f["state"],
            let state = ctx.choice(s.value, "state", states).flatMap(ComplianceState.init(rawValue:))
        else { return nil }
        return ExpectedCompliance(rule: rule, device: device, state: state)
    }

    mutating func decodeTask(_ node: YAMLNode, _ inventory: Inventory?) -> ExpectedTask? {
        let spec = [
            FieldSpec("device", .text, required: true, "device"), FieldSpec("task", .text, required: true, "task"),
            FieldSpec("rule", .name, "rule that asked for it"),
        ]
        guard let f = ctx.fields(node, spec, in: "an expected maintenance task") else { return nil }
        guard let device = device(f["device"], inventory), let t = f["task"], let task = ctx.string(t.value, "task")
        else { return nil }
        var out = ExpectedTask(device: device, task: task)
        if let r = f["rule"] {
            guard let id = rule(r) else { return nil }
            out.rule = id
        }
        return out
    }

    mutating func decodeMove(_ node: YAMLNode, _ inventory: Inventory?) -> ExpectedMove? {
        let spec = [
            FieldSpec("device", .text, required: true, "device to move"),
            FieldSpec("from", .text, required: true, "gateway now"),
            FieldSpec("to", .text, required: true, "gateway proposed"),
        ]
        guard let f = ctx.fields(node, spec, in: "an expected rebalancing move") else { return nil }
        guard let device = device(f["device"], inventory), let a = f["from"], let from = ctx.string(a.value, "from"),
            let b = f["to"], let to = ctx.string(b.value, "to")
        else { return nil }
        return ExpectedMove(device: device, from: from, to: to)
    }
}

extension ScalarLocator {
    /// The source range of `length` scalars from `offset` in the scalar's value `value`.
    func range(offset: Int, length: Int, in value: String) -> SourceRange {
        var line = 0
        var lineStart = 0
        for (i, c) in value.unicodeScalars.enumerated() {
            if i >= offset { break }
            if c == "\n" {
                line += 1
                lineStart = i + 1
            }
        }
        let start = position(line: line, column: offset - lineStart)
        return SourceRange(
            file: file, start: start, end: SourcePosition(line: start.line, column: start.column + max(1, length)))
    }
}
