/// Scalar readers with located errors, shared by every YAML file the project reads (policies,
/// delivery configuration), so the same mistake gets the same message everywhere.
extension DiagnosticBag {
    public mutating func string(_ node: YAMLNode, _ place: String) -> String? {
        guard case .scalar(let s, _) = node.kind, !node.isNull else {
            error(.wrongType, "\(place) must be a string, found \(node.typeDescription)", at: node.range)
            return nil
        }
        return s
    }

    public mutating func integer(_ node: YAMLNode, _ place: String, minimum: Int) -> Int? {
        guard case .scalar(let s, .plain) = node.kind, let v = Int(s) else {
            error(.wrongType, "\(place) must be a whole number, found \(node.typeDescription)", at: node.range)
            return nil
        }
        guard v >= minimum else {
            error(.invalidValue, "\(place) must be at least \(minimum), found \(v)", at: node.range)
            return nil
        }
        return v
    }

    public mutating func bool(_ node: YAMLNode, _ place: String) -> Bool? {
        if case .scalar(let s, .plain) = node.kind, s == "true" || s == "false" { return s == "true" }
        error(.wrongType, "\(place) must be true or false, found \(node.typeDescription)", at: node.range)
        return nil
    }
}

/// Mapping and list readers and the scalar kinds every file shares (names, durations,
/// timestamps), with the same checks and hints for policies, tests and delivery files.
extension DiagnosticBag {
    /// The mapping's entries keyed by name, after duplicate, unknown and missing key checks.
    /// `required` lists the keys that must be present, in the order they are reported;
    /// `hint` gives the hint of a missing key's error.
    public mutating func fields(
        _ node: YAMLNode, in place: String, known: [String], required: [String],
        hint: (String) -> String? = { _ in nil }
    ) -> [String: YAMLEntry]? {
        guard case .mapping(let entries) = node.kind else {
            error(.wrongType, "\(place) must be a mapping, found \(node.typeDescription)", at: node.range)
            return nil
        }
        var out: [String: YAMLEntry] = [:]
        var suggested: Set<String> = []
        for entry in unique(entries) {
            if known.contains(entry.name) {
                out[entry.name] = entry
            } else {
                let closest = Suggestion.closest(to: entry.name, in: known)
                if let closest { suggested.insert(closest) }
                error(
                    .unknownKey, "unknown key '\(entry.name)' in \(place)", at: entry.key.range,
                    hint: closest.map { "did you mean '\($0)'?" }
                        ?? "accepted keys: \(known.joined(separator: ", "))")
            }
        }
        // A misspelled required key is reported once, as the unknown key with its correction.
        for name in required where out[name] == nil && !suggested.contains(name) {
            error(.missingField, "\(place) is missing the required key '\(name)'", at: node.range, hint: hint(name))
        }
        return out
    }

    /// Entries with duplicates reported (E0106) and dropped; the first one wins.
    public mutating func unique(_ entries: [YAMLEntry]) -> [YAMLEntry] {
        var seen: [String: YAMLEntry] = [:]
        var out: [YAMLEntry] = []
        for e in entries {
            if let first = seen[e.name] {
                error(
                    .duplicateKey, "duplicate key '\(e.name)'", at: e.key.range,
                    hint: "a key may appear only once in a mapping; merge the two or remove one",
                    notes: [Diagnostic.Note(message: "first defined here", range: first.key.range)])
                continue
            }
            seen[e.name] = e
            out.append(e)
        }
        return out
    }

    public mutating func sequence(_ node: YAMLNode, _ place: String, hint: String? = nil) -> [YAMLNode]? {
        guard case .sequence(let items) = node.kind else {
            error(.wrongType, "\(place) must be a list, found \(node.typeDescription)", at: node.range, hint: hint)
            return nil
        }
        return items
    }

    /// Lowercase letters, digits, `-` and `_`, starting with a letter.
    public mutating func name(_ node: YAMLNode, _ place: String) -> String? {
        guard let s = string(node, place) else { return nil }
        let ok =
            s.first.map { $0.isASCII && $0.isLowercase } == true
            && s.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" || $0 == "_" }
        guard ok else {
            error(
                .invalidName, "invalid \(place) '\(s)'", at: node.range,
                hint:
                    "use lowercase letters, digits, '-' and '_', starting with a letter, e.g. '\(Self.suggestName(s))'")
            return nil
        }
        return s
    }

    /// `s` respelled as a valid name: lowercase, other characters folded into single dashes.
    public static func suggestName(_ s: String) -> String {
        var out = ""
        for c in s.lowercased() {
            if c.isASCII && (c.isLetter || c.isNumber) || c == "_" {
                out.append(c)
            } else if out.last != "-" {
                out.append("-")
            }
        }
        while out.first.map({ !$0.isLetter }) == true { out.removeFirst() }
        return out.isEmpty ? "my-rule" : out
    }

    /// A positive duration such as `10m`, `1h30m`, `7d`; `allowZero` also accepts `0s` (e.g. `for: 0s`, fire at once).
    public mutating func duration(_ node: YAMLNode, _ place: String, allowZero: Bool = false) -> Double? {
        guard case .scalar(let raw, _) = node.kind, !node.isNull else {
            error(.wrongType, "\(place) must be a duration, found \(node.typeDescription)", at: node.range)
            return nil
        }
        let s = raw.trimmingCharacters(in: .whitespaces)
        if s.hasPrefix("-") {
            error(
                .invalidDuration, "\(place) must be positive, found '\(s)'", at: node.range,
                hint: "durations count forward in event time, e.g. \(s.dropFirst())")
            return nil
        }
        if Double(s) != nil {
            error(
                .invalidDuration, "\(place) '\(s)' has no unit", at: node.range,
                hint: "add a unit: \(s)s, \(s)m, \(s)h or \(s)d")
            return nil
        }
        guard let v = DurationText.seconds(s) else {
            error(
                .invalidDuration, "invalid duration '\(s)' in \(place)", at: node.range,
                hint: DurationText.respelled(s).map { "write \($0)" }
                    ?? "durations are a number and a unit: ms, s, m, h, d or w (e.g. 10m, 1h30m, 7d)")
            return nil
        }
        guard v > 0 || (allowZero && v == 0) else {
            error(
                .invalidDuration, "\(place) must be longer than zero", at: node.range,
                hint: "use a positive duration such as 5m or 1h")
            return nil
        }
        return v
    }

    /// An RFC 3339 timestamp with date, time and zone.
    public mutating func timestamp(_ node: YAMLNode, _ place: String) -> Double? {
        guard case .scalar(let s, _) = node.kind, !node.isNull, let t = Timestamp.parse(s) else {
            let found = if case .scalar(let s, _) = node.kind, !node.isNull { "'\(s)'" } else { node.typeDescription }
            error(
                .invalidTimestamp, "\(place) must be an RFC 3339 timestamp, found \(found)",
                at: node.range, hint: "date, time and zone, with a valid day and time, e.g. 2026-03-02T00:00:00Z")
            return nil
        }
        return t
    }
}
