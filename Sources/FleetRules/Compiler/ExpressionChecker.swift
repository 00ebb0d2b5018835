import Foundation

/// What the checker knows about a checked sub-expression.
struct Checked {
    enum Truth { case always, never, unknown }

    var expr: TypedExpression
    var type: ValueType
    var range: SourceRange
    /// A bare number literal (or arithmetic on literals): takes the unit of the other side.
    var adaptable = false
    /// A `30%` literal: 30 against percent, 0.30 against a dimensionless ratio.
    var percent = false
    /// Possible values given declared metric ranges, for "can never fire" warnings.
    var bounds: ClosedRange<Double>?
    var truth = Truth.unknown
    /// Why `truth` is known: the comparison that decides it and a sentence about it.
    var reason: (range: SourceRange, text: String)?
}

/// Resolves names and checks types and units of expressions against a scope.
///
/// Macros are checked once each, in dependency order (a macro after the macros it uses), so
/// checking never recurses from one macro into another and a chain of thousands of macros
/// takes linear time and constant stack. Uses refer to the memoised result.
struct ExpressionChecker {
    var scope: Scope
    private(set) var usedLists: Set<String> = []
    /// Macros referenced directly by rules.
    private(set) var usedMacros: Set<String> = []
    /// Macro → macros it references.
    private(set) var macroEdges: [String: Set<String>] = [:]
    private var macroResults: [String: Checked?] = [:]
    /// Size and depth, once inlined, of every macro that checked: a use is measured in O(1).
    private var macroExpansions: [String: Expansion] = [:]
    /// Macros `resolve` is checking; a use of one that has no result yet closes a cycle.
    private var resolving: Set<String> = []
    /// Steps taken so far: expressions checked, macros entered and macro references followed
    /// while ordering them, and edges followed to find the reachable macros. A deterministic
    /// measure of checking cost, so tests can hold it linear in the size of the input.
    private(set) var work = 0

    init(scope: Scope) { self.scope = scope }

    /// Largest condition, macros inlined, that a rule or macro may expand to (billion-laughs guard).
    static let maxExpandedNodes = 100_000
    /// Deepest nesting of a condition once its macros are inlined. Every later stage (canonical
    /// text, runtime lowering, evaluation, explanations, deinitialisation of the tree) walks the
    /// tree recursively; this bound keeps their stack use small and fixed, whatever the input.
    /// One expression nests at most `ExpressionParser.maxDepth` (100) levels, so a rule can use
    /// a macro written at that limit.
    static let maxExpandedDepth = 200

    /// Size of an expression once the macros it uses are inlined.
    struct Expansion {
        var nodes = 0
        var depth = 0
    }

    /// Checks a condition that must be boolean; reports E0212 otherwise.
    mutating func condition(_ e: Expression, _ d: inout DiagnosticBag) -> Checked? {
        guard let c = check(e, &d) else { return nil }
        guard c.type == .bool else {
            d.error(
                .notBoolean, "condition must be true or false, but this is a \(c.type)", at: e.range,
                hint: "compare it, e.g. `\(e.rangeText) > 0`")
            return nil
        }
        return c
    }

    /// Macros a rule reaches, directly or through other macros. Call it once, after every rule
    /// has been checked: it follows each edge once.
    mutating func reachableMacros() -> Set<String> {
        var seen = usedMacros
        var pending = Array(usedMacros)
        while let m = pending.popLast() {
            for next in macroEdges[m] ?? [] {
                work += 1
                if seen.insert(next).inserted { pending.append(next) }
            }
        }
        return seen
    }

    /// Whether a rule's expression (`place`, e.g. "when"), with its macros inlined, stays within
    /// the node limit (E0213) and the depth limit (E0214). Measured before type checking, from
    /// the macros' memoised sizes, so an over-large tree is never built.
    mutating func withinLimits(_ e: Expression, _ place: String, _ d: inout DiagnosticBag) -> Bool {
        for (name, _) in macroReferences(e) {
            usedMacros.insert(name)
            _ = macro(name, &d)
        }
        let size = expansion(of: e)
        if size.nodes > Self.maxExpandedNodes {
            d.error(
                .expansionLimit,
                "\(place) expands to more than \(Self.maxExpandedNodes) nodes once its macros are inlined", at: e.range,
                hint: "macros are inlined where they are used; refer to a large macro fewer times")
            return false
        }
        if size.depth > Self.maxExpandedDepth {
            d.error(
                .expansionDepth,
                "\(place) nests deeper than \(Self.maxExpandedDepth) levels once its macros are inlined", at: e.range,
                hint:
                    "each macro adds its own depth where it is used; use fewer layers of macros, or `in [..]` instead of long chains of `or`"
            )
            return false
        }
        return true
    }

