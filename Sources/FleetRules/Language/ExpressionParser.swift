/// Parses the condition language of `where`, `when`, `clear` and friends, with precedence:
/// `or` < `and` < `not` < comparisons (`== != < <= > >= in matches`) < `+ -` < `* /` < unary `-`.
public struct ExpressionParser {
    private struct Token {
        enum Kind: Equatable {
            case number(Double), percent(Double), duration(Double)
            case string(String), version(String)
            case identifier(String)
            case symbol(String)
            case end
        }
        var kind: Kind
        var start: (line: Int, column: Int)
        var end: (line: Int, column: Int)
    }

    private let locator: ScalarLocator
    private var tokens: [Token] = []
    private var index = 0
    /// Nesting of the tree being built (groups, operands, chained operators); bounded so that
    /// the recursive parser, checker and evaluator cannot exhaust the stack.
    private var depth = 0
    static let maxDepth = 100

    /// Parses `text`; problems go to `diagnostics` and nil is returned.
    public static func parse(
        _ text: String, locator: ScalarLocator, diagnostics: inout DiagnosticBag
    ) -> Expression? {
        var parser = ExpressionParser(locator: locator)
        do {
            parser.tokens = try parser.tokenize(text)
            let expr = try parser.parseExpression(minPrecedence: 1)
            if case .end = parser.current.kind {
            } else {
                throw parser.failure(
                    "unexpected \(parser.describe(parser.current)) after a complete expression",
                    at: parser.current,
                    hint: parser.current.kind == .symbol("&&") || parser.current.kind == .symbol("||")
                        ? "write `and` / `or`" : "join conditions with `and` or `or`")
            }
            return expr
        } catch let error as ParseFailure {
            diagnostics.append(error.diagnostic)
            return nil
        } catch {
            return nil
        }
    }

    private init(locator: ScalarLocator) { self.locator = locator }

    private struct ParseFailure: Error { var diagnostic: Diagnostic }

    private var current: Token { tokens[min(index, tokens.count - 1)] }

    private func range(_ a: Token, _ b: Token) -> SourceRange {
        SourceRange(
            file: locator.file, start: locator.position(line: a.start.line, column: a.start.column),
            end: locator.position(line: b.end.line, column: b.end.column))
    }

    private func failure(_ message: String, at token: Token, hint: String? = nil) -> ParseFailure {
        ParseFailure(diagnostic: Diagnostic(.expressionSyntax, message, at: range(token, token), hint: hint))
    }

    private func describe(_ t: Token) -> String {
        switch t.kind {
        case .end: "end of expression"
        case .number(let n), .percent(let n): "number \(JSONValue.format(n))"
        case .duration: "duration"
        case .string(let s): "string \"\(s)\""
        case .version(let v): "version v\"\(v)\""
        case .identifier(let s): "'\(s)'"
        case .symbol(let s): "'\(s)'"
        }
    }

    // MARK: tokens

    private static let durationUnits: [(String, Double)] = [
        ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("w", 604_800),
    ]

