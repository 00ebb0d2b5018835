import Foundation

/// One entry of a named time interval (`time_intervals:`), in the manner of Alertmanager: the
/// instant is inside when every field given holds (a missing field holds always). Fields are
/// judged in local time of `location` (the system's tz database through Foundation's
/// `TimeZone`), so `times: ["06:00-10:00"]` means ten in the morning on either side of a
/// daylight-saving change.
///
/// A time range whose end is not after its start (`22:00-06:00`) runs past midnight into the
/// next day, and the day fields (`weekdays`, `days_of_month`, `months`, `years`, `dates`)
/// are judged on the day it starts: `weekdays: [friday]` with `22:00-06:00` covers Friday
/// 22:00 to Saturday 06:00.
public struct TimeIntervalEntry: Sendable, Hashable {
    /// Minutes after local midnight; `start < end`, or `end <= start` for a range past midnight.
    public struct Times: Sendable, Hashable {
        public var start: Int
        public var end: Int
    }

    public var times: [Times] = []
    /// 0 = Sunday … 6 = Saturday.
    public var weekdays: [ClosedRange<Int>] = []
    /// 1…31, or -31…-1 counted from the month's end (-1: its last day).
    public var daysOfMonth: [ClosedRange<Int>] = []
    public var months: [ClosedRange<Int>] = []
    public var years: [ClosedRange<Int>] = []
    /// Local calendar days as `year * 10000 + month * 100 + day`.
    public var dates: [ClosedRange<Int>] = []
    public var calendar: Calendar

    public init(location: TimeZone) {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = location
        calendar = c
    }

    public var location: TimeZone { calendar.timeZone }

    /// The local day of `date` and the minute of that day.
    private func local(_ date: Date) -> (day: Day, minute: Int) {
        let c = calendar.dateComponents([.year, .month, .day, .weekday, .hour, .minute], from: date)
        let year = c.year ?? 1970
        let month = c.month ?? 1
        let day = Day(
            year: year, month: month, day: c.day ?? 1, weekday: (c.weekday ?? 1) - 1,
            length: calendar.range(of: .day, in: .month, for: date)?.count ?? 31)
        return (day, (c.hour ?? 0) * 60 + (c.minute ?? 0))
    }

    private struct Day {
        var year: Int
        var month: Int
        var day: Int
        var weekday: Int
        var length: Int
    }

    private func matches(_ d: Day) -> Bool {
        if !weekdays.isEmpty, !weekdays.contains(where: { $0.contains(d.weekday) }) { return false }
        if !daysOfMonth.isEmpty {
            let hit = daysOfMonth.contains { r in
                let lo = r.lowerBound < 0 ? d.length + 1 + r.lowerBound : r.lowerBound
                let hi = r.upperBound < 0 ? d.length + 1 + r.upperBound : r.upperBound
                return lo <= d.day && d.day <= hi
            }
            if !hit { return false }
        }
        if !months.isEmpty, !months.contains(where: { $0.contains(d.month) }) { return false }
        if !years.isEmpty, !years.contains(where: { $0.contains(d.year) }) { return false }
        if !dates.isEmpty {
            let key = d.year * 10000 + d.month * 100 + d.day
            if !dates.contains(where: { $0.contains(key) }) { return false }
        }
        return true
    }

    /// Whether the instant `t` (seconds since 1970) is inside the entry.
    public func contains(_ t: Double) -> Bool {
        let date = Date(timeIntervalSince1970: t)
        let (day, minute) = local(date)
        if times.isEmpty { return matches(day) }
        var previous: Day?
        for r in times {
            if r.start < r.end {
                if minute >= r.start, minute < r.end, matches(day) { return true }
            } else {
                if minute >= r.start, matches(day) { return true }
                if minute < r.end {
                    if previous == nil {
                        let before = calendar.date(byAdding: .day, value: -1, to: date) ?? date
                        previous = local(before).day
                    }
                    if let previous, matches(previous) { return true }
                }
            }
        }
        return false
    }

    /// The instants in `days` local days from the day of `t` on where the entry can start or
    /// stop holding: local midnights and the ends of the time ranges.
    func boundaries(from t: Double, days: Int) -> [Double] {
        let date = Date(timeIntervalSince1970: t)
        let midnight = calendar.startOfDay(for: date)
        var out: [Double] = []
        let minutes = Set(times.flatMap { [$0.start, $0.end] }).sorted()
        for offset in 0..<days {
            guard let dayStart = calendar.date(byAdding: .day, value: offset, to: midnight) else { break }
            out.append(dayStart.timeIntervalSince1970)
            for m in minutes where m > 0 {
                if let at = calendar.date(bySettingHour: m / 60, minute: m % 60, second: 0, of: dayStart) {
                    out.append(at.timeIntervalSince1970)
                }
            }
        }
        return out
    }
}

