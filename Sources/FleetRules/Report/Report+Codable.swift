import Foundation

// The report's types are `Codable` in the shape of report format 1 (docs/REPORT.md). Each type
// writes the same `JSONValue` the report is built from (`json()` here and in the section files)
// and reads through `ReportDecoder.swift`, so the format has one writer and one reader whichever
// coder is used. `FleetJSONEncoder` gives the bytes `fleetrules run --format json` writes; with
// Foundation's `JSONDecoder`, which does not report the order of an object's keys, alert evidence
// takes the order the engine writes it in (`Report.evidenceOrder`), and sections a newer version
// wrote that this one does not type keep their content with sorted keys.

extension Report: Codable {
    /// Writes report format 1: through ``FleetJSONEncoder``, the bytes `fleetrules run` writes.
    public func encode(to encoder: Encoder) throws { try json().encode(to: encoder) }

    /// Reads report format 1 as `fleetrules run` writes it.
    /// - Throws: `DecodingError.dataCorrupted` with the JSON path of the problem.
    public init(from decoder: Decoder) throws {
        self = try Self.decoding(decoder) { try Report.decode($0.value, documentOrder: $1) }
    }

    /// Runs a `ReportDecoder` reading over the decoder's value, its errors as `DecodingError`s.
    static func decoding<T>(_ decoder: Decoder, _ read: (Field, Bool) throws -> T) throws -> T {
        let value = try JSONValue(from: decoder)
        do {
            return try read(Field(value, ""), JSONValue.keepsKeyOrder(decoder))
        } catch let error as ReportDecodeError {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: error.description, underlyingError: error))
        }
    }

    /// Per rule kind, the order the engine writes evidence keys in; keys not listed follow in
    /// alphabetical order. Used only when a decoder did not keep the document's key order.
    static let evidenceOrder: [RuleKind: [String]] = [
        .alert: [
            "condition", "for_seconds", "clear", "levels", "for_readings", "clear_for_seconds", "clear_for_readings",
            "severity_changes",
        ],
        .limit: ["scope", "zone", "device_count", "devices", "episodes", "metric", "range", "for_seconds"],
        .forecast: [
            "state", "detail", "level", "slope_per_day", "crossing_at", "interval_low", "interval_high",
            "time_left_seconds", "points", "model", "threshold", "replaced_at",
        ],
        .compliance: [
            "state", "took_target", "failed", "failed_share", "abort_at", "min_devices", "first_failed", "type",
            "versions", "max_versions", "attribute", "version", "reported_at", "advisory", "reason",
            "denied", "baseline", "target", "overdue_seconds", "failed_updates",
        ],
        .drift: [
            "metric", "method", "offset", "onset", "statistic", "threshold", "tolerance", "test", "slope",
            "ramp_statistic", "reference", "peer_count", "peers",
        ],
        .correlation: [
            "group", "method", "coefficient", "n", "p_value", "adjusted_p", "correction", "groups_tested", "x", "y",
        ],
        .balance: [
            "finding", "site", "group", "gateway", "load", "mean", "deviation", "direction", "window_start",
        ],
        .group: ["group", "condition", "members", "matching", "matching_devices", "for_seconds"],
    ]

    /// Objects inside evidence (the entries of these keys' lists) whose keys are not written in
    /// alphabetical order: the order the engine writes them in.
    static let nestedEvidenceOrder: [String: [String]] = [
        "levels": ["severity", "condition", "for_seconds", "clear"],
        "severity_changes": ["time", "from", "to"],
    ]

    /// An object's members in `order`; keys not listed follow in alphabetical order.
    static func ordered(_ members: [(String, JSONValue)], _ order: [String]) -> [(String, JSONValue)] {
        func rank(_ key: String) -> Int { order.firstIndex(of: key) ?? order.count }
        return members.sorted { a, b in
            let (ra, rb) = (rank(a.0), rank(b.0))
            return ra != rb ? ra < rb : a.0 < b.0
        }
    }

    /// Evidence in the engine's key order for its rule kind (`evidenceOrder`).
    static func engineOrder(_ evidence: [(String, JSONValue)], kind: RuleKind) -> [(String, JSONValue)] {
        ordered(evidence, evidenceOrder[kind] ?? []).map { key, value in
            guard let order = nestedEvidenceOrder[key], case .array(let items) = value else { return (key, value) }
            return (
                key,
                .array(
                    items.map { item in
                        guard case .object(let members) = item else { return item }
                        return .object(ordered(members, order))
                    })
            )
        }
    }
}

