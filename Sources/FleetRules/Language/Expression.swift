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
    /// Source position of every Unicode scalar of the value, traced through line folding and
    /// escapes; empty when the value could not be traced (then `lineStarts` is used).
    var scalarPositions: [SourcePosition] = []
    /// Offset in the value where each of its lines (split at "\n") starts.
    var valueLineOffsets: [Int] = [0]

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
        if let traced = Self.trace(value, style, node.start, sourceLines) {
            scalarPositions = traced
            valueLineOffsets = [0]
            for (i, c) in value.unicodeScalars.enumerated() where c == "\n" { valueLineOffsets.append(i + 1) }
        }
    }

    /// Walks the value and its source text together: folded line breaks and indentation are
    /// skipped in the source, `\x` escapes and `''` map several source characters to one.
    static func trace(
        _ value: String, _ style: YAMLNode.ScalarStyle, _ start: SourcePosition, _ sourceLines: [Substring]
    ) -> [SourcePosition]? {
        let v = Array(value.unicodeScalars)
        guard !v.isEmpty else { return nil }
        var out: [SourcePosition] = []
        out.reserveCapacity(v.count)
        var line = start.line
        var k = start.column - 1
        switch style {
        case .plain: break
        case .singleQuoted, .doubleQuoted: k += 1
        case .literal, .folded:
            line += 1
            k = 0
        }
        var last = SourcePosition(line: start.line, column: start.column)
        var i = 0
        var src: [Unicode.Scalar] = []
        var srcLine = 0
        while i < v.count {
            guard line >= 1, line - 1 < sourceLines.count else { return nil }
            if srcLine != line {
                src = Array(sourceLines[line - 1].unicodeScalars)
                srcLine = line
            }
            let here = k < src.count ? src[k] : nil
            if let here, here == v[i], !(style == .doubleQuoted && here == "\\") {
                last = SourcePosition(line: line, column: k + 1)
                out.append(last)
                i += 1
                k += 1
            } else if v[i] == " " || v[i] == "\n" || v[i] == "\t" {
                // A folded line break or block indentation: no source character of its own.
                out.append(SourcePosition(line: last.line, column: last.column + 1))
                i += 1
            } else if here == nil || here == "\r" {
                line += 1
                k = 0
            } else if here == " " || here == "\t" {
                k += 1
            } else if style == .doubleQuoted, here == "\\" {
                let next = k + 1 < src.count ? src[k + 1] : nil
                if next == nil {
                    // An escaped line break continues the string on the next line.
                    line += 1
                    k = 0
                    continue
                }
                out.append(SourcePosition(line: line, column: k + 1))
                last = out[out.count - 1]
                i += 1
                k += next == "x" ? 4 : next == "u" ? 6 : next == "U" ? 10 : 2
            } else if style == .singleQuoted, here == "'", v[i] == "'", k + 1 < src.count, src[k + 1] == "'" {
                last = SourcePosition(line: line, column: k + 1)
                out.append(last)
                i += 1
                k += 2
            } else {
                return nil
            }
        }
        return out
    }

    public init(file: String, start: SourcePosition) {
        self.file = file
        lineStarts = [start]
    }

    /// The file position of the scalar at `line` (0-based, within the value) and `column` (0-based).
    func position(line: Int, column: Int) -> SourcePosition {
        if let lastTraced = scalarPositions.last {
            let offset = max(0, valueLineOffsets[max(0, min(line, valueLineOffsets.count - 1))] + column)
            if offset < scalarPositions.count { return scalarPositions[offset] }
            return SourcePosition(line: lastTraced.line, column: lastTraced.column + offset - scalarPositions.count + 1)
        }
        let base = lineStarts[min(line, lineStarts.count - 1)]
        return SourcePosition(line: base.line, column: base.column + column)
    }
}
