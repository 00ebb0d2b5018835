import Foundation

/// A value during evaluation; `nil` (no data) stands beside it as Optional.
enum RuntimeValue: Sendable {
    case number(Double)
    case string(String)
    case bool(Bool)
    case version(Version)
    case duration(Double)
    case timestamp(Double)

    var number: Double? {
        switch self {
        case .number(let n), .duration(let n), .timestamp(let n): n
        // A number attribute is inventory text; an empty or non-numeric column has no value.
        case .string(let s): Double(s).flatMap { $0.isFinite ? $0 : nil }
        default: nil
        }
    }
}

/// A compiled regular expression; NSRegularExpression is immutable and safe to share.
final class CompiledRegex: @unchecked Sendable {
    let regex: NSRegularExpression?
    init(_ pattern: String) { regex = try? NSRegularExpression(pattern: pattern) }
    func matches(_ s: String) -> Bool {
        guard let regex else { return false }
        return regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }
}

/// A typed expression with names resolved to slots: attributes to device attribute slots,
/// window functions to shared aggregate ids.
indirect enum RuntimeExpression: Sendable {
    case constant(RuntimeValue)
    case attribute(Int)
    case now
    case aggregate(Int)
    case toVersion(RuntimeExpression)
    case satisfies(RuntimeExpression, VersionRange)
    case not(RuntimeExpression)
    case and(RuntimeExpression, RuntimeExpression)
    case or(RuntimeExpression, RuntimeExpression)
    case compare(ComparisonOperator, RuntimeExpression, RuntimeExpression)
    /// A comparison whose sides are numbers by construction: evaluated without boxing values.
    case compareNumbers(ComparisonOperator, RuntimeExpression, RuntimeExpression)
    case arithmetic(ArithmeticOperator, RuntimeExpression, RuntimeExpression)
    case negate(RuntimeExpression)
    case abs(RuntimeExpression)
    case memberStrings(RuntimeExpression, Set<String>)
    case memberNumbers(RuntimeExpression, Set<Double>)
    case matches(RuntimeExpression, CompiledRegex)

    /// Lowers a typed expression; `attributeSlot` and `aggregateId` resolve names.
    init(_ e: TypedExpression, attributeSlot: (String) -> Int, aggregateId: (WindowRef) -> Int) {
        func lower(_ e: TypedExpression) -> RuntimeExpression {
            RuntimeExpression(e, attributeSlot: attributeSlot, aggregateId: aggregateId)
        }
        switch e {
        case .constant(let c):
            switch c {
            case .number(let n): self = .constant(.number(n))
            case .string(let s): self = .constant(.string(s))
            case .bool(let b): self = .constant(.bool(b))
            case .duration(let d): self = .constant(.duration(d))
            case .version(let v): self = .constant(.version(v))
            }
        case .attribute(let name): self = .attribute(attributeSlot(name))
        case .now: self = .now
        case .window(let f, let m, let s): self = .aggregate(aggregateId(WindowRef(function: f, metric: m, seconds: s)))
        case .toVersion(let x): self = .toVersion(lower(x))
        case .satisfies(let x, let r): self = .satisfies(lower(x), r)
        case .not(let x): self = .not(lower(x))
        case .and(let a, let b): self = .and(lower(a), lower(b))
        case .or(let a, let b): self = .or(lower(a), lower(b))
        case .compare(let op, let a, let b):
            self =
                Self.isNumeric(a) && Self.isNumeric(b)
                ? .compareNumbers(op, lower(a), lower(b)) : .compare(op, lower(a), lower(b))
        case .arithmetic(let op, let a, let b): self = .arithmetic(op, lower(a), lower(b))
        case .negate(let x): self = .negate(lower(x))
        case .abs(let x): self = .abs(lower(x))
        case .member(let x, let items):
            var strings: Set<String> = []
            var numbers: Set<Double> = []
            for item in items {
                switch item {
                case .string(let s): strings.insert(s)
                case .number(let n): numbers.insert(n)
                default: break
                }
            }
            self = numbers.isEmpty ? .memberStrings(lower(x), strings) : .memberNumbers(lower(x), numbers)
        case .matches(let x, let p): self = .matches(lower(x), CompiledRegex(p))
        }
    }
}

extension RuntimeExpression {
    /// Whether a typed expression is a number (or duration, or time) by its shape alone.
    static func isNumeric(_ e: TypedExpression) -> Bool {
        switch e {
        case .constant(.number), .constant(.duration), .now, .arithmetic, .negate, .abs: true
        case .window(let f, _, _): f != .absent
        default: false
        }
    }
}

/// Where an expression reads its inputs: one device at one event time.
protocol EvaluationInputs {
    func attribute(_ slot: Int) -> String?
    mutating func aggregate(_ id: Int) -> RuntimeValue?
    var now: Double { get }
}

