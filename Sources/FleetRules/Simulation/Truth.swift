import Foundation

/// A problem with one of the scorer's input files: unreadable, not JSON, or a missing or
/// mistyped field. The description names the file and the field.
public struct ScoreInputError: Error, Sendable, CustomStringConvertible {
    public var file: String
    /// Where in the document, e.g. `battery[3].crosses_5pct_at`; empty for the whole file.
    public var field: String
    public var message: String

    public var description: String {
        field.isEmpty ? "\(file): \(message)" : "\(file): \(field): \(message)"
    }
}

/// The simulator's `truth.json` (docs/SIMULATOR.md), typed. Timestamps are seconds since the epoch.
public struct SimulationTruth: Sendable {
    public struct Battery: Sendable {
        public var device: String
        public var shape: String
        /// When the true charge first reaches 5%; nil when it does not within the simulated span.
        public var crossesAt: Double?
        public var replacedAt: Double?
        /// For a replaced battery, when the battery it replaced would have reached 5%.
        public var replacedBatteryCrossesAt: Double?
        /// The cell type (empty when the truth does not say).
        public var cell = ""
        /// For a cell with an abrupt knee, when its true charge first reaches the knee.
        public var kneeAt: Double?
    }

    public struct Firmware: Sendable {
        public var device: String
        public var type: String
        public var state: String
    }

    public struct Drift: Sendable {
        public var device: String
        public var metric: String
        public var kind: String
        public var onset: Double
        /// The drift's full size (signed, in the metric's unit); nil when the truth does not say.
        public var magnitude: Double?
        /// When a ramp reaches its full size; nil: at the end of the data.
        public var fullAt: Double?

        public init(
            device: String, metric: String, kind: String, onset: Double, magnitude: Double? = nil, fullAt: Double? = nil
        ) {
            self.device = device
            self.metric = metric
            self.kind = kind
            self.onset = onset
            self.magnitude = magnitude
            self.fullAt = fullAt
        }

        /// When the true offset first exceeds `tolerance` (in absolute value) within `[onset, end]`:
        /// the onset for a step, the point of the line from the onset to the full size for a ramp;
        /// nil when it never does or the size is unknown.
        public func crossing(tolerance: Double, end: Double) -> Double? {
            guard let magnitude, abs(magnitude) > tolerance else { return nil }
            if kind != "ramp" { return onset <= end ? onset : nil }
            let full = fullAt ?? end
            let at = onset + tolerance / abs(magnitude) * max(0, full - onset)
            return at <= end ? at : nil
        }
    }

    public struct Excursion: Sendable {
        public var site: String
        public var zone: String
        public var metric: String
        public var start: Double
        public var end: Double
    }

    public struct GatewayGroup: Sendable {
        public var site: String
        public var imbalanced: Bool
        /// Devices behind each gateway, sorted by gateway id.
        public var loads: [(gateway: String, devices: Double)]
    }

    public var start: Double
    public var end: Double
    public var battery: [Battery]
    public var firmware: [Firmware]
    public var drift: [Drift]
    public var excursions: [Excursion]
    public var gateways: [GatewayGroup]

    /// Reads and checks a truth file.
    public static func load(path: String) throws -> SimulationTruth {
        try parse(ScoreJSON.read(path: path), file: path)
    }