/// A named time interval: the union of its entries.
public struct NamedTimeInterval: Sendable, Hashable {
    public var name: String
    public var entries: [TimeIntervalEntry]
    /// Where the name is defined, for diagnostics.
    public var location: SourceRange

    public init(name: String, entries: [TimeIntervalEntry], location: SourceRange) {
        self.name = name
        self.entries = entries
        self.location = location
    }

    public func contains(_ t: Double) -> Bool { entries.contains { $0.contains(t) } }
}

/// Several named intervals judged together (a rule's `active_during`, a route's
/// `mute_time_intervals`): inside when inside any of them. `stretch(at:)` answers whether an
/// instant is inside and until when that stays so; a small memo of the last stretch makes
/// the answer for readings in time order a comparison.
public struct TimeIntervalSet: Sendable {
    public let intervals: [NamedTimeInterval]
    private var memoFrom = Double.infinity
    private var memoUntil = -Double.infinity
    private var memoInside = false

    /// How far ahead boundaries are searched; beyond it the state is taken as lasting a year.
    static let searchDays = [2, 32, 367]

    public init(_ intervals: [NamedTimeInterval]) { self.intervals = intervals }

    public var names: [String] { intervals.map(\.name) }

    public func contains(_ t: Double) -> Bool { intervals.contains { $0.contains(t) } }

    /// Whether `t` is inside, and the first instant after `t` where that changes (at most a
    /// year ahead: a state that lasts longer is re-judged then).
    public mutating func stretch(at t: Double) -> (inside: Bool, until: Double) {
        if t >= memoFrom, t < memoUntil { return (memoInside, memoUntil) }
        let inside = contains(t)
        var until = t + 366 * 86400
        for days in Self.searchDays {
            // Every boundary of every entry before `reliable` has been generated (zones differ
            // from UTC by less than a day), so the first change found before it is the first.
            let reliable = t + Double(days - 1) * 86400
            let candidates = Set(intervals.flatMap { $0.entries.flatMap { $0.boundaries(from: t, days: days) } })
                .filter { $0 > t }.sorted()
            if let change = candidates.first(where: { contains($0) != inside }), change <= reliable {
                until = change
                break
            }
        }
        memoFrom = t
        memoUntil = until
        memoInside = inside
        return (inside, until)
    }
}

/// Reads `time_intervals:` mappings, for the policy and the delivery files alike.
public enum TimeIntervalReader {
    public static let weekdayNames = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
    public static let monthNames = [
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
        "november", "december",
    ]

    /// The keys of one entry: the single source of the decoder's key checks and the JSON Schema.
    public static let entryFields: [FieldSpec] = [
        FieldSpec(
            "times", .list(.text),
            "local time ranges \"HH:MM-HH:MM\" (end exclusive; an end before the start runs past midnight)"),
        FieldSpec("weekdays", .list(.text), "days of the week or ranges, e.g. monday:friday"),
        FieldSpec("days_of_month", .list(.text), "days 1..31 or ranges; negative counts from the end (-1: last day)"),
        FieldSpec("months", .list(.text), "month names or numbers, or ranges, e.g. june:august"),
        FieldSpec("years", .list(.text), "years or ranges, e.g. 2026:2027"),
        FieldSpec("dates", .list(.text), "local calendar days or ranges, e.g. 2026-12-24:2026-12-26"),
        FieldSpec("location", .text, "IANA time zone of the fields, e.g. Europe/Berlin (default UTC)"),
    ]