    private func tokenize(_ text: String) throws -> [Token] {
        let s = Array(text.unicodeScalars)
        var out: [Token] = []
        var i = 0
        var line = 0
        var lineStart = 0
        func pos(_ k: Int) -> (Int, Int) { (line, k - lineStart) }
        func isIdentStart(_ c: Unicode.Scalar) -> Bool { c == "_" || c.properties.isAlphabetic }
        func isIdent(_ c: Unicode.Scalar) -> Bool { isIdentStart(c) || ("0"..."9").contains(c) }
        func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }
        while i < s.count {
            let c = s[i]
            if c == "\n" {
                i += 1
                line += 1
                lineStart = i
                continue
            }
            if c == " " || c == "\t" || c == "\r" {
                i += 1
                continue
            }
            let start = pos(i)
            if isDigit(c) || (c == "." && i + 1 < s.count && isDigit(s[i + 1])) {
                var j = i
                while j < s.count, isDigit(s[j]) || s[j] == "." { j += 1 }
                if j < s.count, s[j] == "e" || s[j] == "E", j + 1 < s.count,
                    isDigit(s[j + 1]) || ((s[j + 1] == "-" || s[j + 1] == "+") && j + 2 < s.count && isDigit(s[j + 2]))
                {
                    j += 2
                    while j < s.count, isDigit(s[j]) { j += 1 }
                }
                let literal = String(String.UnicodeScalarView(s[i..<j]))
                guard let value = Double(literal) else {
                    throw ParseFailure(
                        diagnostic: Diagnostic(
                            .expressionSyntax, "malformed number '\(literal)'",
                            at: tokenRange(start, pos(j))))
                }
                if j < s.count, s[j] == "%" {
                    out.append(Token(kind: .percent(value), start: start, end: pos(j + 1)))
                    i = j + 1
                    continue
                }
                if j < s.count, isIdentStart(s[j]) {
                    // A duration such as 10m, 1h30m or 500ms; anything else glued to a number is an error.
                    var k = i
                    var total = 0.0
                    var ok = true
                    var numberStart = i
                    while k < s.count, isIdent(s[k]) || s[k] == "." {
                        var n = numberStart
                        while n < s.count, isDigit(s[n]) || s[n] == "." { n += 1 }
                        guard n > numberStart, let v = Double(String(String.UnicodeScalarView(s[numberStart..<n])))
                        else {
                            ok = false
                            break
                        }
                        var u = n
                        while u < s.count, s[u].properties.isAlphabetic { u += 1 }
                        let unit = String(String.UnicodeScalarView(s[n..<u]))
                        guard let factor = Self.durationUnits.first(where: { $0.0 == unit })?.1 else {
                            ok = false
                            k = u
                            break
                        }
                        total += v * factor
                        k = u
                        numberStart = u
                        if !(k < s.count && isDigit(s[k])) { break }
                    }
                    while k < s.count, isIdent(s[k]) { k += 1 }
                    let literal = String(String.UnicodeScalarView(s[i..<k]))
                    guard ok else {
                        throw ParseFailure(
                            diagnostic: Diagnostic(
                                .invalidDuration, "invalid duration '\(literal)'", at: tokenRange(start, pos(k)),
                                hint: "durations are a number and a unit: ms, s, m, h, d or w (e.g. 10m, 1h30m, 7d)"))
                    }
                    out.append(Token(kind: .duration(total), start: start, end: pos(k)))
                    i = k
                    continue
                }
                out.append(Token(kind: .number(value), start: start, end: pos(j)))
                i = j
                continue
            }
            if (c == "v" || c == "V"), i + 1 < s.count, s[i + 1] == "\"" {
                let (text, next) = try scanString(s, from: i + 1, quote: "\"", start: start, pos: pos)
                out.append(Token(kind: .version(text), start: start, end: pos(next)))
                i = next
                continue
            }
            if isIdentStart(c) {
                var j = i
                while j < s.count, isIdent(s[j]) { j += 1 }
                out.append(
                    Token(kind: .identifier(String(String.UnicodeScalarView(s[i..<j]))), start: start, end: pos(j)))
                i = j
                continue
            }
            if c == "\"" || c == "'" {
                let (text, next) = try scanString(s, from: i, quote: c, start: start, pos: pos)
                out.append(Token(kind: .string(text), start: start, end: pos(next)))
                i = next
                continue
            }
            let two = i + 1 < s.count ? String(String.UnicodeScalarView([c, s[i + 1]])) : ""
            if ["==", "!=", "<=", ">=", "&&", "||"].contains(two) {
                out.append(Token(kind: .symbol(two), start: start, end: pos(i + 2)))
                i += 2
                continue
            }
            if "<>+-*/()[],!=".unicodeScalars.contains(c) {
                out.append(Token(kind: .symbol(String(c)), start: start, end: pos(i + 1)))
                i += 1
                continue
            }
            throw ParseFailure(
                diagnostic: Diagnostic(
                    .expressionSyntax, "unexpected character '\(c)'", at: tokenRange(start, pos(i + 1))))
        }
        out.append(Token(kind: .end, start: pos(i), end: pos(i + 1)))
        return out
    }

    private func tokenRange(_ a: (Int, Int), _ b: (Int, Int)) -> SourceRange {
        SourceRange(
            file: locator.file, start: locator.position(line: a.0, column: a.1),
            end: locator.position(line: b.0, column: b.1))
    }

    private func scanString(
        _ s: [Unicode.Scalar], from i: Int, quote: Unicode.Scalar, start: (Int, Int), pos: (Int) -> (Int, Int)
    ) throws -> (String, Int) {
        var j = i + 1
        var text = String.UnicodeScalarView()
        while j < s.count, s[j] != quote {
            if s[j] == "\\", j + 1 < s.count {
                let e = s[j + 1]
                switch e {
                case "n": text.append("\n")
                case "t": text.append("\t")
                case "\\", "\"", "'": text.append(e)
                default:
                    // Kept as written, so regular expressions like `matches "^s-\d+$"` mean what they say.
                    text.append("\\")
                    text.append(e)
                }
                j += 2
                continue
            }
            if s[j] == "\n" { break }
            text.append(s[j])
            j += 1
        }
        guard j < s.count, s[j] == quote else {
            throw ParseFailure(
                diagnostic: Diagnostic(
                    .expressionSyntax, "unclosed string", at: tokenRange(start, pos(j)),
                    hint: "close it with \(quote)"))
        }
        return (String(text), j + 1)
    }

    // MARK: grammar

    private mutating func advance() -> Token {
        let t = current
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    private func binaryOperator(_ t: Token) -> BinaryOperator? {
        switch t.kind {
        case .identifier("and"): .and
        case .identifier("or"): .or
        case .identifier("in"): .in
        case .identifier("matches"): .matches
        case .symbol(let s): BinaryOperator(rawValue: s)
        default: nil
        }
    }

    private mutating func nest(at token: Token) throws {
        depth += 1
        if depth > Self.maxDepth {
            throw failure(
                "the expression nests deeper than \(Self.maxDepth) levels", at: token,
                hint: "split it into macros, or use `in [..]` instead of long chains of `or`")
        }
    }

    private mutating func parseExpression(minPrecedence: Int) throws -> Expression {
        let entryDepth = depth
        defer { depth = entryDepth }
        try nest(at: current)
        var lhs = try parseUnary(minPrecedence: minPrecedence)
        while true {
            let t = current
            if case .symbol(let s) = t.kind, s == "&&" || s == "||" || s == "=" {
                throw failure(
                    "unknown operator '\(s)'", at: t,
                    hint: s == "=" ? "compare with `==`" : "write `\(s == "&&" ? "and" : "or")`")
            }
            guard let op = binaryOperator(t), op.precedence >= minPrecedence else { break }
            // Each chained operator puts the tree built so far one level deeper.
            try nest(at: t)
            _ = advance()
            if op == .in, case .identifier("not") = current.kind {
                throw failure("`in not` is not an operator", at: current, hint: "write `not (x in list)`")
            }
            let rhs = try parseExpression(minPrecedence: op.precedence + 1)
            if op.isComparison, let next = binaryOperator(current), next.isComparison {
                throw failure(
                    "comparisons cannot be chained", at: current, hint: "join them with `and`, e.g. `a < b and b < c`")
            }
            lhs = Expression(.binary(op, lhs, rhs), lhs.range.union(rhs.range))
        }
        return lhs
    }

    private mutating func parseUnary(minPrecedence: Int) throws -> Expression {
        let t = current
        if case .identifier("not") = t.kind {
            _ = advance()
            // `not` binds looser than comparisons: `not a == b` is `not (a == b)`.
            let operand = try parseExpression(minPrecedence: 3)
            return Expression(.unary(.not, operand), range(t, t).union(operand.range))
        }
        if case .symbol("!") = t.kind {
            throw failure("unknown operator '!'", at: t, hint: "write `not`")
        }
        if case .symbol("-") = t.kind {
            let entryDepth = depth
            defer { depth = entryDepth }
            try nest(at: t)
            _ = advance()
            let operand = try parseUnary(minPrecedence: 7)
            if case .number(let n, let p) = operand.kind {
                return Expression(.number(-n, percent: p), range(t, t).union(operand.range))
            }
            return Expression(.unary(.negate, operand), range(t, t).union(operand.range))
        }
        return try parsePrimary()
    }

    private mutating func parsePrimary() throws -> Expression {
        let t = advance()
        let r = range(t, t)
        switch t.kind {
        case .number(let n): return Expression(.number(n, percent: false), r)
        case .percent(let n): return Expression(.number(n, percent: true), r)
        case .duration(let d): return Expression(.duration(d), r)
        case .string(let s): return Expression(.string(s), r)
        case .version(let v): return Expression(.version(v), r)
        case .identifier("true"): return Expression(.bool(true), r)
        case .identifier("false"): return Expression(.bool(false), r)
        case .identifier(let name):
            if ["and", "or", "in", "matches"].contains(name) {
                throw failure("expected a value, found keyword '\(name)'", at: t)
            }
            if case .symbol("(") = current.kind {
                _ = advance()
                var args: [Expression] = []
                if case .symbol(")") = current.kind {
                } else {
                    while true {
                        args.append(try parseExpression(minPrecedence: 1))
                        if case .symbol(",") = current.kind {
                            _ = advance()
                            continue
                        }
                        break
                    }
                }
                let close = current
                guard case .symbol(")") = close.kind else {
                    throw failure("expected ')' to close the call of \(name)(), found \(describe(close))", at: close)
                }
                _ = advance()
                return Expression(.call(name, args), r.union(range(close, close)))
            }
            return Expression(.identifier(name), r)
        case .symbol("("):
            let inner = try parseExpression(minPrecedence: 1)
            let close = current
            guard case .symbol(")") = close.kind else {
                if case .end = close.kind {
                    throw failure("unclosed '('", at: t, hint: "add ')' where the group ends")
                }
                let open = range(t, t).start
                throw failure(
                    "expected an operator or ')', found \(describe(close))", at: close,
                    hint:
                        "join conditions with `and` or `or`; the '(' at \(open.line):\(open.column) is still open here")
            }
            _ = advance()
            var e = inner
            e.range = r.union(range(close, close))
            return e
        case .symbol("["):
            var items: [Expression] = []
            if case .symbol("]") = current.kind {
            } else {
                while true {
                    items.append(try parseExpression(minPrecedence: 5))
                    if case .symbol(",") = current.kind {
                        _ = advance()
                        continue
                    }
                    break
                }
            }
            let close = current
            guard case .symbol("]") = close.kind else {
                throw failure("expected ']' or ',' in list, found \(describe(close))", at: close)
            }
            _ = advance()
            return Expression(.list(items), r.union(range(close, close)))
        case .end:
            throw failure("expected a value, found end of expression", at: t)
        default:
            throw failure("expected a value, found \(describe(t))", at: t)
        }
    }
}
