/// Report sections the renderers show when present but that other analyses fill (rebalancing,
/// gateway loads, drift). They are read from the report's JSON document, so a typed field added
/// to `Report` (and serialised by `json()`) or a section passed through from a saved report shows
/// up without changes here (docs/REPORT.md):
///
/// - `rebalancing`: an array of moves `{site, device, from, to, rule}`.
/// - `rebalancing_groups`: per group `{site, group, gateways: [{gateway, before, after, silent_devices}]}`.
/// - drift: alerts of kind `drift` with numeric evidence `offset` and/or `statistic`.
public enum ReportSections {
    public struct Move: Sendable, Hashable {
        public var site, device, from, to, rule: String
    }

    public struct GroupLoad: Sendable {
        public var site: String
        public var gateways: [(gateway: String, before: Double, after: Double)]
        /// Gateways with devices left out of the plan because they were silent, and those devices.
        public var silentDevices: [(gateway: String, devices: [String])] = []
    }

    public struct DriftPoint: Sendable {
        public var device: String
        public var site: String
        public var rule: String
        public var since: Double
        public var offset: Double?
        public var statistic: Double?
    }

    static func string(_ v: JSONValue?) -> String {
        switch v {
        case .string(let s): s
        case .number(let n): JSONValue.format(n)
        default: ""
        }
    }

    static func number(_ v: JSONValue?) -> Double? {
        switch v {
        case .number(let n): n
        case .string(let s): Double(s)
        default: nil
        }
    }

    public static func moves(_ r: Report, document: JSONValue? = nil) -> [Move] {
        let doc = document ?? r.json()
        var items: [JSONValue] = []
        if case .array(let a) = doc["rebalancing"] ?? .null { items = a }
        return items.map { m in
            Move(
                site: string(m["site"]), device: string(m["device"]), from: string(m["from"]), to: string(m["to"]),
                rule: string(m["rule"]))
        }
    }

    /// Per balance group, each gateway's load before and after the proposed moves, from the
    /// report's `rebalancing_groups` (docs/BALANCE.md).
    public static func loads(_ r: Report, document: JSONValue? = nil) -> [GroupLoad] {
        let doc = document ?? r.json()
        guard case .array(let groups) = doc["rebalancing_groups"] ?? .null else { return [] }
        return groups.compactMap { g in
            guard case .array(let list) = g["gateways"] ?? .null else { return nil }
            let gateways = list.map { gw in
                (
                    gateway: string(gw["gateway"]), before: number(gw["before"]) ?? 0,
                    after: number(gw["after"]) ?? number(gw["before"]) ?? 0
                )
            }.sorted { $0.gateway < $1.gateway }
            let site = string(g["site"])
            let group = string(g["group"])
            let silent = list.compactMap { gw -> (gateway: String, devices: [String])? in
                guard case .array(let ids)? = gw["silent_devices"], !ids.isEmpty else { return nil }
                return (string(gw["gateway"]), ids.map { string($0) })
            }.sorted { $0.gateway < $1.gateway }
            return GroupLoad(site: site.isEmpty ? group : site, gateways: gateways, silentDevices: silent)
        }
    }

    public static func drift(_ r: Report) -> [DriftPoint] {
        r.alerts.filter { $0.episode.kind == .drift }.map { a in
            let ev = JSONValue.object(a.episode.evidence)
            return DriftPoint(
                device: a.episode.device, site: a.site, rule: a.episode.rule, since: a.episode.since,
                offset: number(ev["offset"]), statistic: number(ev["statistic"]))
        }
    }

    /// A device whose newest forecast is already past its threshold.
    public struct PastThreshold: Sendable {
        public var device, site, rule: String
        /// The fitted level, formatted, clamped to the declared range.
        public var level: String
        public var threshold: Double?
        /// When the device's open forecast alert started.
        public var since: Double?
    }

    /// The devices whose newest forecast is past its threshold, by device and rule. The level is
    /// clamped to the metric's range when a plotted series of the rule declares it.
    public static func replaceNow(_ r: Report) -> [PastThreshold] {
        var newest: [String: ForecastSnapshot] = [:]
        for f in r.forecasts where (newest["\(f.device)|\(f.rule)"]?.at ?? -.infinity) <= f.at {
            newest["\(f.device)|\(f.rule)"] = f
        }
        var ranges: [String: ClosedRange<Double>] = [:]
        for s in r.forecastSeries { if let range = s.range { ranges[s.rule] = range } }
        return newest.values.filter(\.isPastThreshold).sorted { ($0.device, $0.rule) < ($1.device, $1.rule) }.map { f in
            let alert = r.alerts.first {
                $0.episode.kind == .forecast && $0.episode.device == f.device && $0.episode.rule == f.rule
                    && $0.episode.until == nil
            }
            let threshold = alert.flatMap { number(JSONValue.object($0.episode.evidence)["threshold"]) }
            var level = f.level.map(Engine.format) ?? "-"
            if let v = f.level, let range = ranges[f.rule], !range.contains(v) {
                level = Engine.format(min(max(v, range.lowerBound), range.upperBound))
            }
            return PastThreshold(
                device: f.device, site: alert?.site ?? "", rule: f.rule, level: level, threshold: threshold,
                since: alert?.episode.since)
        }
    }
}