    /// The checked macro (memoised): `nil` when no macro has this name, `.some(nil)` when the
    /// macro has errors (reported once, at its definition).
    mutating func macro(_ name: String, _ d: inout DiagnosticBag) -> Checked?? {
        guard scope.macros[name] != nil else { return nil }
        if macroResults[name] == nil, !resolving.contains(name) { resolve(name, &d) }
        return .some(macroResults[name] ?? nil)
    }

    /// Checks `root` and every macro it reaches that has not been checked yet, each after the
    /// macros it uses. The order comes from an iterative depth-first search, which also finds
    /// cycles (E0211, reported where the cycle closes).
    private mutating func resolve(_ root: String, _ d: inout DiagnosticBag) {
        struct Frame {
            var name: String
            var references: [(name: String, range: SourceRange)]
            var next = 0
        }
        var order: [String] = []
        var seen: Set<String> = []
        var path: [Frame] = []
        var pathIndex: [String: Int] = [:]
        func enter(_ name: String) {
            let references = scope.macros[name]?.expression.map(macroReferences) ?? []
            macroEdges[name, default: []].formUnion(references.map(\.name))
            work += 1
            seen.insert(name)
            pathIndex[name] = path.count
            path.append(Frame(name: name, references: references))
        }
        enter(root)
        while let top = path.last {
            guard top.next < top.references.count else {
                path.removeLast()
                pathIndex[top.name] = nil
                order.append(top.name)
                continue
            }
            let (name, range) = top.references[top.next]
            path[path.count - 1].next += 1
            work += 1
            if let i = pathIndex[name] {
                let cycle = (path[i...].map(\.name) + [name]).joined(separator: " → ")
                d.error(
                    .macroRecursion, "macro '\(name)' refers to itself (\(cycle))", at: range,
                    hint: "a macro may use other macros, but not in a cycle")
            } else if macroResults[name] == nil, !seen.contains(name) {
                enter(name)
            }
        }
        resolving = Set(order)
        for name in order { checkMacro(name, &d) }
        resolving = []
    }

    /// Checks one macro whose macros have all been checked (or are part of a reported cycle).
    private mutating func checkMacro(_ name: String, _ d: inout DiagnosticBag) {
        guard let decl = scope.macros[name] else { return }
        var result: Checked?
        if let expression = decl.expression {
            let size = expansion(of: expression)
            if size.nodes > Self.maxExpandedNodes {
                d.error(
                    .expansionLimit,
                    "macro '\(name)' expands to more than \(Self.maxExpandedNodes) nodes once the macros it uses are inlined",
                    at: decl.location,
                    hint: "a macro that uses another macro twice doubles in size; use each macro once")
            } else if size.depth > Self.maxExpandedDepth {
                d.error(
                    .expansionDepth,
                    "macro '\(name)' nests deeper than \(Self.maxExpandedDepth) levels once the macros it uses are inlined",
                    at: decl.location,
                    hint:
                        "each macro adds its own depth where it is used; use fewer layers of macros, or `in [..]` instead of long chains of `or`"
                )
            } else {
                result = condition(expression, &d)
                if result != nil { macroExpansions[name] = size }
            }
        }
        macroResults[name] = .some(result)
    }

    /// Visits `e` and the sub-expressions the checker reads as expressions, parents first and
    /// in source order, with their nesting level (1 for `e`). Metric names and windows of
    /// window functions, the list right of `in` and the pattern right of `matches` are not
    /// visited: they become part of their parent's node. Iterative, so any depth is safe.
    private func walk(_ e: Expression, _ body: (Expression, Int) -> Void) {
        var stack: [(Expression, Int)] = [(e, 1)]
        while let (node, level) = stack.popLast() {
            body(node, level)
            let children: [Expression]
            switch node.kind {
            case .number, .string, .duration, .version, .bool, .identifier, .list: children = []
            case .call(let name, let args): children = WindowFunction(rawValue: name) == nil ? args : []
            case .unary(_, let x): children = [x]
            case .binary(.in, let x, _), .binary(.matches, let x, _): children = [x]
            case .binary(_, let x, let y): children = [x, y]
            }
            stack += children.reversed().map { ($0, level + 1) }
        }
    }

