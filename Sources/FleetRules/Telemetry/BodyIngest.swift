/// Telemetry that arrives as one request body (the HTTP service's `POST /v1/telemetry`):
/// scanned for syntax first, so a body that is not telemetry at all is refused whole with its
/// line number (nothing of it applied), then decoded by the same code as `fleetrules run`, so
/// every reading is accepted or rejected (counted, with its line) for exactly the same reasons.
public enum TelemetryBody {
    /// A body that cannot be read: the 1-based line (the element's first line in a JSON array).
    public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// What one body did: readings accepted, lines rejected by reason, and the first rejected lines.
    public struct Summary: Sendable {
        public struct Rejection: Sendable {
            public var line: Int
            public var reason: RejectReason
            public var message: String
        }
        public var lines = 0
        public var accepted = 0
        public var rejected: [RejectReason: Int] = [:]
        /// The first `Summary.rejectionsListed` rejected lines, in order.
        public var rejections: [Rejection] = []
        /// The accepted lines, newline-terminated, when asked for (`keepAccepted`).
        public var acceptedLines: [UInt8] = []
        public static let rejectionsListed = 100
    }

    /// JSON Lines (one reading per line) or a JSON array of readings, told apart by the first
    /// non-blank byte; an array is turned into JSON Lines, one element per line.
    /// Returns the JSON Lines bytes and, per line, the body line it came from.
    public static func lines(_ body: [UInt8]) -> Result<(bytes: [UInt8], lineNumbers: [Int]?), SyntaxError> {
        var i = 0
        while i < body.count, body[i] == 0x20 || body[i] == 0x09 || body[i] == 0x0D || body[i] == 0x0A { i += 1 }
        guard i < body.count, body[i] == 0x5B else { return .success((body, nil)) }
        return splitArray(body, from: i)
    }

    /// Splits a top-level JSON array into its elements, one per output line (newlines inside an
    /// element, which JSON allows only as whitespace, become spaces).
    static func splitArray(_ b: [UInt8], from start: Int) -> Result<(bytes: [UInt8], lineNumbers: [Int]?), SyntaxError>
    {
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var numbers: [Int] = []
        var line = 1
        for k in 0..<start where b[k] == 0x0A { line += 1 }
        var i = start + 1
        var depth = 0
        var inString = false
        var escaped = false
        var elementStarted = false
        /// The element at depth 0 has ended (its closing bracket or quote, or whitespace after a scalar).
        var complete = false
        var expectingElement = true
        var closed = false
        while i < b.count {
            let c = b[i]
            if c == 0x0A { line += 1 }
            if closed {
                if !(c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A) {
                    return .failure(SyntaxError(line: line, message: "unexpected text after the closing ']'"))
                }
                i += 1
                continue
            }
            if inString {
                if escaped {
                    escaped = false
                } else if c == 0x5C {
                    escaped = true
                } else if c == 0x22 {
                    inString = false
                    if depth == 0 { complete = true }
                } else if c == 0x0A {
                    return .failure(SyntaxError(line: line - 1, message: "unterminated string"))
                }
                out.append(c)
                i += 1
                continue
            }
            switch c {
            case 0x20, 0x09, 0x0D, 0x0A:
                if elementStarted {
                    out.append(0x20)
                    if depth == 0 { complete = true }
                }
            case 0x2C where depth == 0:
                guard elementStarted else {
                    return .failure(SyntaxError(line: line, message: "expected an element before ','"))
                }
                out.append(0x0A)
                elementStarted = false
                complete = false
                expectingElement = true
            case 0x5D where depth == 0:
                if elementStarted {
                    out.append(0x0A)
                } else if !numbers.isEmpty {
                    return .failure(SyntaxError(line: line, message: "expected an element after ','"))
                }
                closed = true
            default:
                if !elementStarted {
                    guard expectingElement else { return .failure(SyntaxError(line: line, message: "expected ','")) }
                    elementStarted = true
                    expectingElement = false
                    numbers.append(line)
                } else if complete {
                    return .failure(SyntaxError(line: line, message: "expected ',' between elements"))
                }
                if c == 0x22 { inString = true }
                if c == 0x7B || c == 0x5B { depth += 1 }
                if c == 0x7D || c == 0x5D {
                    depth -= 1
                    if depth < 0 {
                        return .failure(SyntaxError(line: line, message: "unbalanced '\(c == 0x7D ? "}" : "]")'"))
                    }
                    if depth == 0 { complete = true }
                }
                out.append(c)
            }
            i += 1
        }
        guard closed else { return .failure(SyntaxError(line: line, message: "the array is not closed with ']'")) }
        return .success((out, numbers))
    }

    /// Lines the decoder cannot parse at all (`malformed`): the first one, how many, and how
    /// many non-blank lines there are.
    public struct SyntaxScan: Sendable {
        public var first: SyntaxError?
        public var malformed = 0
        public var lines = 0
        /// Nothing in the body is a reading: every non-blank line is malformed.
        public var nothingReadable: Bool { lines > 0 && malformed == lines }
    }

    public static func scan(_ bytes: [UInt8], lineNumbers: [Int]? = nil) -> SyntaxScan {
        var decoder = TelemetryDecoder()
        var splitter = LineSplitter()
        var result = SyntaxScan()
        let check: (UnsafeBufferPointer<UInt8>, Int) -> Void = { line, number in
            guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) else { return }
            result.lines += 1
            if let (reason, message) = decoder.decode(line, format: .jsonLines, accept: { _, _ in }),
                reason == .malformed
            {
                result.malformed += 1
                if result.first == nil {
                    let mapped = lineNumbers.flatMap { number - 1 < $0.count ? $0[number - 1] : nil } ?? number
                    result.first = SyntaxError(line: mapped, message: message)
                }
            }
        }
        splitter.feed(bytes, check)
        splitter.feed([], check)
        return result
    }
}
