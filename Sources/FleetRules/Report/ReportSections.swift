/// Report sections the renderers show when present but that other analyses fill (rebalancing,
/// gateway loads, drift). They are read from the report's JSON document, so a typed field added
/// to `Report` (and serialised by `json()`) or a section passed through from a saved report shows
/// up without changes here. Shapes accepted:
///
/// - `rebalancing`: an array of moves `{site, device, from, to, rule}`, or an object with such an
///   array under `moves` and per-group loads under `groups` (or `loads`).
/// - per-group loads: `{site, before: {gateway: load}, after: {gateway: load}}` (also
///   `loads_before`/`loads_after`), from `rebalancing.groups`, `rebalancing.loads` or a top-level
///   `gateway_loads` array.
/// - drift: alerts of kind `drift` with numeric evidence `offset` and/or `statistic`.
public enum ReportSections {
    public struct Move: Sendable, Hashable {
        public var site, device, from, to, rule: String
    }

    public struct GroupLoad: Sendable {
        public var site: String
        public var gateways: [(gateway: String, before: Double, after: Double)]
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
        switch doc["rebalancing"] {
        case .array(let a): items = a
        case .object: if case .array(let a) = doc["rebalancing"]?["moves"] { items = a }
        default: break
        }
        return items.map { m in
            Move(site: string(m["site"]), device: string(m["device"]), from: string(m["from"]), to: string(m["to"]), rule: string(m["rule"]))
        }
    }

    public static func loads(_ r: Report, document: JSONValue? = nil) -> [GroupLoad] {
        let doc = document ?? r.json()
        var groups: [JSONValue] = []
        for candidate in [doc["rebalancing"]?["groups"], doc["rebalancing"]?["loads"], doc["gateway_loads"]] {
            if case .array(let a) = candidate {
                groups = a
                break
            }
        }
        return groups.compactMap { g in
            guard case .object(let before) = g["before"] ?? g["loads_before"] ?? .null else { return nil }
            let after = g["after"] ?? g["loads_after"]
            let gateways = before.map { gw, load in
                (gateway: gw, before: number(load) ?? 0, after: number(after?[gw]) ?? number(load) ?? 0)
            }.sorted { $0.gateway < $1.gateway }
            return GroupLoad(site: string(g["site"] ?? g["group"]), gateways: gateways)
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
}
