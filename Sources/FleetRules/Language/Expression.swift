/// An expression as written, with source ranges: the parser's output, the checker's input.
public struct Expression: Sendable, Hashable {
    public indirect enum Kind: Sendable, Hashable {
        /// `20`, `2.5`, or `30%` (`percent` true, value 30).
        case number(Double, percent: Bool)
        case string(String)
        /// A duration literal in seconds (`10m` is 600).
        case duration(Double)
        /// `v"2.4.1"`: the text between the quotes.
        case version(String)
        case bool(Bool)
        case identifier(String)
        case list([Expression])
        case call(String, [Expression])
        case unary(UnaryOperator, Expression)
        case binary(BinaryOperator, Expression, Expression)
    }

    public var kind: Kind
    public var range: SourceRange

    public init(_ kind: Kind, _ range: SourceRange) {
        self.kind = kind
        self.range = range
    }
}

public enum UnaryOperator: String, Sendable, Hashable {
    case not, negate = "-"
}

public enum BinaryOperator: String, Sendable, Hashable, CaseIterable {
    case or, and
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case `in`, matches
    case add = "+", subtract = "-", multiply = "*", divide = "/"

    var precedence: Int {
        switch self {
        case .or: 1
        case .and: 2
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .in, .matches: 4
        case .add, .subtract: 5
        case .multiply, .divide: 6
        }
    }

    var isComparison: Bool { precedence == 4 }
}

/// Maps a character offset inside a YAML scalar's value back to a file position.
public struct ScalarLocator: Sendable {
    public var file: String
    /// Source position of each line of the value (block scalars span several lines).
    var lineStarts: [SourcePosition]

    /// For a scalar node: plain and quoted scalars map column by column from their start;
    /// literal/folded blocks map each value line to its source line.
    public init(node: YAMLNode, sourceLines: [Substring]) {
        file = node.range.file
        guard case .scalar(let value, let style) = node.kind else {
            lineStarts = [node.start]
            return
        }
        switch style {
        case .plain:
            lineStarts = [node.start]
        case .singleQuoted, .doubleQuoted:
            lineStarts = [SourcePosition(line: node.start.line, column: node.start.column + 1)]
        case .literal, .folded:
            // Content begins on the line after the `|`/`>` indicator, at the block's indentation.
            var starts: [SourcePosition] = []
            var line = node.start.line + 1
            var indent: Int?
            for _ in value.split(separator: "\n", omittingEmptySubsequences: false) {
                guard line - 1 < sourceLines.count else { break }
                let text = sourceLines[line - 1]
                let leading = text.prefix { $0 == " " }.count
                if indent == nil, leading < text.count { indent = leading }
                starts.append(SourcePosition(line: line, column: (indent ?? leading) + 1))
                line += 1
            }
            lineStarts = starts.isEmpty ? [node.start] : starts
        }
    }

    public init(file: String, start: SourcePosition) {
        self.file = file
        lineStarts = [start]
    }

    /// The file position of the scalar at `line` (0-based, within the value) and `column` (0-based).
    func position(line: Int, column: Int) -> SourcePosition {
        let base = lineStarts[min(line, lineStarts.count - 1)]
        return SourcePosition(line: base.line, column: base.column + column)
    }
}