    /// The `time_intervals:` mapping: name → list of entries. Problems go to `bag`; an
    /// interval with a mistake is left out (and reported), the others are read.
    public static func read(_ node: YAMLNode, into bag: inout DiagnosticBag) -> [NamedTimeInterval] {
        guard case .mapping(let entries) = node.kind else {
            bag.error(
                .wrongType, "time_intervals must be a mapping of names to lists, found \(node.typeDescription)",
                at: node.range,
                hint: "e.g. time_intervals: { night-shift: [ { times: [\"22:00-06:00\"] } ] }")
            return []
        }
        var out: [NamedTimeInterval] = []
        for entry in bag.unique(entries) {
            guard let name = bag.name(entry.key, "time interval name") else { continue }
            let items: [YAMLNode]
            if case .mapping = entry.value.kind {
                items = [entry.value]
            } else {
                guard let list = bag.sequence(entry.value, "time interval '\(name)'") else { continue }
                items = list
            }
            var parsed: [TimeIntervalEntry] = []
            var ok = true
            for item in items {
                if let e = self.entry(item, of: name, into: &bag) { parsed.append(e) } else { ok = false }
            }
            if items.isEmpty {
                bag.error(
                    .invalidTimeRange, "time interval '\(name)' has no entry", at: entry.value.range,
                    hint: "give at least one entry, e.g. - { weekdays: [saturday, sunday] }")
                ok = false
            }
            if ok { out.append(NamedTimeInterval(name: name, entries: parsed, location: entry.key.range)) }
        }
        return out
    }

    static func entry(_ node: YAMLNode, of name: String, into bag: inout DiagnosticBag) -> TimeIntervalEntry? {
        guard
            let f = bag.fields(
                node, in: "an entry of time interval '\(name)'", known: entryFields.map(\.name), required: [])
        else { return nil }
        var zone = TimeZone(identifier: "UTC") ?? TimeZone.current
        var ok = true
        if let e = f["location"] {
            if let s = bag.string(e.value, "location") {
                if let z = TimeZone(identifier: s), s.lowercased() != "local" {
                    zone = z
                } else {
                    let known = TimeZone.knownTimeZoneIdentifiers
                    bag.error(
                        .invalidTimeZone, "unknown time zone '\(s)'", at: e.value.range,
                        hint: Suggestion.hint(for: s, in: known)
                            ?? "an IANA time zone name such as Europe/Berlin, America/New_York or UTC")
                    ok = false
                }
            } else {
                ok = false
            }
        }
        var out = TimeIntervalEntry(location: zone)
        func list(_ key: String) -> [YAMLNode]? {
            guard let e = f[key] else { return nil }
            if case .scalar = e.value.kind, !e.value.isNull { return [e.value] }
            guard let items = bag.sequence(e.value, key) else {
                ok = false
                return nil
            }
            return items
        }
        for item in list("times") ?? [] {
            if let r = times(item, &bag) { out.times.append(r) } else { ok = false }
        }
        for item in list("weekdays") ?? [] {
            if let r = range(item, "weekdays", names: weekdayNames, base: 0, bounds: 0...6, &bag) {
                out.weekdays.append(r)
            } else {
                ok = false
            }
        }
        for item in list("days_of_month") ?? [] {
            if let r = daysOfMonth(item, &bag) { out.daysOfMonth.append(r) } else { ok = false }
        }
        for item in list("months") ?? [] {
            if let r = range(item, "months", names: monthNames, base: 1, bounds: 1...12, &bag) {
                out.months.append(r)
            } else {
                ok = false
            }
        }
        for item in list("years") ?? [] {
            if let r = range(item, "years", names: [], base: 0, bounds: 1970...9999, &bag) {
                out.years.append(r)
            } else {
                ok = false
            }
        }
        for item in list("dates") ?? [] {
            if let r = dates(item, &bag) { out.dates.append(r) } else { ok = false }
        }
        return ok ? out : nil
    }

    private static func text(_ node: YAMLNode) -> String? {
        guard case .scalar(let s, _) = node.kind, !node.isNull else { return nil }
        return s.trimmingCharacters(in: .whitespaces)
    }

    /// `"HH:MM-HH:MM"`; `24:00` may end a range.
    static func times(_ node: YAMLNode, _ bag: inout DiagnosticBag) -> TimeIntervalEntry.Times? {
        func minutes(_ s: Substring, end: Bool) -> Int? {
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let h = Int(parts[0]),
                let m = Int(parts[1]), h >= 0, m >= 0, m < 60
            else { return nil }
            if h == 24, m == 0, end { return 24 * 60 }
            return h < 24 ? h * 60 + m : nil
        }
        let s = text(node) ?? ""
        let halves = s.split(separator: "-", omittingEmptySubsequences: false)
        guard halves.count == 2, let a = minutes(halves[0], end: false), let b = minutes(halves[1], end: true), a != b
        else {
            bag.error(
                .invalidTimeRange, "a time range must be \"HH:MM-HH:MM\" with two different times, found '\(s)'",
                at: node.range,
                hint: "e.g. \"06:00-10:00\"; \"22:00-06:00\" runs past midnight; \"00:00-24:00\" is the whole day")
            return nil
        }
        return TimeIntervalEntry.Times(start: a, end: b == 24 * 60 ? 24 * 60 : b)
    }

