/// Turns diagnostics into the text people read (source line and caret) or JSON for tools.
public struct DiagnosticRenderer: Sendable {
    /// File contents by path, used to print the offending line under each diagnostic.
    public var sources: [String: String]
    public var color: Bool

    /// Source lines per file, split once: a file with thousands of diagnostics stays fast.
    private let lines: [String: [Substring]]

    public init(sources: [String: String] = [:], color: Bool = false) {
        self.sources = sources
        self.color = color
        lines = sources.mapValues { $0.split(separator: "\n", omittingEmptySubsequences: false) }
    }

    /// rustc-style text: headline, the source line with a caret under the range, hint and notes.
    public func text(_ d: Diagnostic) -> String {
        var out = styled(d.headline, d.severity)
        if let excerpt = excerpt(d.range) { out += "\n" + excerpt }
        if let hint = d.hint { out += "\n    = hint: \(hint)" }
        for note in d.notes {
            out += "\n\(note.range.file):\(note.range.start.line):\(note.range.start.column): note: \(note.message)"
            if let excerpt = excerpt(note.range) { out += "\n" + excerpt }
        }
        return out
    }

    public func text(_ ds: [Diagnostic]) -> String {
        ds.map { text($0) + "\n" }.joined()
    }

    /// The `{code, severity, message, file, line, column, end_line, end_column, hint}` object.
    public static func json(_ d: Diagnostic) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("code", .string(d.code.rawValue)),
            ("severity", .string(d.severity.rawValue)),
            ("message", .string(d.message)),
            ("file", .string(d.range.file)),
            ("line", .number(Double(d.range.start.line))),
            ("column", .number(Double(d.range.start.column))),
            ("end_line", .number(Double(d.range.end.line))),
            ("end_column", .number(Double(d.range.end.column))),
            ("hint", .string(d.hint)),
        ]
        if !d.notes.isEmpty {
            members.append(
                (
                    "notes",
                    .array(
                        d.notes.map {
                            .object([
                                ("message", .string($0.message)), ("file", .string($0.range.file)),
                                ("line", .number(Double($0.range.start.line))),
                                ("column", .number(Double($0.range.start.column))),
                            ])
                        })
                ))
        }
        return .object(members)
    }

    private func excerpt(_ range: SourceRange) -> String? {
        guard let fileLines = lines[range.file], range.start.line >= 1, range.start.line <= fileLines.count else {
            return nil
        }
        var line = fileLines[range.start.line - 1]
        if line.hasSuffix("\r") { line = line.dropLast() }
        let scalars = Array(line.unicodeScalars)
        let gutter = String(range.start.line)
        let pad = String(repeating: " ", count: gutter.count)
        // Keep tabs in the padding so the caret lines up with what the terminal shows.
        var marker = ""
        let startIndex = max(0, range.start.column - 1)
        for i in 0..<min(startIndex, scalars.count) { marker += scalars[i] == "\t" ? "\t" : " " }
        if startIndex > scalars.count { marker += String(repeating: " ", count: startIndex - scalars.count) }
        let endColumn = range.end.line == range.start.line ? range.end.column : scalars.count + 1
        let width = max(1, endColumn - range.start.column)
        marker += "^" + String(repeating: "~", count: width - 1)
        return "\(pad) |\n\(gutter) | \(String(String.UnicodeScalarView(scalars)))\n\(pad) | \(styled(marker, .error))"
    }

    private func styled(_ s: String, _ severity: Severity) -> String {
        guard color else { return s }
        let code =
            switch severity {
            case .error: "\u{1B}[1;31m"
            case .warning: "\u{1B}[1;33m"
            case .info: "\u{1B}[1;36m"
            }
        return code + s + "\u{1B}[0m"
    }
}