    /// Parses a truth document; `file` names it in errors.
    public static func parse(_ data: Data, file: String) throws -> SimulationTruth {
        let root = try ScoreJSON.root(data, file: file)
        let format = try root.member("format").number()
        guard format == 1 else {
            throw try root.member("format").error("unsupported truth format \(JSONValue.format(format)), expected 1")
        }
        let start = try root.member("start").timestamp()
        let end = try root.member("end").timestamp()
        guard end >= start else { throw try root.member("end").error("is before start") }
        return SimulationTruth(
            start: start, end: end,
            battery: try root.member("battery").array().map { b in
                Battery(
                    device: try b.member("device").string(), shape: try b.optional("shape")?.string() ?? "",
                    crossesAt: try b.member("crosses_5pct_at").optionalTimestamp(),
                    replacedAt: try b.optional("replaced_at")?.optionalTimestamp(),
                    replacedBatteryCrossesAt: try b.optional("replaced_battery_crosses_5pct_at")?.optionalTimestamp(),
                    cell: try b.optional("cell")?.string() ?? "",
                    kneeAt: try b.optional("knee_at")?.optionalTimestamp())
            },
            firmware: try root.member("firmware").array().map { f in
                Firmware(
                    device: try f.member("device").string(), type: try f.optional("type")?.string() ?? "",
                    state: try f.member("state").string())
            },
            drift: try root.member("drift").array().map { d in
                Drift(
                    device: try d.member("device").string(), metric: try d.optional("metric")?.string() ?? "",
                    kind: try d.optional("kind")?.string() ?? "", onset: try d.member("onset").timestamp(),
                    magnitude: try d.optional("magnitude")?.number(), fullAt: try d.optional("full_at")?.timestamp())
            },
            excursions: try root.member("excursions").array().map { e in
                let excursion = Excursion(
                    site: try e.member("site").string(), zone: try e.member("zone").string(),
                    metric: try e.member("metric").string(), start: try e.member("start").timestamp(),
                    end: try e.member("end").timestamp())
                guard excursion.end >= excursion.start else { throw try e.member("end").error("is before start") }
                return excursion
            },
            gateways: try root.member("gateways").array().map { g in
                let loads = try g.member("loads").object()
                return GatewayGroup(
                    site: try g.member("site").string(), imbalanced: try g.member("imbalanced").bool(),
                    loads: try loads.map { (gateway: $0.key, devices: try $0.value.number()) }.sorted {
                        $0.gateway < $1.gateway
                    })
            })
    }
}

/// The parts of a `fleetrules run` report (docs/REPORT.md) the scorer reads. Optional sections
/// are nil when the report does not carry them.
public struct ScoredReport: Sendable {
    public struct Alert: Sendable {
        public var rule: String
        public var kind: String
        public var device: String
        public var site: String?
        public var zone: String?
        public var since: Double
        /// nil while still firing at the end of the data.
        public var until: Double?
        /// String-valued labels and evidence entries (others are ignored).
        public var labels: [String: String]
        public var evidence: [String: String]
    }

    /// A forecast snapshot: at `at`, the rule predicted the threshold crossing at `crossingAt`.
    public struct Forecast: Sendable {
        public var device: String
        public var rule: String
        public var at: Double
        public var crossingAt: Double?
    }

    public struct Move: Sendable {
        public var site: String
        public var device: String
        public var from: String
        public var to: String
    }

    public var alerts: [Alert]
    public var forecasts: [Forecast]?
    public var rebalancing: [Move]?
    /// Compliance rules in name order with their `devices` map (nil when the rule has none).
    public var compliance: [(rule: String, devices: [String: String]?)]
    /// Rule kinds the run evaluated (`evaluated`), when the report says: an evaluated analysis
    /// with no findings scores as such instead of "not in report".
    public var evaluated: Set<String>? = nil

    public static func load(path: String) throws -> ScoredReport {
        try parse(ScoreJSON.read(path: path), file: path)
    }

    public static func parse(_ data: Data, file: String) throws -> ScoredReport {
        let root = try ScoreJSON.root(data, file: file)
        if let format = root.optional("format") {
            let n = try format.number()
            guard n == 1 else { throw format.error("unsupported report format \(JSONValue.format(n)), expected 1") }
        }
        let alerts = try root.member("alerts").array().map { a in
            Alert(
                rule: try a.optional("rule")?.string() ?? "", kind: try a.member("kind").string(),
                device: try a.member("device").string(), site: try a.optional("site")?.string(),
                zone: try a.optional("zone")?.string(), since: try a.member("since").timestamp(),
                until: try a.optional("until")?.optionalTimestamp(),
                labels: try a.optional("labels")?.stringMembers() ?? [:],
                evidence: try a.optional("evidence")?.stringMembers() ?? [:])
        }
        let forecasts = try root.optional("forecasts")?.array().map { f in
            Forecast(
                device: try f.member("device").string(), rule: try f.optional("rule")?.string() ?? "",
                at: try f.member("at").timestamp(), crossingAt: try f.member("crossing_at").optionalTimestamp())
        }
        let moves = try root.optional("rebalancing")?.array().map { m in
            Move(
                site: try m.member("site").string(), device: try m.member("device").string(),
                from: try m.member("from").string(), to: try m.member("to").string())
        }
        var compliance: [(rule: String, devices: [String: String]?)] = []
        if let section = root.optional("compliance") {
            for (rule, body) in try section.object().sorted(by: { $0.key < $1.key }) {
                let devices = try body.optional("devices")?.object().mapValues { try $0.string() }
                compliance.append((rule, devices))
            }
        }
        let evaluated = try root.optional("evaluated")?.array().map { try $0.string() }
        return ScoredReport(
            alerts: alerts, forecasts: forecasts, rebalancing: moves, compliance: compliance,
            evaluated: evaluated.map(Set.init))
    }
}