extension RuntimeExpression {
    /// Kleene three-valued evaluation: nil means "no data", which never makes a condition true.
    func evaluate<I: EvaluationInputs>(_ inputs: inout I) -> RuntimeValue? {
        switch self {
        case .constant(let v): return v
        case .attribute(let slot): return inputs.attribute(slot).map { .string($0) }
        case .now: return .timestamp(inputs.now)
        case .aggregate(let id): return inputs.aggregate(id)
        case .toVersion(let x):
            guard case .string(let s)? = x.evaluate(&inputs), let v = Version(parsing: s) else { return nil }
            return .version(v)
        case .satisfies(let x, let range):
            switch x.evaluate(&inputs) {
            case .version(let v)?: return .bool(range.isSatisfied(by: v))
            case .string(let s)?: return Version(parsing: s).map { .bool(range.isSatisfied(by: $0)) }
            default: return nil
            }
        case .not(let x):
            guard case .bool(let b)? = x.evaluate(&inputs) else { return nil }
            return .bool(!b)
        case .and(let a, let b):
            let l = a.evaluate(&inputs)
            if case .bool(false)? = l { return .bool(false) }
            let r = b.evaluate(&inputs)
            if case .bool(false)? = r { return .bool(false) }
            if case .bool(true)? = l, case .bool(true)? = r { return .bool(true) }
            return nil
        case .or(let a, let b):
            let l = a.evaluate(&inputs)
            if case .bool(true)? = l { return .bool(true) }
            let r = b.evaluate(&inputs)
            if case .bool(true)? = r { return .bool(true) }
            if case .bool(false)? = l, case .bool(false)? = r { return .bool(false) }
            return nil
        case .compare(let op, let a, let b):
            guard let l = a.evaluate(&inputs), let r = b.evaluate(&inputs) else { return nil }
            return Self.compare(op, l, r).map { .bool($0) }
        case .compareNumbers(let op, let a, let b):
            guard let l = a.number(&inputs), let r = b.number(&inputs), !l.isNaN, !r.isNaN else { return nil }
            return .bool(Self.order(op, l, r))
        case .arithmetic(let op, let a, let b):
            guard let l = a.evaluate(&inputs), let r = b.evaluate(&inputs) else { return nil }
            return Self.arithmetic(op, l, r)
        case .negate(let x):
            guard case .number(let n)? = x.evaluate(&inputs) else { return nil }
            return .number(-n)
        case .abs(let x):
            guard case .number(let n)? = x.evaluate(&inputs) else { return nil }
            return .number(Swift.abs(n))
        case .memberStrings(let x, let set):
            guard case .string(let s)? = x.evaluate(&inputs) else { return nil }
            return .bool(set.contains(s))
        case .memberNumbers(let x, let set):
            guard case .number(let n)? = x.evaluate(&inputs) else { return nil }
            return .bool(set.contains(n))
        case .matches(let x, let regex):
            guard case .string(let s)? = x.evaluate(&inputs) else { return nil }
            return .bool(regex.matches(s))
        }
    }

    /// A numeric subtree's value without boxing it; nil for no data.
    func number<I: EvaluationInputs>(_ inputs: inout I) -> Double? {
        switch self {
        case .constant(.number(let n)), .constant(.duration(let n)), .constant(.timestamp(let n)): return n
        case .now: return inputs.now
        case .aggregate(let id): return inputs.aggregate(id)?.number
        case .negate(let x): return x.number(&inputs).map { -$0 }
        case .abs(let x): return x.number(&inputs).map { Swift.abs($0) }
        default: return evaluate(&inputs)?.number
        }
    }

    /// A condition's truth without boxing values: 1 true, 0 false, 2 no data.
    func truth<I: EvaluationInputs>(_ inputs: inout I) -> UInt8 {
        switch self {
        case .compareNumbers(let op, let a, let b):
            guard let l = a.number(&inputs), let r = b.number(&inputs), !l.isNaN, !r.isNaN else { return 2 }
            return Self.order(op, l, r) ? 1 : 0
        case .and(let a, let b):
            let l = a.truth(&inputs)
            if l == 0 { return 0 }
            let r = b.truth(&inputs)
            if r == 0 { return 0 }
            return l == 1 && r == 1 ? 1 : 2
        case .or(let a, let b):
            let l = a.truth(&inputs)
            if l == 1 { return 1 }
            let r = b.truth(&inputs)
            if r == 1 { return 1 }
            return l == 0 && r == 0 ? 0 : 2
        case .not(let x):
            let v = x.truth(&inputs)
            return v == 2 ? 2 : 1 - v
        default:
            switch evaluate(&inputs) {
            case .bool(true)?: return 1
            case .bool(false)?: return 0
            default: return 2
            }
        }
    }

    static func compare(_ op: ComparisonOperator, _ l: RuntimeValue, _ r: RuntimeValue) -> Bool? {
        switch (l, r) {
        case (.string(let a), .string(let b)):
            switch op {
            case .equal: return a == b
            case .notEqual: return a != b
            default: return nil
            }
        case (.bool(let a), .bool(let b)):
            switch op {
            case .equal: return a == b
            case .notEqual: return a != b
            default: return nil
            }
        case (.version(let a), .version(let b)):
            return order(op, a, b)
        default:
            guard let a = l.number, let b = r.number, !a.isNaN, !b.isNaN else { return nil }
            return order(op, a, b)
        }
    }

    static func order<T: Comparable>(_ op: ComparisonOperator, _ a: T, _ b: T) -> Bool {
        switch op {
        case .equal: a == b
        case .notEqual: a != b
        case .less: a < b
        case .lessEqual: a <= b
        case .greater: a > b
        case .greaterEqual: a >= b
        }
    }

    static func arithmetic(_ op: ArithmeticOperator, _ l: RuntimeValue, _ r: RuntimeValue) -> RuntimeValue? {
        guard let a = l.number, let b = r.number else { return nil }
        let v: Double
        switch op {
        case .add: v = a + b
        case .subtract: v = a - b
        case .multiply: v = a * b
        case .divide:
            guard b != 0 else { return nil }
            v = a / b
        }
        switch (l, r) {
        case (.timestamp, .duration): return .timestamp(v)
        case (.timestamp, .timestamp): return .duration(v)
        case (.duration, _), (_, .duration): return .duration(v)
        default: return .number(v)
        }
    }
}
