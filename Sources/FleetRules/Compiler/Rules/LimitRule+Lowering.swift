extension LimitRule {
    /// A limit is the condition `last(metric) < min or last(metric) > max`, held for `for`.
    var evaluation: RuleOperator.Evaluation {
        let last = TypedExpression.window(.last, metric: metric, seconds: nil)
        var parts: [TypedExpression] = []
        if let lo = low { parts.append(.compare(.less, last, .constant(.number(lo)))) }
        if let hi = high { parts.append(.compare(.greater, last, .constant(.number(hi)))) }
        let condition = parts.dropFirst().reduce(parts[0]) { .or($0, $1) }
        return .condition(condition: condition, forDuration: forDuration, clear: nil)
    }
}
