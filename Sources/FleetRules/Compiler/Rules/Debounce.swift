/// Debounce of an alert: `for` and `clear_for` as a duration of event time or a count of
/// consecutive readings (`for: 3 readings`) of the metrics the condition reads.
public struct Debounce: Sendable, Hashable {
    /// A span of event time or a number of consecutive readings.
    public enum Span: Sendable, Hashable {
        case duration(Double)
        case readings(Int)
    }

    /// Readings before the alert fires (0: `for` is a duration, in the rule's `forDuration`).
    public var forReadings = 0
    /// Once firing, the alert resolves only after its clear condition held this long
    /// (a duration) or on this many consecutive readings; nil: at once.
    public var clearFor: Span?

    var isEmpty: Bool { forReadings == 0 && clearFor == nil }

    /// State per device: the phase (1, padded to 8) and the count or clear start (8).
    static let stateBytes = 16

    static let readingsPattern = "^[1-9][0-9]* readings?$"
    /// The most readings a count may name.
    static let maxReadings = 1_000_000

    static let forType = FieldType.oneOf([.duration, .readings])

    static let clearForSpec = FieldSpec(
        "clear_for", forType,
        "once firing, resolve only after the clear condition held this long (a duration) or on this many consecutive readings"
    )

    /// `N readings` / `1 reading`, or nil when the text is not a count.
    static func readings(_ text: String) -> Int?? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, parts[1] == "readings" || parts[1] == "reading" else { return nil }
        guard let n = Int(parts[0]), n >= 1, n <= maxReadings else { return .some(nil) }
        return .some(n)
    }
}

extension DecodeContext {
    /// A `for` or `clear_for` value: `N readings` or a duration.
    mutating func span(_ node: YAMLNode, _ place: String, allowZero: Bool) -> Debounce.Span? {
        if case .scalar(let raw, _) = node.kind, let count = Debounce.readings(raw.trimmingCharacters(in: .whitespaces))
        {
            guard let count else {
                diagnostics.error(
                    .invalidReadingCount,
                    "\(place) counts 1 to \(Debounce.maxReadings) readings, found '\(raw)'", at: node.range,
                    hint: "e.g. \(place): 3 readings")
                return nil
            }
            return .readings(count)
        }
        return duration(node, place, allowZero: allowZero).map(Debounce.Span.duration)
    }
}

extension Rule {
    /// The debounce of an alert rule (empty for other kinds and plain alerts).
    var debounce: Debounce {
        if case .alert(let a) = body { return a.debounce }
        return Debounce()
    }

    /// Plan steps of a rule's counted `for` and its `clear_for`.
    var debounceSteps: [String] {
        let d = debounce
        var steps: [String] = []
        if d.forReadings > 0 { steps.append("for \(d.forReadings) consecutive readings") }
        switch d.clearFor {
        case .duration(let s)?: steps.append("clear_for \(DurationText.format(s)): resolve once clear held that long")
        case .readings(let n)?: steps.append("clear_for \(n) consecutive readings")
        case nil: break
        }
        return steps
    }

    /// The evidence of a rule's debounce.
    var debounceEvidence: [(String, JSONValue)] {
        let d = debounce
        var out: [(String, JSONValue)] = []
        if d.forReadings > 0 { out.append(("for_readings", .number(Double(d.forReadings)))) }
        switch d.clearFor {
        case .duration(let s)?: out.append(("clear_for_seconds", .number(s)))
        case .readings(let n)?: out.append(("clear_for_readings", .number(Double(n))))
        case nil: break
        }
        return out
    }
}

extension AlertRule {
    /// What besides its condition and `for` tells two alerts apart for the repeated-rule
    /// warning (W0305): the levels and the debounce; empty for a plain alert.
    var signatureSuffix: String {
        var out = ""
        for l in levels {
            out += "|\(l.severity.rawValue):\(l.condition):\(l.clear?.description ?? "-"):\(l.forDuration)"
        }
        if !debounce.isEmpty { out += "|\(debounce.forReadings):\(String(describing: debounce.clearFor))" }
        return out
    }
}
