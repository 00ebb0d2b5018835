import CYAML

/// Limits that keep hostile or accidental input from exhausting time or memory.
public struct LoadLimits: Sendable {
    public var maxFileBytes = 8 << 20
    /// Nodes after alias expansion; a billion-laughs document hits this within microseconds.
    public var maxExpandedNodes = 1_000_000
    public var maxDepth = 64
    public var maxRules = 10_000

    public init() {}
}

/// Reads one YAML document into a `YAMLNode` tree, keeping every node's source position.
///
/// libyaml is used through its event API; this type is the only place that touches its C
/// memory. Problems become located diagnostics, never traps.
public struct YAMLLoader: Sendable {
    public var limits: LoadLimits

    public init(limits: LoadLimits = LoadLimits()) { self.limits = limits }

    /// The UTF-8 byte order mark that some editors (notably on Windows) write at the start of a file.
    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// The file's bytes without a leading byte order mark: it marks the encoding, it is not content.
    public static func withoutByteOrderMark(_ bytes: [UInt8]) -> [UInt8] {
        bytes.starts(with: byteOrderMark) ? Array(bytes.dropFirst(byteOrderMark.count)) : bytes
    }

    /// The file's text as the loader reads it (no byte order mark), for source lines and excerpts,
    /// so columns on the first line match the diagnostics.
    public static func text(of bytes: [UInt8]) -> String {
        String(decoding: withoutByteOrderMark(bytes), as: UTF8.self)
    }

    /// The document's root node, or nil with diagnostics appended when the file cannot be used.
    /// A leading byte order mark is skipped.
    public func load(_ raw: [UInt8], file: String, into diagnostics: inout DiagnosticBag) -> YAMLNode? {
        let bytes = Self.withoutByteOrderMark(raw)
        if bytes.count > limits.maxFileBytes {
            diagnostics.error(
                .fileTooLarge, "file is \(bytes.count) bytes; the limit is \(limits.maxFileBytes) bytes",
                at: SourceRange(file: file, line: 1, column: 1),
                hint: "split the pack into several files in one folder")
            return nil
        }
        if let bad = Self.firstInvalidUTF8(bytes) {
            diagnostics.error(
                .invalidUTF8, "invalid UTF-8 byte 0x\(String(bad.byte, radix: 16, uppercase: true))",
                at: SourceRange(file: file, line: bad.line, column: bad.column),
                hint: "save the file as UTF-8")
            return nil
        }
        let session = ParseSession(bytes: bytes, file: file, limits: limits)
        let root = session.run(into: &diagnostics)
        return root
    }

    /// Finds the first byte that breaks UTF-8, with its 1-based line and column (in scalars).
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> (byte: UInt8, line: Int, column: Int)? {
        var line = 1
        var column = 1
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            var length = 0
            if b < 0x80 {
                length = 1
            } else if b & 0xE0 == 0xC0, b >= 0xC2 {
                length = 2
            } else if b & 0xF0 == 0xE0 {
                length = 3
            } else if b & 0xF8 == 0xF0, b <= 0xF4 {
                length = 4
            } else {
                return (b, line, column)
            }
            if i + length > n { return (b, line, column) }
            for k in 1..<length where bytes[i + k] & 0xC0 != 0x80 {
                return (bytes[i + k], line, column)
            }
            if length == 3 {
                let c1 = bytes[i + 1]
                if (b == 0xE0 && c1 < 0xA0) || (b == 0xED && c1 >= 0xA0) { return (b, line, column) }
            } else if length == 4 {
                let c1 = bytes[i + 1]
                if (b == 0xF0 && c1 < 0x90) || (b == 0xF4 && c1 >= 0x90) { return (b, line, column) }
            }
            if b == 0x0A {
                line += 1
                column = 1
            } else {
                column += 1
            }
            i += length
        }
        return nil
    }
}

/// One parse: owns the libyaml parser and the input buffer, frees both when done.
private final class ParseSession {
    private var parser = yaml_parser_t()
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    private let file: String
    private let limits: LoadLimits
    private let lines: [Substring]

    private struct Frame {
        var isMapping: Bool
        var start: SourcePosition
        var tag: String?
        var anchor: String?
        var items: [YAMLNode] = []
    }

    private var stack: [Frame] = []
    private var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    private var sizes: [Int] = []  // expanded size of each open frame's finished children
    private var expanded = 0
    private var root: YAMLNode?
    private var documents = 0

