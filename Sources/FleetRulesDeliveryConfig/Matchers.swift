import FleetRules
import Foundation

extension DeliveryConfig {
    /// One condition on an alert's labels, in Alertmanager's four forms: `=`, `!=`, `=~`, `!~`.
    /// A label the alert lacks reads as the empty string, as in Alertmanager; regular
    /// expressions are anchored at both ends. The `match:` form `label: value` or
    /// `label: [a, b]` is an `=` matcher with any of the values, and needs the label present.
    public struct Matcher: Sendable, Hashable {
        public enum Operator: String, Sendable, CaseIterable {
            case equal = "="
            case notEqual = "!="
            case regex = "=~"
            case notRegex = "!~"

            public var isRegex: Bool { self == .regex || self == .notRegex }
            public var isEqual: Bool { self == .equal || self == .regex }

            public init(isRegex: Bool, isEqual: Bool) {
                switch (isRegex, isEqual) {
                case (false, true): self = .equal
                case (false, false): self = .notEqual
                case (true, true): self = .regex
                case (true, false): self = .notRegex
                }
            }
        }

        public var label: String
        public var values: [String]
        public var op: Operator
        /// The anchored expression of a regex matcher.
        let pattern: AnchoredPattern?
        /// The `match:` form: the label must be present.
        var requiresLabel: Bool

        /// The `match:` form: the label is present with one of `values`.
        public init(label: String, values: [String]) {
            self.label = label
            self.values = values
            op = .equal
            pattern = nil
            requiresLabel = true
        }

        /// An Alertmanager matcher; nil when `op` is a regex operator and `value` does not compile.
        public init?(name: String, op: Operator, value: String) {
            label = name
            values = [value]
            self.op = op
            requiresLabel = false
            if op.isRegex {
                guard let p = AnchoredPattern(value) else { return nil }
                pattern = p
            } else {
                pattern = nil
            }
        }

        public var value: String { values.first ?? "" }

        public func matches(_ labels: [String: String]) -> Bool {
            let present = labels[label]
            if requiresLabel && present == nil { return false }
            let v = present ?? ""
            switch op {
            case .equal: return values.contains(v)
            case .notEqual: return !values.contains(v)
            case .regex: return pattern?.matches(v) ?? false
            case .notRegex: return !(pattern?.matches(v) ?? false)
            }
        }

        /// `name="value"`, `name=~"a|b"`, …, as amtool and Alertmanager's configuration write it.
        public var description: String {
            let quoted = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\(label)\(op.rawValue)\"\(quoted)\""
        }
    }
}

/// A regular expression matched against the whole value (`^(?:pattern)$`).
struct AnchoredPattern: Sendable, Hashable {
    let source: String
    let regex: SharedRegex

    init?(_ source: String) {
        guard let r = try? NSRegularExpression(pattern: "^(?:\(source))$", options: []) else { return nil }
        self.source = source
        regex = SharedRegex(r)
    }

    func matches(_ value: String) -> Bool {
        let range = NSRange(value.startIndex..<value.endIndex, in: value)
        return regex.regex.firstMatch(in: value, options: [], range: range) != nil
    }

    static func == (a: AnchoredPattern, b: AnchoredPattern) -> Bool { a.source == b.source }
    func hash(into h: inout Hasher) { h.combine(source) }
}

/// NSRegularExpression is immutable after creation and safe to match from any thread.
final class SharedRegex: @unchecked Sendable {
    let regex: NSRegularExpression
    init(_ regex: NSRegularExpression) { self.regex = regex }
}

extension ConfigReader {
    /// `matchers:` — a list of Alertmanager matchers, each either the API's shape
    /// `{ name: severity, value: "warning|critical", isRegex: true, isEqual: true }` or the
    /// configuration's string form `severity=~"warning|critical"`.
    mutating func alertmanagerMatchers(_ node: YAMLNode, _ place: String) -> [DeliveryConfig.Matcher] {
        guard let items = bag.sequence(node, place) else { return [] }
        return items.compactMap { item in
            if case .scalar = item.kind { return matcherText(item, place) }
            return matcherObject(item, place)
        }
    }

