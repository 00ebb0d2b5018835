/// The compact notation of rule-test input series, after Prometheus' `promtool`:
///
/// - `42` one reading of 42;
/// - `80-1x48` 80, 79, …, 32: the start and 48 further steps (49 readings);
/// - `20+0.5x4` 20, 20.5, 21, 21.5, 22;
/// - `7x3` 7 four times (the start and three repeats, like `7+0x3`);
/// - `_` one step without a reading, `_x3` three steps without readings.
///
/// Terms are separated by spaces; each reading or gap takes one step of the series' interval.
public enum SeriesNotation {
    /// Most steps one series may expand to, so a typo like `1x1000000000` is an error, not an allocation.
    public static let maxSteps = 100_000

    /// A notation error with the character offset (in Unicode scalars) of the offending term.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var offset: Int
        public var length: Int
        public var hint: String?
        public var description: String { message }
    }

    /// One value per step; nil is a step without a reading.
    public static func parse(_ text: String) -> Result<[Double?], Failure> {
        let scalars = Array(text.unicodeScalars)
        var out: [Double?] = []
        var i = 0
        var sawTerm = false
        while i < scalars.count {
            if scalars[i] == " " || scalars[i] == "\t" || scalars[i] == "\n" {
                i += 1
                continue
            }
            let start = i
            while i < scalars.count, scalars[i] != " ", scalars[i] != "\t", scalars[i] != "\n" { i += 1 }
            let term = String(String.UnicodeScalarView(scalars[start..<i]))
            sawTerm = true
            switch expand(term) {
            case .success(let values):
                guard out.count + values.count <= maxSteps else {
                    return .failure(
                        Failure(
                            message: "the series expands to more than \(maxSteps) steps", offset: start,
                            length: i - start, hint: "split the test or use a longer interval"))
                }
                out += values
            case .failure(var f):
                f.offset += start
                if f.length == 0 { f.length = i - start }
                return .failure(f)
            }
        }
        guard sawTerm else {
            return .failure(
                Failure(
                    message: "the series is empty", offset: 0, length: 1, hint: "write values such as `80-1x48` or `_`")
            )
        }
        return .success(out)
    }

    /// Expands one term (no spaces). Offsets in failures are relative to the term.
    static func expand(_ term: String) -> Result<[Double?], Failure> {
        let s = Array(term.unicodeScalars)
        func fail(_ message: String, at offset: Int = 0, length: Int = 0, hint: String? = nil) -> Result<
            [Double?], Failure
        > {
            .failure(Failure(message: message, offset: offset, length: length, hint: hint))
        }
        if s.first == "_" {
            if s.count == 1 { return .success([nil]) }
            guard s.count > 2, s[1] == "x", let n = Int(String(String.UnicodeScalarView(s[2...]))) else {
                return fail("invalid gap '\(term)'", hint: "a gap is `_` or `_xN` (N steps without a reading)")
            }
            guard n >= 1 else {
                return fail("a gap needs at least one step, found '\(term)'", hint: "write `_x1` or `_`")
            }
            guard n <= maxSteps else { return fail("the series expands to more than \(maxSteps) steps") }
            return .success(Array(repeating: nil, count: n))
        }
        // start [(+|-) increment] [x count]
        var i = 0
        guard let (startValue, afterStart) = number(s, from: 0) else {
            return fail(
                "invalid value '\(term)'",
                hint: "values are numbers (`42`, `-3.5`), ramps (`80-1x48`), repeats (`7x3`) or gaps (`_`, `_x3`)")
        }
        i = afterStart
        var increment = 0.0
        var hasIncrement = false
        if i < s.count, s[i] == "+" || s[i] == "-" {
            let sign: Double = s[i] == "-" ? -1 : 1
            guard let (step, after) = number(s, from: i + 1, signed: false) else {
                return fail(
                    "expected an increment after '\(s[i])' in '\(term)'", at: i, length: 1, hint: "e.g. `80-1x48`")
            }
            increment = sign * step
            hasIncrement = true
            i = after
        }
        var count = 0
        if i < s.count {
            guard s[i] == "x" else {
                return fail("unexpected '\(s[i])' in '\(term)'", at: i, length: 1, hint: "separate values with spaces")
            }
            let digits = String(String.UnicodeScalarView(s[(i + 1)...]))
            guard !digits.isEmpty, digits.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }), let n = Int(digits)
            else {
                return fail(
                    "expected a whole number of steps after 'x' in '\(term)'", at: i, length: s.count - i,
                    hint: "e.g. `80-1x48`: 80 and 48 further steps")
            }
            guard n >= 1 else {
                return fail("a repeat needs at least one step, found '\(term)'", at: i, hint: "write the value alone")
            }
            guard n < maxSteps else { return fail("the series expands to more than \(maxSteps) steps") }
            count = n
        } else if hasIncrement {
            return fail(
                "the increment in '\(term)' needs a step count", at: afterStart, length: s.count - afterStart,
                hint: "add `xN`, e.g. `\(term)x10`")
        }
        var out: [Double?] = []
        out.reserveCapacity(count + 1)
        for k in 0...count {
            let v = startValue + Double(k) * increment
            guard v.isFinite else { return fail("the ramp '\(term)' leaves the finite numbers") }
            out.append(v)
        }
        return .success(out)
    }

    /// A decimal number at `from`: optional sign, digits, optional fraction and exponent.
    private static func number(_ s: [Unicode.Scalar], from: Int, signed: Bool = true) -> (Double, Int)? {
        var i = from
        if signed, i < s.count, s[i] == "-" || s[i] == "+" { i += 1 }
        let digitsStart = i
        while i < s.count, ("0"..."9").contains(s[i]) { i += 1 }
        var digits = i - digitsStart
        if i < s.count, s[i] == "." {
            i += 1
            let fractionStart = i
            while i < s.count, ("0"..."9").contains(s[i]) { i += 1 }
            digits += i - fractionStart
        }
        guard digits > 0 else { return nil }
        if i < s.count, s[i] == "e" || s[i] == "E" {
            var j = i + 1
            if j < s.count, s[j] == "-" || s[j] == "+" { j += 1 }
            let expStart = j
            while j < s.count, ("0"..."9").contains(s[j]) { j += 1 }
            if j > expStart { i = j }
        }
        guard let v = Double(String(String.UnicodeScalarView(s[from..<i]))), v.isFinite else { return nil }
        return (v, i)
    }
}