    /// The macros `e` uses directly, with the place of each use, in source order.
    private func macroReferences(_ e: Expression) -> [(name: String, range: SourceRange)] {
        var out: [(name: String, range: SourceRange)] = []
        walk(e) { node, _ in
            if case .identifier(let name) = node.kind, scope.macros[name] != nil { out.append((name, node.range)) }
        }
        return out
    }

    /// Nodes and depth of `e` with the macros it uses inlined, from their memoised sizes (a macro
    /// with errors counts as one node). Node counts saturate just above the limit.
    func expansion(of e: Expression) -> Expansion {
        var size = Expansion()
        walk(e) { node, level in
            var inner = Expansion(nodes: 1, depth: 1)
            if case .identifier(let name) = node.kind, let m = macroExpansions[name] { inner = m }
            size.nodes = min(size.nodes + inner.nodes, Self.maxExpandedNodes + 1)
            size.depth = max(size.depth, level - 1 + inner.depth)
        }
        return size
    }

    mutating func check(_ e: Expression, _ d: inout DiagnosticBag) -> Checked? {
        work += 1
        switch e.kind {
        case .number(let n, let percent):
            var c = Checked(expr: .constant(.number(n)), type: .number(unit: percent ? "percent" : nil), range: e.range)
            c.adaptable = !percent
            c.percent = percent
            c.bounds = n...n
            return c
        case .string(let s):
            return Checked(expr: .constant(.string(s)), type: .string, range: e.range)
        case .duration(let s):
            var c = Checked(expr: .constant(.duration(s)), type: .duration, range: e.range)
            c.bounds = s...s
            return c
        case .bool(let b):
            var c = Checked(expr: .constant(.bool(b)), type: .bool, range: e.range)
            c.truth = b ? .always : .never
            return c
        case .version(let text):
            guard let v = Version(parsing: text) else {
                d.error(
                    .invalidVersion, "invalid version '\(text)'", at: e.range,
                    hint: "write MAJOR.MINOR.PATCH, optionally with -prerelease or +build, e.g. v\"2.4.1\"")
                return nil
            }
            return Checked(expr: .constant(.version(v)), type: .version, range: e.range)
        case .identifier(let name):
            return identifier(name, e, &d)
        case .list(let items):
            d.error(
                .typeMismatch, "a list can only stand on the right of `in`", at: e.range,
                hint: "write `x in [\(items.isEmpty ? "…" : "a, b")]`")
            return nil
        case .call(let name, let args):
            return call(name, args, e, &d)
        case .unary(.not, let operand):
            guard let c = condition(operand, &d) else { return nil }
            var r = Checked(expr: .not(c.expr), type: .bool, range: e.range)
            r.truth = c.truth == .always ? .never : c.truth == .never ? .always : .unknown
            r.reason = c.reason
            return r
        case .unary(.negate, let operand):
            guard let c = check(operand, &d) else { return nil }
            guard case .number = c.type else {
                if c.type == .duration {
                    d.error(.typeMismatch, "a duration cannot be negative", at: e.range)
                } else {
                    d.error(.typeMismatch, "cannot negate a \(c.type)", at: e.range)
                }
                return nil
            }
            var r = c
            r.expr = .negate(c.expr)
            r.range = e.range
            r.bounds = c.bounds.map { (-$0.upperBound)...(-$0.lowerBound) }
            return r
        case .binary(let op, let lhs, let rhs):
            return binary(op, lhs, rhs, e, &d)
        }
    }

    private mutating func identifier(_ name: String, _ e: Expression, _ d: inout DiagnosticBag) -> Checked? {
        if name == "now" { return Checked(expr: .now, type: .timestamp, range: e.range) }
        if scope.macros[name] != nil {
            guard case .some(let result) = macro(name, &d), var c = result else { return nil }
            c.range = e.range
            c.reason = nil
            return c
        }
        if let list = scope.lists[name] {
            usedLists.insert(name)
            d.error(
                .typeMismatch, "list '\(list.name)' can only stand on the right of `in`", at: e.range,
                hint: "write `site in \(list.name)`")
            return nil
        }
        if let type = scope.attributes[name] { return Checked(expr: .attribute(name), type: type, range: e.range) }
        if scope.metrics[name] != nil {
            d.error(
                .typeMismatch, "metric '\(name)' must be read through a window function", at: e.range,
                hint: "write last(\(name)) for the latest value, or avg(\(name), 1h)")
            return nil
        }
        d.error(
            .unknownName, "unknown name '\(name)'", at: e.range,
            hint: Suggestion.hint(for: name, in: scope.allNames)
                ?? "declare extra inventory columns under `attributes:`")
        return nil
    }