extension Report.Alert: Codable {
    /// An entry of the report's `alerts`.
    func json() -> JSONValue {
        let e = episode
        var fields: [(String, JSONValue)] = [
            ("rule", .string(e.rule)), ("kind", .string(e.kind.rawValue)), ("device", .string(e.device)),
            ("site", .string(site)), ("zone", .string(zone)), ("severity", .string(e.severity.rawValue)),
            ("priority", .number(priority)), ("since", .string(Timestamp.format(e.since))),
            ("until", e.until.map { .string(Timestamp.format($0)) } ?? .null),
            ("value", e.value.map { .number($0) } ?? .null), ("summary", .string(e.summary)),
            ("labels", .object(e.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("evidence", .object(e.evidence)),
            ("related", .array(related.map { $0.json() })),
            ("grouped_under", groupedUnder.map { $0.json() } ?? .null),
        ]
        // Present only on muted alerts, so reports of rules without `mute_during` keep their shape.
        if let muted = e.muted { fields.append(("muted", .string(muted))) }
        // Present only on device alerts a firing group rule inhibits (`inhibits:`).
        if let i = e.inhibitedBy {
            fields.append(("inhibited_by", .object([("rule", .string(i.rule)), ("group", .string(i.group))])))
        }
        return .object(fields)
    }

    /// Writes the alert as an entry of the report's `alerts`.
    public func encode(to encoder: Encoder) throws { try json().encode(to: encoder) }

    /// Reads an entry of the report's `alerts` (the episode's pack is not part of it: empty).
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { try Report.alert($0, pack: "", documentOrder: $1) }
    }
}

extension Report.AlertRef: Codable {
    /// Writes the reference as in an alert's `related` and `grouped_under`.
    public func encode(to encoder: Encoder) throws { try json().encode(to: encoder) }

    /// Reads a reference as in an alert's `related` and `grouped_under`.
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { f, _ in try Report.ref(f) }
    }
}

extension Report.Task: Codable {
    /// Writes the task as in a visit's `tasks`, with its `site` first.
    public func encode(to encoder: Encoder) throws { try withSite(json()).encode(to: encoder) }

    /// Reads a task with its `site`.
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { f, _ in try Report.task(f, site: try f.member("site").string()) }
    }

    /// The task's members after its `site`.
    func withSite(_ value: JSONValue) -> JSONValue {
        guard case .object(let fields) = value else { return value }
        return .object([("site", .string(site))] + fields)
    }
}

extension Report.Visit: Codable {
    /// An entry of the report's `maintenance`.
    func json() -> JSONValue {
        .object([
            ("site", .string(site)), ("date", .string(date)), ("priority", .number(priority)),
            ("tasks", .array(tasks.map { $0.json() })),
        ])
    }

    /// Writes the visit as an entry of the report's `maintenance`.
    public func encode(to encoder: Encoder) throws { try json().encode(to: encoder) }

    /// Reads an entry of the report's `maintenance`.
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { f, _ in try Report.visit(f) }
    }
}

extension Report.Unmet: Codable {
    /// An entry of the report's `maintenance_unmet`.
    func json() -> JSONValue {
        guard case .object(let fields) = task.withSite(task.json()) else { return .null }
        return .object(fields + [("reason", .string(reason)), ("scheduled", .string(scheduled))])
    }

    /// Writes the task as an entry of the report's `maintenance_unmet`.
    public func encode(to encoder: Encoder) throws { try json().encode(to: encoder) }