    init(bytes: [UInt8], file: String, limits: LoadLimits) {
        self.file = file
        self.limits = limits
        buffer = .allocate(capacity: max(1, bytes.count))
        _ = buffer.initialize(from: bytes)
        lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        yaml_parser_initialize(&parser)
        yaml_parser_set_input_string(&parser, buffer.baseAddress, bytes.count)
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
    }

    deinit {
        yaml_parser_delete(&parser)
        buffer.deallocate()
    }

    private func position(_ mark: yaml_mark_t) -> SourcePosition {
        SourcePosition(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    private func range(_ start: yaml_mark_t, _ end: yaml_mark_t) -> SourceRange {
        SourceRange(file: file, start: position(start), end: position(end))
    }

    private static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let p else { return nil }
        return String(cString: UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))
    }

    func run(into diagnostics: inout DiagnosticBag) -> YAMLNode? {
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else {
                reportParserError(into: &diagnostics)
                return nil
            }
            defer { yaml_event_delete(&event) }
            let type = event.type
            if type == YAML_STREAM_END_EVENT { break }
            if let failure = handle(&event) {
                diagnostics.append(failure)
                return nil
            }
        }
        guard let root, !root.isNull else {
            diagnostics.error(
                .emptyFile, "the file holds no policy document", at: SourceRange(file: file, line: 1, column: 1),
                hint: "a pack starts with `fleetrules: 1`")
            return nil
        }
        return root
    }

    /// Processes one event; returns a diagnostic when a limit or unsupported feature stops the parse.
    private func handle(_ event: inout yaml_event_t) -> Diagnostic? {
        let start = event.start_mark
        let end = event.end_mark
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                return Diagnostic(
                    .unsupportedYAML, "a policy file holds one YAML document; found a second one",
                    at: range(start, end), hint: "move the second document into a file of its own")
            }
        case YAML_MAPPING_START_EVENT, YAML_SEQUENCE_START_EVENT:
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            let anchor =
                isMapping
                ? Self.string(event.data.mapping_start.anchor) : Self.string(event.data.sequence_start.anchor)
            let tag =
                isMapping
                ? Self.string(event.data.mapping_start.tag) : Self.string(event.data.sequence_start.tag)
            if stack.count >= limits.maxDepth {
                return Diagnostic(
                    .nestingTooDeep, "nesting is deeper than \(limits.maxDepth) levels", at: range(start, end),
                    hint: "policy files need only a few levels of nesting")
            }
            stack.append(Frame(isMapping: isMapping, start: position(start), tag: tag, anchor: anchor))
            sizes.append(1)
            if let failure = count(1, at: range(start, end)) { return failure }
        case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
            guard let frame = stack.popLast(), let size = sizes.popLast() else { return nil }
            let r = SourceRange(file: file, start: frame.start, end: position(end))
            var node: YAMLNode
            if frame.isMapping {
                var entries: [YAMLEntry] = []
                var i = 0
                while i + 1 < frame.items.count {
                    let key = frame.items[i]
                    if case .scalar = key.kind {
                    } else {
                        return Diagnostic(
                            .unsupportedYAML, "mapping keys must be plain names, not \(key.typeDescription)",
                            at: key.range,
                            hint:
                                "a value starting with `{` or `[` is YAML flow syntax; quote it, e.g. summary: \"{{device}} battery low\""
                        )
                    }
                    if case .scalar("<<", .plain) = key.kind {
                        return Diagnostic(
                            .unsupportedYAML, "YAML merge keys (`<<`) are not supported", at: key.range,
                            hint: "repeat the keys, or use `defaults:` and macros")
                    }
                    entries.append(YAMLEntry(key: key, value: frame.items[i + 1]))
                    i += 2
                }
                node = YAMLNode(.mapping(entries), range: r, tag: frame.tag)
            } else {
                node = YAMLNode(.sequence(frame.items), range: r, tag: frame.tag)
            }
            if let anchor = frame.anchor { anchors[anchor] = (node, size) }
            return attach(node, size: size)
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let value: String
            if let p = scalar.value {
                value = String(
                    decoding: UnsafeBufferPointer(start: p, count: Int(scalar.length)), as: UTF8.self)
            } else {
                value = ""
            }
            let style: YAMLNode.ScalarStyle =
                switch scalar.style {
                case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
                case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
                case YAML_LITERAL_SCALAR_STYLE: .literal
                case YAML_FOLDED_SCALAR_STYLE: .folded
                default: .plain
                }
            let node = YAMLNode(.scalar(value, style), range: range(start, end), tag: Self.string(scalar.tag))
            if let failure = count(1, at: node.range) { return failure }
            if let anchor = Self.string(scalar.anchor) { anchors[anchor] = (node, 1) }
            return attach(node, size: 1)
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            guard let target = anchors[name] else {
                return Diagnostic(.yamlSyntax, "unknown alias '*\(name)'", at: range(start, end))
            }
            if let failure = count(target.size, at: range(start, end)) { return failure }
            // Aliased subtrees share storage; only the count above grows with expansion.
            var node = target.node
            node.range = range(start, end)
            return attach(node, size: target.size)
        default:
            break
        }
        return nil
    }

    private func count(_ n: Int, at r: SourceRange) -> Diagnostic? {
        let (sum, overflow) = expanded.addingReportingOverflow(n)
        expanded = overflow ? Int.max : sum
        if expanded > limits.maxExpandedNodes {
            return Diagnostic(
                .aliasLimit,
                "the document expands to more than \(limits.maxExpandedNodes) nodes (aliases included)",
                at: r, hint: "aliases that refer to aliases multiply; write the values out")
        }
        return nil
    }

    private func attach(_ node: YAMLNode, size: Int) -> Diagnostic? {
        if stack.isEmpty {
            root = node
        } else {
            stack[stack.count - 1].items.append(node)
            sizes[sizes.count - 1] =
                sizes[sizes.count - 1].addingReportingOverflow(size).overflow
                ? Int.max : sizes[sizes.count - 1] + size
        }
        return nil
    }

    private func reportParserError(into diagnostics: inout DiagnosticBag) {
        let problem = Self.cString(parser.problem) ?? "malformed YAML"
        let context = Self.cString(parser.context)
        var at = position(parser.problem_mark)
        let lineText = at.line - 1 < lines.count ? lines[at.line - 1] : ""
        let lineScalars = Array(lineText.unicodeScalars)
        let charAt = at.column - 1 < lineScalars.count ? lineScalars[at.column - 1] : nil
        if problem.contains("tab") || (charAt == "\t" && problem.contains("cannot start any token")) {
            diagnostics.error(
                .tabIndentation, "tab character used for indentation",
                at: SourceRange(file: file, line: at.line, column: at.column),
                hint: "YAML indentation must use spaces")
            return
        }
        var message = problem
        var hint: String?
        if let context {
            message = "\(context), \(problem)"
            if context.contains("quoted scalar") {
                at = position(parser.context_mark)
                message = "unclosed quoted string"
                hint = "close the string with a matching quote on the same value"
            } else if context.contains("flow mapping") || context.contains("flow sequence") {
                let (open, close) = context.contains("flow mapping") ? ("{", "}") : ("[", "]")
                let opened = position(parser.context_mark)
                if opened.line < at.line {
                    // The parser only notices on a later line; the mistake is the bracket left open.
                    at = opened
                    message = "unclosed '\(open)'"
                    hint = "close it with '\(close)', and separate items with ','"
                } else {
                    hint = "separate items with ',' and close the \(open)…\(close) with '\(close)'"
                }
            }
        }
        if problem.contains("mapping values are not allowed"),
            String(String.UnicodeScalarView(lineScalars.prefix(max(0, at.column - 1)))).contains(": ")
        {
            hint = "a ': ' inside a plain value starts a mapping; put the value in quotes"
        } else if problem.contains("did not find expected key") || problem.contains("mapping values are not allowed")
            || problem.contains("did not find expected '-' indicator")
        {
            hint = "check the indentation of this line against the lines above it"
            if problem.contains("mapping values are not allowed"),
                let first = lineScalars.firstIndex(where: { $0 != " " }), first < at.column - 1
            {
                // The key on this line was read as the continuation of the value above: point at the key.
                at = SourcePosition(line: at.line, column: first + 1)
            }
        }
        diagnostics.error(
            .yamlSyntax, "malformed YAML: \(message)", at: SourceRange(file: file, line: at.line, column: at.column),
            hint: hint)
    }

    private static func cString(_ p: UnsafePointer<CChar>?) -> String? {
        p.map { String(cString: $0) }
    }
}