    private mutating func call(_ name: String, _ args: [Expression], _ e: Expression, _ d: inout DiagnosticBag)
        -> Checked?
    {
        if let f = WindowFunction(rawValue: name) {
            let expected = f.takesWindow ? 2 : 1
            guard args.count == expected else {
                var metric = "metric"
                if let first = args.first, case .identifier(let written) = first.kind { metric = written }
                d.error(
                    .wrongArguments,
                    "\(name)() takes \(expected) argument\(expected == 1 ? "" : "s"), got \(args.count)",
                    at: e.range,
                    hint: f.takesWindow ? "write \(name)(\(metric), 1h)" : "write \(name)(\(metric))")
                return nil
            }
            guard case .identifier(let metricName) = args[0].kind else {
                d.error(
                    .wrongArguments, "the first argument of \(name)() must be a metric name", at: args[0].range,
                    hint: "e.g. \(name)(battery_pct\(f.takesWindow ? ", 1h" : ""))")
                return nil
            }
            guard let metric = scope.metrics[metricName] else {
                if scope.attributes[metricName] != nil {
                    d.error(
                        .wrongArguments, "'\(metricName)' is an inventory attribute, not a metric", at: args[0].range,
                        hint: "window functions read metrics declared under `metrics:`")
                } else {
                    d.error(
                        .unknownMetric, "unknown metric '\(metricName)'", at: args[0].range,
                        hint: Suggestion.hint(for: metricName, in: scope.metrics.keys)
                            ?? "declare it under `metrics:` with its unit")
                }
                return nil
            }
            var seconds: Double?
            if f.takesWindow {
                guard case .duration(let s) = args[1].kind else {
                    d.error(
                        .wrongArguments, "the second argument of \(name)() must be a window duration",
                        at: args[1].range,
                        hint: "e.g. \(name)(\(metricName), 1h)")
                    return nil
                }
                guard s > 0 else {
                    d.error(.invalidDuration, "a window must be longer than zero", at: args[1].range)
                    return nil
                }
                seconds = s
                if let interval = metric.interval, s < interval {
                    d.warning(
                        .shorterThanInterval,
                        "window \(DurationText.format(s)) is shorter than \(metricName)'s reporting interval \(DurationText.format(interval))",
                        at: args[1].range, hint: "most windows will hold no reading or a single one")
                }
            }
            let unit = metric.unit
            var c = Checked(
                expr: .window(f, metric: metricName, seconds: seconds), type: .number(unit: unit), range: e.range)
            let r = metric.range
            switch f {
            case .last, .avg, .min, .max, .p50, .p90, .p95, .p99: c.bounds = r
            case .stddev: c.bounds = r.map { 0...($0.upperBound - $0.lowerBound) }
            case .delta: c.bounds = r.map { ($0.lowerBound - $0.upperBound)...($0.upperBound - $0.lowerBound) }
            case .count:
                c.type = .number(unit: nil)
                c.bounds = 0...Double.infinity
            case .rate, .slope: c.type = .number(unit: "\(unit)/h")
            case .sum: break
            case .age:
                c.type = .duration
                c.bounds = 0...Double.infinity
            case .absent: c.type = .bool
            }
            return c
        }
        switch name {
        case "version":
            guard args.count == 1 else {
                d.error(
                    .wrongArguments, "version() takes 1 argument, got \(args.count)", at: e.range,
                    hint: "write version(firmware)")
                return nil
            }
            guard let a = check(args[0], &d) else { return nil }
            guard a.type == .string || a.type == .version else {
                d.error(.wrongArguments, "version() reads a string attribute, not a \(a.type)", at: args[0].range)
                return nil
            }
            return Checked(expr: a.type == .version ? a.expr : .toVersion(a.expr), type: .version, range: e.range)
        case "satisfies":
            guard args.count == 2 else {
                d.error(
                    .wrongArguments, "satisfies() takes 2 arguments, got \(args.count)", at: e.range,
                    hint: "write satisfies(firmware, \">=2.4.1 <3.0.0\")")
                return nil
            }
            guard let a = check(args[0], &d) else { return nil }
            guard a.type == .string || a.type == .version else {
                d.error(.wrongArguments, "satisfies() reads a version attribute, not a \(a.type)", at: args[0].range)
                return nil
            }
            guard case .string(let text) = args[1].kind else {
                d.error(
                    .wrongArguments, "the second argument of satisfies() must be a range in quotes",
                    at: args[1].range, hint: "e.g. \">=2.4.1 <3.0.0\"")
                return nil
            }
            switch VersionRange.parse(text) {
            case .failure(let err):
                d.error(
                    .invalidRange, "invalid version range \"\(text)\": \(err.message)", at: args[1].range,
                    hint: "npm-style ranges: >=1.2.3 <2.0.0, ~1.2, ^1.2.3, 1.2.x, 1.0.0 - 1.4.0, a || b")
                return nil
            case .success(let range):
                let target: TypedExpression = a.type == .version ? a.expr : .toVersion(a.expr)
                return Checked(expr: .satisfies(target, range), type: .bool, range: e.range)
            }
        case "abs":
            guard args.count == 1 else {
                d.error(.wrongArguments, "abs() takes 1 argument, got \(args.count)", at: e.range)
                return nil
            }
            guard var a = check(args[0], &d) else { return nil }
            guard case .number = a.type else {
                d.error(.wrongArguments, "abs() takes a number, not a \(a.type)", at: args[0].range)
                return nil
            }
            a.expr = .abs(a.expr)
            a.range = e.range
            a.bounds = a.bounds.map { b in
                b.lowerBound >= 0
                    ? b : b.upperBound <= 0 ? (-b.upperBound)...(-b.lowerBound) : 0...max(-b.lowerBound, b.upperBound)
            }
            return a
        case _ where DecodeContext.groupFunctions.contains(name):
            d.error(
                .groupFunctionOutsideGroup, "\(name)() is a group function; it reads the members of a group",
                at: e.range, hint: "use it in the `when` of a `group:` rule, e.g. share(age(heartbeat) > 15m) > 20%")
            return nil
        default:
            let known = WindowFunction.allCases.map(\.rawValue) + ["version", "satisfies", "abs"]
            d.error(
                .unknownFunction, "unknown function '\(name)'", at: e.range,
                hint: Suggestion.hint(for: name, in: known) ?? "functions: \(known.joined(separator: ", "))")
            return nil
        }
    }