    /// Reads an entry of the report's `maintenance_unmet`.
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { f, _ in try Report.unmet(f) }
    }
}

extension Report.Compliance: Codable {
    /// Writes the rule's entry of the report's `compliance` object, with its `rule` first.
    public func encode(to encoder: Encoder) throws {
        guard case .object(let fields) = Report.json(self) else { return }
        try JSONValue.object([("rule", .string(rule))] + fields).encode(to: encoder)
    }

    /// Reads a rule's entry of the report's `compliance` object with its `rule`.
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { f, _ in try Report.complianceRule(try f.member("rule").string(), f) }
    }
}

extension Report.Move: Codable {
    /// Writes the move as an entry of the report's `rebalancing`.
    public func encode(to encoder: Encoder) throws { try json.encode(to: encoder) }

    /// Reads an entry of the report's `rebalancing`.
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { f, _ in try Report.move(f) }
    }
}

extension Report.BalanceGroup: Codable {
    /// Writes the group as an entry of the report's `rebalancing_groups`.
    public func encode(to encoder: Encoder) throws { try json.encode(to: encoder) }

    /// Reads an entry of the report's `rebalancing_groups`.
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { f, _ in try Report.balanceGroup(f) }
    }
}

extension Report.Drift: Codable {
    /// Writes the rule's entry of the report's `drift` object, with its `rule` first.
    public func encode(to encoder: Encoder) throws {
        let section = Report(
            packs: [], from: nil, to: nil, input: InputStats(), devices: 0, devicesReporting: 0, alerts: [],
            maintenance: [], drift: [self], notEvaluated: []
        ).statisticsSections
        guard case .object(let rules)? = section.first?.1, case .object(let fields)? = rules.first?.1 else { return }
        try JSONValue.object([("rule", .string(rule))] + fields).encode(to: encoder)
    }

    /// Reads a rule's entry of the report's `drift` object with its `rule`.
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { f, _ in try Report.drift(try f.member("rule").string(), f) }
    }
}

extension Report.Correlation: Codable {
    /// Writes the group as an entry of the report's `correlations`.
    public func encode(to encoder: Encoder) throws {
        let section = Report(
            packs: [], from: nil, to: nil, input: InputStats(), devices: 0, devicesReporting: 0, alerts: [],
            maintenance: [], correlations: [self], notEvaluated: []
        ).statisticsSections
        guard case .array(let items)? = section.first?.1, let item = items.first else { return }
        try item.encode(to: encoder)
    }

    /// Reads an entry of the report's `correlations`.
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { f, _ in try Report.correlation(f) }
    }
}

extension ForecastSnapshot: Codable {
    /// Writes the snapshot as an entry of the report's `forecasts`.
    public func encode(to encoder: Encoder) throws { try json().encode(to: encoder) }

    /// Reads an entry of the report's `forecasts`.
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { f, _ in try Report.forecast(f) }
    }
}

extension ForecastCurve: Codable {
    /// Writes the curve as an entry of the report's `forecast_curves`.
    public func encode(to encoder: Encoder) throws { try json().encode(to: encoder) }

    /// Reads an entry of the report's `forecast_curves`.
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { f, _ in try Report.curve(f) }
    }
}

extension ForecastCurve.Band: Codable {
    /// Writes the band as in a curve's `bands`.
    public func encode(to encoder: Encoder) throws {
        try JSONValue.object([
            ("from", .number(from)), ("to", .number(to)), ("multiplier", .number(multiplier)),
            ("ratios", .number(Double(ratios))),
        ]).encode(to: encoder)
    }

    /// Reads a band as in a curve's `bands`.
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { f, _ in try Report.band(f) }
    }
}

