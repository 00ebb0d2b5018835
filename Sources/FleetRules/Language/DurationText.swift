import Foundation

/// Parses the literal forms fields use outside expressions: durations (`10m`, `1h30m`) and RFC 3339 timestamps.
public enum DurationText {
    /// Seconds for `500ms`, `30s`, `10m`, `1h30m`, `7d`, `2w`; nil when malformed.
    public static func seconds(_ text: String) -> Double? {
        let s = Array(text.unicodeScalars)
        guard !s.isEmpty else { return nil }
        var i = 0
        var total = 0.0
        while i < s.count {
            var j = i
            while j < s.count, ("0"..."9").contains(s[j]) || s[j] == "." { j += 1 }
            guard j > i, let value = Double(String(String.UnicodeScalarView(s[i..<j]))) else { return nil }
            var k = j
            while k < s.count, s[k].properties.isAlphabetic { k += 1 }
            let unit = String(String.UnicodeScalarView(s[j..<k]))
            let factor: Double
            switch unit {
            case "ms": factor = 0.001
            case "s": factor = 1
            case "m": factor = 60
            case "h": factor = 3600
            case "d": factor = 86400
            case "w": factor = 604_800
            default: return nil
            }
            total += value * factor
            i = k
        }
        return total
    }

    /// `15min`, `2 hours`, `30sec` in the language's units (`15m`, `2h`, `30s`), or nil.
    public static func respelled(_ text: String) -> String? {
        let words: [String: String] = [
            "sec": "s", "secs": "s", "second": "s", "seconds": "s", "min": "m", "mins": "m", "minute": "m",
            "minutes": "m", "hr": "h", "hrs": "h", "hour": "h", "hours": "h", "day": "d", "days": "d", "week": "w",
            "weeks": "w",
        ]
        let number = text.prefix { $0.isNumber || $0 == "." }
        let unit = text.dropFirst(number.count).trimmingCharacters(in: .whitespaces).lowercased()
        guard !number.isEmpty, let short = words[unit], seconds(number + short) != nil else { return nil }
        return number + short
    }

    /// The shortest readable form: 90 → "1m30s", 86400 → "1d".
    public static func format(_ seconds: Double) -> String {
        // Beyond what an Int holds (or not a number): say so rather than trap.
        guard seconds.isFinite, seconds.magnitude < 9e15 else {
            return seconds.isNaN ? "unknown" : seconds < 0 ? "-∞" : "∞"
        }
        if seconds < 1, seconds > 0 { return "\(Int((seconds * 1000).rounded()))ms" }
        var rest = Int(seconds.rounded())
        if rest == 0 { return "0s" }
        var out = ""
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            out += "\(rest / size)\(unit)"
            rest %= size
        }
        return out
    }
}

/// RFC 3339 timestamps as seconds since the epoch, parsed without DateFormatter.
public enum Timestamp {
    /// Accepts `2026-03-02T00:00:00Z`, fractions, `+hh:mm` offsets, and a space or `t` for `T`.
    public static func parse(_ text: String) -> Double? {
        let b = Array(text.utf8)
        func digits(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= b.count else { return nil }
            var v = 0
            for i in at..<(at + n) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 20, let year = digits(0, 4), b[4] == 45, let month = digits(5, 2), b[7] == 45,
            let day = digits(8, 2), b[10] == 84 || b[10] == 116 || b[10] == 32, let hour = digits(11, 2),
            b[13] == 58, let minute = digits(14, 2), b[16] == 58, let second = digits(17, 2)
        else { return nil }
        guard (1...12).contains(month), (1...daysIn(month, year)).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == 46 {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            if i == start { return nil }
        }
        guard i < b.count else { return nil }
        var offset = 0
        if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45, let oh = digits(i + 1, 2), i + 3 < b.count, b[i + 3] == 58,
            let om = digits(i + 4, 2)
        {
            offset = (oh * 3600 + om * 60) * (b[i] == 43 ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year, month, day)
        return Double(days * 86400 + hour * 3600 + minute * 60 + second - offset) + fraction
    }

    /// `2026-03-02T00:00:00Z` (fraction only when present).
    /// Times outside years 0001–9999 print as the raw number of seconds (never a trap).
    public static func format(_ t0: Double) -> String {
        guard t0.isFinite, t0 > -62_135_596_800, t0 < 253_402_300_800 else { return "\(t0)" }
        // Round to milliseconds first so 59.9996 s carries into the next second.
        let t = (t0 * 1000).rounded() / 1000
        let whole = Int(t.rounded(.down))
        let days = whole >= 0 ? whole / 86400 : (whole - 86399) / 86400
        let secs = whole - days * 86400
        let (y, m, d) = civilFromDays(days)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        var s = "\(y)-\(two(m))-\(two(d))T\(two(secs / 3600)):\(two(secs % 3600 / 60)):\(two(secs % 60))"
        let frac = t - Double(whole)
        let ms = Int((frac * 1000).rounded())
        if ms > 0 { s += "." + String(String(ms + 1000).dropFirst()) }
        return s + "Z"
    }

    static func daysIn(_ month: Int, _ year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