    private mutating func binary(
        _ op: BinaryOperator, _ lhs: Expression, _ rhs: Expression, _ e: Expression, _ d: inout DiagnosticBag
    ) -> Checked? {
        switch op {
        case .and, .or:
            let a = condition(lhs, &d)
            let b = condition(rhs, &d)
            guard let a, let b else { return nil }
            var c = Checked(expr: op == .and ? .and(a.expr, b.expr) : .or(a.expr, b.expr), type: .bool, range: e.range)
            if op == .and {
                if a.truth == .never || b.truth == .never {
                    c.truth = .never
                    c.reason = a.truth == .never ? a.reason : b.reason
                } else if a.truth == .always, b.truth == .always {
                    c.truth = .always
                    c.reason = a.reason ?? b.reason
                }
            } else {
                if a.truth == .always || b.truth == .always {
                    c.truth = .always
                    c.reason = a.truth == .always ? a.reason : b.reason
                } else if a.truth == .never, b.truth == .never {
                    c.truth = .never
                    c.reason = a.reason ?? b.reason
                }
            }
            return c
        case .in:
            return membership(lhs, rhs, e, &d)
        case .matches:
            guard let a = check(lhs, &d) else { return nil }
            guard a.type == .string else {
                d.error(.typeMismatch, "`matches` needs a string on the left, not a \(a.type)", at: lhs.range)
                return nil
            }
            guard case .string(let pattern) = rhs.kind else {
                d.error(
                    .typeMismatch, "`matches` needs a pattern in quotes on the right", at: rhs.range,
                    hint: "e.g. device matches \"^plant-a-\"")
                return nil
            }
            do {
                _ = try NSRegularExpression(pattern: pattern)
            } catch {
                d.error(
                    .invalidRegex, "invalid regular expression \"\(pattern)\"", at: rhs.range,
                    hint: "check brackets, parentheses and escapes (\\\\ in YAML double quotes)")
                return nil
            }
            return Checked(expr: .matches(a.expr, pattern: pattern), type: .bool, range: e.range)
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual:
            let a = check(lhs, &d)
            let b = check(rhs, &d)
            guard let a, let b else { return nil }
            return comparison(op, a, b, e, &d)
        case .add, .subtract, .multiply, .divide:
            let a = check(lhs, &d)
            let b = check(rhs, &d)
            guard let a, let b else { return nil }
            return arithmetic(op, a, b, e, &d)
        }
    }