extension InputStats: Codable {
    /// `rejected`, `dropped_values` and `examples` as the report's `input` section writes them.
    var countsJSON: [(String, JSONValue)] {
        let reasons = RejectReason.allCases.sorted()
        let examples: [JSONValue] = examples.map { e in
            var m: [(String, JSONValue)] = [("reason", .string(e.reason.rawValue))]
            if let o = e.origin {
                m.append(("file", .string(o.file)))
                m.append(("line", .number(Double(o.line))))
            }
            m.append(("message", .string(e.message)))
            return .object(m)
        }
        return [
            ("rejected", .object(reasons.compactMap { r in rejected[r].map { (r.rawValue, .number(Double($0))) } })),
            (
                "dropped_values",
                .object(reasons.compactMap { r in droppedValues[r].map { (r.rawValue, .number(Double($0))) } })
            ),
            ("examples", .array(examples)),
        ]
    }

    /// Writes `readings`, the counts as in the report's `input` section, and the `window` of
    /// event times.
    public func encode(to encoder: Encoder) throws {
        try JSONValue.object(
            [("readings", .number(Double(readings)))] + countsJSON + [
                (
                    "window",
                    .object([
                        ("from", .string(firstTimestamp.map(Timestamp.format))),
                        ("to", .string(lastTimestamp.map(Timestamp.format))),
                    ])
                )
            ]
        ).encode(to: encoder)
    }

    /// Reads what `encode(to:)` writes.
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { f, _ in try Report.inputStats(f, window: f.optional("window")) }
    }
}

extension AlertEpisode: Codable {
    /// The episode as a report alert writes it, with its `pack` (and `site` for a group-level
    /// finding); the maintenance settings stay with the rule and are not written.
    public func encode(to encoder: Encoder) throws {
        var fields: [(String, JSONValue)] = [
            ("rule", .string(rule)), ("kind", .string(kind.rawValue)), ("pack", .string(pack)),
            ("device", .string(device)),
        ]
        if let site { fields.append(("site", .string(site))) }
        fields += [
            ("severity", .string(severity.rawValue)), ("since", .string(Timestamp.format(since))),
            ("until", until.map { .string(Timestamp.format($0)) } ?? .null),
            ("value", value.map { .number($0) } ?? .null), ("summary", .string(summary)),
            ("labels", .object(labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("evidence", .object(evidence)),
        ]
        if let due { fields.append(("due", .string(Timestamp.format(due)))) }
        try JSONValue.object(fields).encode(to: encoder)
    }

    /// Reads what `encode(to:)` writes.
    public init(from decoder: Decoder) throws {
        self = try Report.decoding(decoder) { f, keepsOrder in
            var e = try Report.episode(f, pack: "", documentOrder: keepsOrder)
            e.site = try f.optional("site")?.string()
            e.due = try f.optional("due")?.timestamp()
            return e
        }
    }
}

extension AlertEvent: Codable {
    /// `{"change", "time", "episode"}`, the time as RFC 3339.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: AnyCodingKey.self)
        try c.encode(change.rawValue, forKey: AnyCodingKey(stringValue: "change"))
        try c.encode(Timestamp.format(time), forKey: AnyCodingKey(stringValue: "time"))
        try c.encode(episode, forKey: AnyCodingKey(stringValue: "episode"))
    }

    /// Reads what `encode(to:)` writes.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyCodingKey.self)
        let changeText = try c.decode(String.self, forKey: AnyCodingKey(stringValue: "change"))
        let timeText = try c.decode(String.self, forKey: AnyCodingKey(stringValue: "time"))
        guard let change = Change(rawValue: changeText) else {
            throw DecodingError.dataCorruptedError(
                forKey: AnyCodingKey(stringValue: "change"), in: c, debugDescription: "unknown change '\(changeText)'")
        }
        guard let time = Timestamp.parse(timeText) else {
            throw DecodingError.dataCorruptedError(
                forKey: AnyCodingKey(stringValue: "time"), in: c,
                debugDescription: "not an RFC 3339 timestamp: '\(timeText)'")
        }
        self.init(
            change: change, time: time,
            episode: try c.decode(AlertEpisode.self, forKey: AnyCodingKey(stringValue: "episode")))
    }
}