/// A value inside a JSONSerialization document, with the file and path for error messages.
struct ScoreJSON {
    let file: String
    let path: String
    let value: Any

    static func read(path: String) throws -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ScoreInputError(file: path, field: "", message: "cannot read the file: \(error.localizedDescription)")
        }
    }

    static func root(_ data: Data, file: String) throws -> ScoreJSON {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw ScoreInputError(file: file, field: "", message: "not valid JSON" + (detail.map { " (\($0))" } ?? ""))
        }
        guard value is [String: Any] else {
            throw ScoreInputError(
                file: file, field: "", message: "expected a JSON object at the top level, found \(describe(value))")
        }
        return ScoreJSON(file: file, path: "", value: value)
    }

    func error(_ message: String) -> ScoreInputError {
        ScoreInputError(file: file, field: path, message: message)
    }

    private func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// A required member; null counts as present (callers that accept null say so).
    func member(_ key: String) throws -> ScoreJSON {
        let dict = try dictionary()
        guard let v = dict[key] else {
            throw ScoreInputError(file: file, field: child(key), message: "missing field")
        }
        return ScoreJSON(file: file, path: child(key), value: v)
    }

    /// An optional member: nil when absent or null, or when `self` is not an object (a required
    /// member read first reports that).
    func optional(_ key: String) -> ScoreJSON? {
        guard let dict = value as? [String: Any], let v = dict[key], !(v is NSNull) else { return nil }
        return ScoreJSON(file: file, path: child(key), value: v)
    }

    private func dictionary() throws -> [String: Any] {
        guard let d = value as? [String: Any] else { throw error("expected an object, found \(Self.describe(value))") }
        return d
    }

    func object() throws -> [String: ScoreJSON] {
        var out: [String: ScoreJSON] = [:]
        for (k, v) in try dictionary() { out[k] = ScoreJSON(file: file, path: child(k), value: v) }
        return out
    }

    /// The string-valued members of an object.
    func stringMembers() throws -> [String: String] {
        try dictionary().compactMapValues { $0 as? String }
    }

    func array() throws -> [ScoreJSON] {
        guard let a = value as? [Any] else { throw error("expected an array, found \(Self.describe(value))") }
        return a.enumerated().map { ScoreJSON(file: file, path: "\(path)[\($0.offset)]", value: $0.element) }
    }

    func string() throws -> String {
        guard let s = value as? String else { throw error("expected a string, found \(Self.describe(value))") }
        return s
    }

    func number() throws -> Double {
        guard !(value is String), !Self.isBool(value), let n = value as? Double, n.isFinite else {
            throw error("expected a number, found \(Self.describe(value))")
        }
        return n
    }

    func bool() throws -> Bool {
        guard Self.isBool(value), let b = value as? Bool else {
            throw error("expected true or false, found \(Self.describe(value))")
        }
        return b
    }

    func timestamp() throws -> Double {
        guard let s = value as? String, let t = Timestamp.parse(s) else {
            throw error("expected an RFC 3339 timestamp, found \(Self.describe(value))")
        }
        return t
    }

    func optionalTimestamp() throws -> Double? {
        if value is NSNull { return nil }
        guard let s = value as? String, let t = Timestamp.parse(s) else {
            throw error("expected an RFC 3339 timestamp or null, found \(Self.describe(value))")
        }
        return t
    }

    /// JSONSerialization gives booleans as NSNumber; they are told apart from 0 and 1 by type.
    static func isBool(_ v: Any) -> Bool {
        guard let n = v as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"
    }

    static func describe(_ v: Any) -> String {
        switch v {
        case is NSNull: return "null"
        case let s as String: return "\"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        case let n as NSNumber: return isBool(n) ? (n.boolValue ? "true" : "false") : "\(n)"
        default: return "\(v)"
        }
    }
}