    private mutating func membership(_ lhs: Expression, _ rhs: Expression, _ e: Expression, _ d: inout DiagnosticBag)
        -> Checked?
    {
        let left = check(lhs, &d)
        var values: [Constant] = []
        var elementType: ValueType?
        switch rhs.kind {
        case .identifier(let name):
            guard let list = scope.lists[name] else {
                let hint =
                    Suggestion.hint(for: name, in: scope.lists.keys)
                    ?? (scope.lists.isEmpty
                        ? "declare it under `lists:`" : "lists: \(scope.lists.keys.sorted().joined(separator: ", "))")
                d.error(.unknownName, "unknown list '\(name)'", at: rhs.range, hint: hint)
                return nil
            }
            usedLists.insert(name)
            values = list.values
            elementType = list.elementType
        case .list(let items):
            for item in items {
                switch item.kind {
                case .string(let s):
                    values.append(.string(s))
                    if elementType == nil { elementType = .string }
                    if elementType != .string {
                        d.error(
                            .typeMismatch, "a list mixes strings and numbers", at: item.range,
                            hint: "quote the numbers to make them strings")
                        return nil
                    }
                case .number(let n, _):
                    values.append(.number(n))
                    if elementType == nil { elementType = .number(unit: nil) }
                    if elementType != .number(unit: nil) {
                        d.error(
                            .typeMismatch, "a list mixes strings and numbers", at: item.range,
                            hint: "quote the numbers to make them strings")
                        return nil
                    }
                default:
                    d.error(
                        .typeMismatch, "list items must be strings or numbers", at: item.range,
                        hint: "quote text items, e.g. [\"plant-a\", \"plant-c\"], or declare a list under `lists:`")
                    return nil
                }
            }
        default:
            var hint: String?
            if case .binary(.subtract, _, _) = rhs.kind {
                hint = "`\(rhs.rangeText)` is read as a subtraction; list names use '_', not '-'"
            }
            d.error(.typeMismatch, "`in` needs a list on the right: [a, b] or a list name", at: rhs.range, hint: hint)
            return nil
        }
        guard let left else { return nil }
        if let elementType {
            let compatible: Bool
            switch (left.type, elementType) {
            case (.string, .string): compatible = true
            case (.number, .number): compatible = true
            default: compatible = false
            }
            guard compatible else {
                d.error(.typeMismatch, "cannot look for a \(left.type) in a list of \(elementType)s", at: e.range)
                return nil
            }
        }
        var c = Checked(expr: .member(left.expr, values), type: .bool, range: e.range)
        if values.isEmpty {
            c.truth = .never
            c.reason = (e.range, "the list is empty")
        }
        return c
    }

    /// Unit of a number operand, or nil when it adapts to the other side.
    private func unitMismatch(_ a: Checked, _ b: Checked) -> (String, String)? {
        guard case .number(let ua) = a.type, case .number(let ub) = b.type else { return nil }
        if a.adaptable || b.adaptable { return nil }
        if a.percent, ub == nil || ub == "percent" || ub == "ratio" { return nil }
        if b.percent, ua == nil || ua == "percent" || ua == "ratio" { return nil }
        if ua == ub { return nil }
        return (ua ?? "dimensionless", ub ?? "dimensionless")
    }

    /// E0230 when a number attribute declared without a unit meets a value that has one: the
    /// threshold would be read in an unknown unit.
    private func unitlessAttribute(_ a: Checked, _ b: Checked, _ e: Expression, _ d: inout DiagnosticBag) -> Bool {
        for (attribute, other) in [(a, b), (b, a)] {
            guard case .attribute(let name) = attribute.expr, case .number(nil) = attribute.type,
                case .number(let unit?) = other.type, !other.adaptable
            else { continue }
            d.error(
                .unitlessAttribute, "attribute '\(name)' has no unit; it cannot be compared with \(unit)", at: e.range,
                hint: "declare its unit: attributes: { \(name): { type: number, unit: \(unit) } }")
            return true
        }
        return false
    }

    /// A `30%` literal facing a dimensionless value becomes the ratio 0.30.
    private func adapt(_ literal: Checked, to other: Checked) -> Checked {
        guard literal.percent, case .number(let unit) = other.type, unit == nil || unit == "ratio", !other.percent
        else { return literal }
        var c = literal
        if case .constant(.number(let n)) = literal.expr {
            c.expr = .constant(.number(n / 100))
            c.bounds = (n / 100)...(n / 100)
        }
        c.type = .number(unit: unit)
        return c
    }

