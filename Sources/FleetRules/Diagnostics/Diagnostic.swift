/// How serious a diagnostic is; only errors fail `fleetrules check` by default.
public enum Severity: String, Sendable, Hashable, Codable, Comparable, CaseIterable {
    case info
    case warning
    case error

    private var rank: Int {
        switch self {
        case .info: 0
        case .warning: 1
        case .error: 2
        }
    }

    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// One located problem found in a policy file, with a stable code and an optional hint.
public struct Diagnostic: Sendable, Hashable {
    public var code: DiagnosticCode
    public var severity: Severity
    public var message: String
    public var range: SourceRange
    public var hint: String?
    /// Related locations, e.g. where a duplicated name was first defined.
    public var notes: [Note]

    /// A secondary location that explains a diagnostic.
    public struct Note: Sendable, Hashable {
        public var message: String
        public var range: SourceRange

        public init(message: String, range: SourceRange) {
            self.message = message
            self.range = range
        }
    }

    public init(
        _ code: DiagnosticCode, _ message: String, at range: SourceRange, hint: String? = nil,
        severity: Severity? = nil, notes: [Note] = []
    ) {
        self.code = code
        self.severity = severity ?? code.defaultSeverity
        self.message = message
        self.range = range
        self.hint = hint
        self.notes = notes
    }

    /// `file:line:col: severity[CODE]: message`, the one-line form editors and tests read.
    public var headline: String {
        "\(range.file):\(range.start.line):\(range.start.column): \(severity.rawValue)[\(code.rawValue)]: \(message)"
    }
}

/// Collects diagnostics from every stage, so one run reports all the mistakes of a file.
public struct DiagnosticBag: Sendable {
    public private(set) var items: [Diagnostic] = []

    public init() {}

    public mutating func append(_ d: Diagnostic) { items.append(d) }
    public mutating func append(contentsOf ds: [Diagnostic]) { items.append(contentsOf: ds) }

    public mutating func error(
        _ code: DiagnosticCode, _ message: String, at range: SourceRange, hint: String? = nil,
        notes: [Diagnostic.Note] = []
    ) {
        items.append(Diagnostic(code, message, at: range, hint: hint, severity: .error, notes: notes))
    }

    public mutating func warning(
        _ code: DiagnosticCode, _ message: String, at range: SourceRange, hint: String? = nil,
        notes: [Diagnostic.Note] = []
    ) {
        items.append(Diagnostic(code, message, at: range, hint: hint, severity: .warning, notes: notes))
    }

    public mutating func info(
        _ code: DiagnosticCode, _ message: String, at range: SourceRange, hint: String? = nil
    ) {
        items.append(Diagnostic(code, message, at: range, hint: hint, severity: .info))
    }

    public var hasErrors: Bool { items.contains { $0.severity == .error } }
    public var errorCount: Int { items.count { $0.severity == .error } }
    public var warningCount: Int { items.count { $0.severity == .warning } }

    /// Diagnostics in file, line, column order; stable for equal positions.
    public var sorted: [Diagnostic] {
        items.enumerated().sorted { a, b in
            let (x, y) = (a.element.range, b.element.range)
            if x.file != y.file { return x.file < y.file }
            if x.start != y.start { return x.start < y.start }
            return a.offset < b.offset
        }.map(\.element)
    }
}

/// Thrown by APIs that cannot go on after errors; carries every diagnostic found.
public struct DiagnosticsError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.headline).joined(separator: "\n") }
}