    mutating func matcherObject(_ node: YAMLNode, _ place: String) -> DeliveryConfig.Matcher? {
        guard
            let f = bag.fields(
                node, in: "a matcher", known: ["name", "value", "isRegex", "isEqual"], required: ["name", "value"])
        else { return nil }
        let name = f["name"].flatMap { labelName($0.value) }
        let value = f["value"].flatMap { bag.string($0.value, "matcher value") }
        let isRegex = f["isRegex"].map { bag.bool($0.value, "isRegex") } ?? false
        let isEqual = f["isEqual"].map { bag.bool($0.value, "isEqual") } ?? true
        guard let name, let value, let isRegex, let isEqual else { return nil }
        return compile(
            name, .init(isRegex: isRegex, isEqual: isEqual), value, at: f["value"]?.value.range ?? node.range)
    }

    /// `name op "value"` (the quotes are optional; `\"` and `\\` escape inside them).
    mutating func matcherText(_ node: YAMLNode, _ place: String) -> DeliveryConfig.Matcher? {
        guard let text = bag.string(node, "a matcher") else { return nil }
        guard let parsed = MatcherText.parse(text) else {
            bag.error(
                .invalidMatcher, "invalid matcher '\(text)' in \(place)", at: node.range,
                hint: #"write name, an operator (=, !=, =~ or !~) and a value: severity=~"warning|critical""#)
            return nil
        }
        guard MatcherText.isLabelName(parsed.name) else {
            bag.error(
                .invalidMatcher, "invalid label name '\(parsed.name)' in matcher '\(text)'", at: node.range,
                hint: "a label name is letters, digits and '_', not starting with a digit")
            return nil
        }
        return compile(parsed.name, parsed.op, parsed.value, at: node.range)
    }

    mutating func compile(_ name: String, _ op: DeliveryConfig.Matcher.Operator, _ value: String, at range: SourceRange)
        -> DeliveryConfig.Matcher?
    {
        guard let m = DeliveryConfig.Matcher(name: name, op: op, value: value) else {
            bag.error(
                .invalidMatcher, "the regular expression '\(value)' of label '\(name)' does not compile", at: range,
                hint:
                    "matchers use regular expressions anchored at both ends; escape literal characters such as ( [ . with \\"
            )
            return nil
        }
        return m
    }

    mutating func labelName(_ node: YAMLNode) -> String? {
        guard let s = bag.string(node, "matcher name") else { return nil }
        guard MatcherText.isLabelName(s) else {
            bag.error(
                .invalidMatcher, "invalid label name '\(s)' in a matcher", at: node.range,
                hint: "a label name is letters, digits and '_', not starting with a digit")
            return nil
        }
        return s
    }
}

/// The text form of a matcher.
public enum MatcherText {
    public static func parse(_ text: String) -> (name: String, op: DeliveryConfig.Matcher.Operator, value: String)? {
        let s = Array(text.trimmingCharacters(in: .whitespaces))
        guard let opStart = s.firstIndex(where: { $0 == "=" || $0 == "!" }) else { return nil }
        let name = String(s[..<opStart]).trimmingCharacters(in: .whitespaces)
        var i = opStart
        let op: DeliveryConfig.Matcher.Operator
        let two = i + 1 < s.count ? String(s[i...(i + 1)]) : String(s[i])
        switch two {
        case "!=": op = .notEqual
        case "=~": op = .regex
        case "!~": op = .notRegex
        default:
            guard s[i] == "=" else { return nil }
            op = .equal
        }
        i += op.rawValue.count
        let rest = String(s[i...]).trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { return nil }
        guard rest.hasPrefix("\"") else {
            // Unquoted: the rest as written (no quotes inside).
            return rest.contains("\"") ? nil : (name, op, rest)
        }
        var value = ""
        var escaped = false
        var closed = false
        for c in rest.dropFirst() {
            if closed { return nil }
            if escaped {
                value.append(c == "n" ? "\n" : c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "\"" {
                closed = true
            } else {
                value.append(c)
            }
        }
        return closed ? (name, op, value) : nil
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, the label names Alertmanager accepts.
    public static func isLabelName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else {
            return false
        }
        return s.unicodeScalars.allSatisfy {
            $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
        }
    }
}