    private mutating func comparison(
        _ op: BinaryOperator, _ a0: Checked, _ b0: Checked, _ e: Expression, _ d: inout DiagnosticBag
    ) -> Checked? {
        let a = adapt(a0, to: b0)
        let b = adapt(b0, to: a0)
        let cop = ComparisonOperator(rawValue: op.rawValue)!
        let ordering = op != .equal && op != .notEqual
        switch (a.type, b.type) {
        case (.number, .number):
            if unitlessAttribute(a, b, e, &d) { return nil }
            if let (ua, ub) = unitMismatch(a, b) {
                d.error(
                    .unitMismatch, "cannot compare \(ua) with \(ub)", at: e.range,
                    hint: a.percent || b.percent
                        ? "`%` makes a percentage; write the value in \(a.percent ? ub : ua)"
                        : "convert one side so both are in the same unit")
                return nil
            }
        case (.duration, .number), (.number, .duration):
            d.error(
                .typeMismatch, "cannot compare a duration with a number", at: e.range,
                hint: "write a duration such as 10m, 1h or 7d")
            return nil
        case (.string, .version), (.version, .string):
            d.error(
                .typeMismatch, "cannot compare a string with a version", at: e.range,
                hint: "convert the attribute: version(firmware) < v\"2.4.1\"")
            return nil
        case (.string, .string):
            if ordering {
                d.error(
                    .typeMismatch, "strings can only be compared with == and !=", at: e.range,
                    hint: "for versions use version(firmware) < v\"2.4.1\"; for sets use `in`")
                return nil
            }
        case (.bool, .bool):
            if ordering {
                d.error(.typeMismatch, "booleans can only be compared with == and !=", at: e.range)
                return nil
            }
        case (.version, .version), (.duration, .duration), (.timestamp, .timestamp):
            break
        default:
            var hint: String?
            for (text, number) in [(a, b), (b, a)] where text.type == .string {
                if case .attribute(let name) = text.expr, case .constant(.number(let n)) = number.expr {
                    hint = "'\(name)' is text; write the number in quotes: \"\(JSONValue.format(n))\""
                }
            }
            d.error(.typeMismatch, "cannot compare a \(a.type) with a \(b.type)", at: e.range, hint: hint)
            return nil
        }
        var c = Checked(expr: .compare(cop, a.expr, b.expr), type: .bool, range: e.range)
        if let x = a.bounds, let y = b.bounds {
            c.truth = Self.truth(cop, x, y)
            if c.truth != .unknown {
                let subject = a.adaptable ? b : a
                var why = ""
                if case .window(_, let metric, _) = subject.expr, let r = scope.metrics[metric]?.range {
                    why =
                        ": \(metric) is declared in [\(JSONValue.format(r.lowerBound)), \(JSONValue.format(r.upperBound))]"
                } else {
                    subject.expr.visit { node in
                        if why.isEmpty, case .window(_, let metric, _) = node, let r = scope.metrics[metric]?.range {
                            why =
                                ": \(metric) is declared in [\(JSONValue.format(r.lowerBound)), \(JSONValue.format(r.upperBound))]"
                        }
                    }
                }
                c.reason = (e.range, "`\(e.rangeText)` \(c.truth == .never ? "can never hold" : "always holds")\(why)")
            }
        }
        return c
    }

    static func truth(_ op: ComparisonOperator, _ a: ClosedRange<Double>, _ b: ClosedRange<Double>) -> Checked.Truth {
        switch op {
        case .less:
            if a.upperBound < b.lowerBound { return .always }
            if a.lowerBound >= b.upperBound { return .never }
        case .lessEqual:
            if a.upperBound <= b.lowerBound { return .always }
            if a.lowerBound > b.upperBound { return .never }
        case .greater:
            if a.lowerBound > b.upperBound { return .always }
            if a.upperBound <= b.lowerBound { return .never }
        case .greaterEqual:
            if a.lowerBound >= b.upperBound { return .always }
            if a.upperBound < b.lowerBound { return .never }
        case .equal:
            if !a.overlaps(b) { return .never }
            if a.lowerBound == a.upperBound, b.lowerBound == b.upperBound, a == b { return .always }
        case .notEqual:
            if !a.overlaps(b) { return .always }
            if a.lowerBound == a.upperBound, b.lowerBound == b.upperBound, a == b { return .never }
        }
        return .unknown
    }

