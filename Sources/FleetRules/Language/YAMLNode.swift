/// A YAML node with the source range it came from; the loader's output and the decoder's input.
public struct YAMLNode: Sendable {
    /// How a scalar was written, which decides whether `20` is a number or the string "20".
    public enum ScalarStyle: Sendable, Hashable {
        case plain, singleQuoted, doubleQuoted, literal, folded
    }

    public enum Kind: Sendable {
        case scalar(String, ScalarStyle)
        case mapping([YAMLEntry])
        case sequence([YAMLNode])
    }

    public var kind: Kind
    /// For a mapping or sequence, where it starts (its first key or `[`/`{`), not where it ends.
    public var range: SourceRange
    public var tag: String?

    public init(_ kind: Kind, range: SourceRange, tag: String? = nil) {
        self.kind = kind
        self.range = range
        self.tag = tag
    }

    /// The position of the node's first character: what diagnostics about the node point at.
    public var start: SourcePosition { range.start }

    /// True for a plain `null`, `~` or empty scalar.
    public var isNull: Bool {
        if case .scalar(let s, .plain) = kind, tag == nil {
            return s.isEmpty || s == "~" || s == "null" || s == "Null" || s == "NULL"
        }
        return false
    }

    /// A human word for the node's type, used in "expected X, found Y".
    public var typeDescription: String {
        switch kind {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let s, let style):
            if isNull { return "null" }
            if style != .plain { return "a string" }
            if s == "true" || s == "false" { return "a boolean" }
            if Double(s) != nil { return "a number" }
            return "a string"
        }
    }
}

/// A key/value pair of a YAML mapping, in document order.
public struct YAMLEntry: Sendable {
    public var key: YAMLNode
    public var value: YAMLNode

    /// The key as text (non-scalar keys are rejected by the loader).
    public var name: String {
        if case .scalar(let s, _) = key.kind { return s }
        return ""
    }
}
