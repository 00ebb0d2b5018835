/// A 1-based position in a source file: line and column count Unicode scalars, as editors do.
public struct SourcePosition: Sendable, Hashable, Comparable, Codable {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (a: SourcePosition, b: SourcePosition) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }
}

/// The span of source text a diagnostic or syntax node refers to; `end` is exclusive.
public struct SourceRange: Sendable, Hashable, Codable {
    public var file: String
    public var start: SourcePosition
    public var end: SourcePosition

    public init(file: String, start: SourcePosition, end: SourcePosition) {
        self.file = file
        self.start = start
        self.end = max(start, end)
    }

    /// A range covering `length` columns from `start` on one line.
    public init(file: String, line: Int, column: Int, length: Int = 1) {
        self.init(
            file: file, start: SourcePosition(line: line, column: column),
            end: SourcePosition(line: line, column: column + max(1, length)))
    }

    /// The range that spans both `self` and `other` (same file assumed).
    public func union(_ other: SourceRange) -> SourceRange {
        SourceRange(file: file, start: min(start, other.start), end: max(end, other.end))
    }
}
