/// The type of an expression's value; numbers carry their unit (nil: dimensionless).
public enum ValueType: Sendable, Hashable, CustomStringConvertible {
    case number(unit: String?)
    case bool, string, version, duration, timestamp
    indirect case list(ValueType)

    public var description: String {
        switch self {
        case .number(let unit): unit.map { "number (\($0))" } ?? "number"
        case .bool: "boolean"
        case .string: "string"
        case .version: "version"
        case .duration: "duration"
        case .timestamp: "timestamp"
        case .list(let e): "list of \(e)"
        }
    }
}

/// The window functions of the language, applied to one metric of one device.
public enum WindowFunction: String, Sendable, Hashable, CaseIterable {
    case last, avg, min, max, sum, count, stddev, p50, p90, p95, p99, delta, rate, slope, age, absent

    /// Whether the function takes a window duration as its second argument.
    public var takesWindow: Bool { self != .last && self != .age }

    public var doc: String {
        switch self {
        case .last: "the latest value"
        case .avg: "mean over the window"
        case .min: "smallest value in the window"
        case .max: "largest value in the window"
        case .sum: "sum over the window"
        case .count: "number of readings in the window"
        case .stddev: "standard deviation over the window"
        case .p50, .p90, .p95, .p99: "percentile over the window"
        case .delta: "last minus first value in the window"
        case .rate: "change per hour over the window (from the first and last readings)"
        case .slope: "least-squares trend per hour over the window"
        case .age: "time since the latest reading"
        case .absent: "true when the window holds no reading"
        }
    }
}

public enum ComparisonOperator: String, Sendable, Hashable {
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
}

public enum ArithmeticOperator: String, Sendable, Hashable {
    case add = "+", subtract = "-", multiply = "*", divide = "/"
}

/// A constant value of the language.
public enum Constant: Sendable, Hashable, CustomStringConvertible {
    case number(Double), string(String), bool(Bool), duration(Double), version(Version)

    public var description: String {
        switch self {
        case .number(let n): JSONValue.format(n)
        case .string(let s): JSONValue.string(s).serialized()
        case .bool(let b): b ? "true" : "false"
        case .duration(let d): DurationText.format(d)
        case .version(let v): "v\"\(v)\""
        }
    }
}

/// A checked expression: names resolved, macros expanded, lists inlined, percentages converted.
/// This is what the compiler lowers into the evaluation plan.
public indirect enum TypedExpression: Sendable, Hashable, CustomStringConvertible {
    case constant(Constant)
    case attribute(String)
    case now
    case window(WindowFunction, metric: String, seconds: Double?)
    case toVersion(TypedExpression)
    case satisfies(TypedExpression, VersionRange)
    case not(TypedExpression)
    case and(TypedExpression, TypedExpression)
    case or(TypedExpression, TypedExpression)
    case compare(ComparisonOperator, TypedExpression, TypedExpression)
    case arithmetic(ArithmeticOperator, TypedExpression, TypedExpression)
    case negate(TypedExpression)
    case abs(TypedExpression)
    case member(TypedExpression, [Constant])
    case matches(TypedExpression, pattern: String)

    /// Canonical text: equal conditions print equally, which is how shadowed rules are found.
    public var description: String {
        var out = ""
        write(to: &out)
        return out
    }

    /// Appends the canonical text to one buffer, so printing takes time linear in the tree's size.
    /// Recursive: the checker bounds the depth of every tree (`ExpressionChecker.maxExpandedDepth`).
    private func write(to out: inout String) {
        switch self {
        case .constant(let c): out += c.description
        case .attribute(let a): out += a
        case .now: out += "now"
        case .window(let f, let m, let s): out += s.map { "\(f)(\(m), \(DurationText.format($0)))" } ?? "\(f)(\(m))"
        case .toVersion(let e):
            out += "version("
            e.write(to: &out)
            out += ")"
        case .satisfies(let e, let r):
            out += "satisfies("
            e.write(to: &out)
            out += ", \(JSONValue.string(r.source).serialized()))"
        case .not(let e):
            out += "not ("
            e.write(to: &out)
            out += ")"
        case .and(let a, let b):
            out += "("
            a.write(to: &out)
            out += " and "
            b.write(to: &out)
            out += ")"
        case .or(let a, let b):
            out += "("
            a.write(to: &out)
            out += " or "
            b.write(to: &out)
            out += ")"
        case .compare(let op, let a, let b):
            a.write(to: &out)
            out += " \(op.rawValue) "
            b.write(to: &out)
        case .arithmetic(let op, let a, let b):
            out += "("
            a.write(to: &out)
            out += " \(op.rawValue) "
            b.write(to: &out)
            out += ")"
        case .negate(let e):
            out += "-("
            e.write(to: &out)
            out += ")"
        case .abs(let e):
            out += "abs("
            e.write(to: &out)
            out += ")"
        case .member(let e, let items):
            e.write(to: &out)
            out += " in [\(items.map(\.description).joined(separator: ", "))]"
        case .matches(let e, let p):
            e.write(to: &out)
            out += " matches \(JSONValue.string(p).serialized())"
        }
    }

    /// Every window aggregate the expression reads, in first-use order.
    public var windows: [WindowRef] {
        var out: [WindowRef] = []
        visit { e in
            if case .window(let f, let m, let s) = e {
                let ref = WindowRef(function: f, metric: m, seconds: s)
                if !out.contains(ref) { out.append(ref) }
            }
        }
        return out
    }

    /// Every inventory attribute the expression reads.
    public var attributes: Set<String> {
        var out: Set<String> = []
        visit { if case .attribute(let a) = $0 { out.insert(a) } }
        return out
    }

    /// Calls `body` on this node and every sub-expression, parents first.
    public func visit(_ body: (TypedExpression) -> Void) {
        body(self)
        switch self {
        case .constant, .attribute, .now, .window: break
        case .toVersion(let e), .satisfies(let e, _), .not(let e), .negate(let e), .abs(let e), .member(let e, _),
            .matches(let e, _):
            e.visit(body)
        case .and(let a, let b), .or(let a, let b), .compare(_, let a, let b), .arithmetic(_, let a, let b):
            a.visit(body)
            b.visit(body)
        }
    }
}

/// One window aggregate: a function of a metric over a duration.
public struct WindowRef: Sendable, Hashable, CustomStringConvertible {
    public var function: WindowFunction
    public var metric: String
    public var seconds: Double?

    public var description: String {
        seconds.map { "\(function)(\(metric), \(DurationText.format($0)))" } ?? "\(function)(\(metric))"
    }
}