    /// A single value or `a:b`, by name (weekdays, months) or number.
    static func range(
        _ node: YAMLNode, _ key: String, names: [String], base: Int, bounds: ClosedRange<Int>,
        _ bag: inout DiagnosticBag
    ) -> ClosedRange<Int>? {
        let s = (text(node) ?? "").lowercased()
        func value(_ p: Substring) -> Int? {
            if let i = names.firstIndex(of: String(p)) { return i + base }
            if let v = Int(p), bounds.contains(v), names.isEmpty || key == "months" { return v }
            return nil
        }
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        let example = names.isEmpty ? "2026:2027" : "\(names[base == 0 ? 1 : 0]):\(names[base == 0 ? 5 : 2])"
        guard parts.count <= 2, let a = value(parts[0]), let b = parts.count == 2 ? value(parts[1]) : a else {
            let word = parts.first.map(String.init) ?? s
            bag.error(
                .invalidTimeRange, "invalid \(key) value '\(s)'", at: node.range,
                hint: Suggestion.hint(for: word, in: names)
                    ?? "a value or a range written first:last, e.g. \(example)")
            return nil
        }
        guard a <= b else {
            bag.error(
                .invalidTimeRange, "the \(key) range '\(s)' ends before it starts", at: node.range,
                hint: "write the earlier one first, or split it in two, e.g. [saturday, sunday]")
            return nil
        }
        return a...b
    }

    static func daysOfMonth(_ node: YAMLNode, _ bag: inout DiagnosticBag) -> ClosedRange<Int>? {
        let s = text(node) ?? ""
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        func day(_ p: Substring) -> Int? {
            guard let v = Int(p), v != 0, (-31...31).contains(v) else { return nil }
            return v
        }
        guard parts.count <= 2, let a = day(parts[0]), let b = parts.count == 2 ? day(parts[1]) : a,
            (a < 0) == (b < 0), a <= b
        else {
            bag.error(
                .invalidTimeRange, "invalid days_of_month value '\(s)'", at: node.range,
                hint: "a day 1..31 or a range first:last; negative days count from the end, e.g. -3:-1")
            return nil
        }
        return a...b
    }

    static func dates(_ node: YAMLNode, _ bag: inout DiagnosticBag) -> ClosedRange<Int>? {
        let s = text(node) ?? ""
        func day(_ p: Substring) -> Int? {
            let f = p.split(separator: "-", omittingEmptySubsequences: false)
            guard f.count == 3, f[0].count == 4, f[1].count == 2, f[2].count == 2, let y = Int(f[0]), let m = Int(f[1]),
                let d = Int(f[2]), (1...12).contains(m), d >= 1, d <= Timestamp.daysIn(m, y)
            else { return nil }
            return y * 10000 + m * 100 + d
        }
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let a = day(parts[0]), let b = parts.count == 2 ? day(parts[1]) : a, a <= b else {
            bag.error(
                .invalidTimeRange, "invalid dates value '\(s)'", at: node.range,
                hint: "a local day YYYY-MM-DD or a range first:last, e.g. 2026-12-24:2026-12-26")
            return nil
        }
        return a...b
    }

    /// Resolves names against the defined intervals; unknown ones are `code` errors with a hint.
    public static func resolve(
        _ node: YAMLNode, _ place: String, in defined: [String: NamedTimeInterval], code: DiagnosticCode,
        into bag: inout DiagnosticBag
    ) -> [NamedTimeInterval]? {
        let items: [YAMLNode]
        if case .scalar = node.kind, !node.isNull {
            items = [node]
        } else {
            guard let list = bag.sequence(node, place) else { return nil }
            items = list
        }
        var out: [NamedTimeInterval] = []
        var ok = true
        for item in items {
            guard let s = bag.string(item, "an interval name in \(place)") else {
                ok = false
                continue
            }
            guard let interval = defined[s] else {
                bag.error(
                    code, "unknown time interval '\(s)' in \(place)", at: item.range,
                    hint: Suggestion.hint(for: s, in: defined.keys)
                        ?? (defined.isEmpty
                            ? "define it under `time_intervals:`"
                            : "defined intervals: \(defined.keys.sorted().joined(separator: ", "))"))
                ok = false
                continue
            }
            out.append(interval)
        }
        return ok ? out : nil
    }
}