    private mutating func arithmetic(
        _ op: BinaryOperator, _ a0: Checked, _ b0: Checked, _ e: Expression, _ d: inout DiagnosticBag
    ) -> Checked? {
        let a = adapt(a0, to: b0)
        let b = adapt(b0, to: a0)
        let aop = ArithmeticOperator(rawValue: op.rawValue)!
        var c = Checked(expr: .arithmetic(aop, a.expr, b.expr), type: a.type, range: e.range)
        switch (a.type, b.type) {
        case (.number(let ua), .number(let ub)):
            switch op {
            case .add, .subtract:
                if unitlessAttribute(a, b, e, &d) { return nil }
                if let (x, y) = unitMismatch(a, b) {
                    d.error(
                        .unitMismatch, "cannot \(op == .add ? "add" : "subtract") \(x) and \(y)", at: e.range,
                        hint: "both sides of '\(op.rawValue)' need the same unit; compare them separately instead")
                    return nil
                }
                c.type = .number(unit: a.adaptable ? ub : ua)
            case .multiply:
                c.type = .number(unit: a.adaptable ? ub : b.adaptable ? ua : Self.product(ua, ub))
            default:
                c.type = .number(unit: b.adaptable ? ua : ua == ub ? nil : Self.quotient(ua, ub))
            }
            c.adaptable = a.adaptable && b.adaptable
            if let x = a.bounds, let y = b.bounds { c.bounds = Self.interval(aop, x, y) }
        case (.duration, .duration) where op == .add || op == .subtract:
            c.type = .duration
        case (.duration, .number) where (op == .multiply || op == .divide) && b.adaptable:
            c.type = .duration
        case (.number, .duration) where op == .multiply && a.adaptable:
            c.type = .duration
        case (.timestamp, .duration) where op == .add || op == .subtract:
            c.type = .timestamp
        case (.timestamp, .timestamp) where op == .subtract:
            c.type = .duration
        default:
            d.error(.typeMismatch, "cannot apply '\(op.rawValue)' to a \(a.type) and a \(b.type)", at: e.range)
            return nil
        }
        return c
    }

    static func product(_ a: String?, _ b: String?) -> String? {
        switch (a, b) {
        case (nil, let x), (let x, nil): x
        case (let x?, let y?): "\(x)*\(y)"
        }
    }

    static func quotient(_ a: String?, _ b: String?) -> String? {
        switch (a, b) {
        case (let x, nil): x
        case (nil, let y?): "1/\(y)"
        case (let x?, let y?): "\(x)/\(y)"
        }
    }

    static func interval(_ op: ArithmeticOperator, _ a: ClosedRange<Double>, _ b: ClosedRange<Double>)
        -> ClosedRange<Double>?
    {
        func make(_ values: [Double]) -> ClosedRange<Double>? {
            guard values.allSatisfy({ !$0.isNaN }), let lo = values.min(), let hi = values.max() else { return nil }
            return lo...hi
        }
        switch op {
        case .add: return make([a.lowerBound + b.lowerBound, a.upperBound + b.upperBound])
        case .subtract: return make([a.lowerBound - b.upperBound, a.upperBound - b.lowerBound])
        case .multiply:
            return make([
                a.lowerBound * b.lowerBound, a.lowerBound * b.upperBound, a.upperBound * b.lowerBound,
                a.upperBound * b.upperBound,
            ])
        case .divide:
            guard b.lowerBound > 0 || b.upperBound < 0 else { return nil }
            return make([
                a.lowerBound / b.lowerBound, a.lowerBound / b.upperBound, a.upperBound / b.lowerBound,
                a.upperBound / b.upperBound,
            ])
        }
    }
}

extension Expression {
    /// The expression re-printed from its tree, for messages.
    var rangeText: String {
        switch kind {
        case .number(let n, let p): JSONValue.format(n) + (p ? "%" : "")
        case .string(let s): JSONValue.string(s).serialized()
        case .duration(let s): DurationText.format(s)
        case .version(let v): "v\"\(v)\""
        case .bool(let b): b ? "true" : "false"
        case .identifier(let n): n
        case .list(let items): "[" + items.map(\.rangeText).joined(separator: ", ") + "]"
        case .call(let n, let args): "\(n)(" + args.map(\.rangeText).joined(separator: ", ") + ")"
        case .unary(.not, let e): "not \(e.rangeText)"
        case .unary(.negate, let e): "-\(e.rangeText)"
        case .binary(let op, let a, let b): "\(a.rangeText) \(op.rawValue) \(b.rangeText)"
        }
    }
}
