/// Zone-wide excursions of `limit` rules: when a zone's air goes out of range, every sensor in it
/// fires. Episodes of one limit rule in one site and zone whose intervals overlap (a chain of
/// overlaps) are one excursion; with at least `zoneExcursionMinDevices` devices it is reported as
/// one zone-level alert (device "", the zone's site and zone) listing its devices, instead of one
/// alert per device.
extension Report {
    static let zoneExcursionMinDevices = 3

    static func groupZoneExcursions(_ alerts: [Alert], minDevices: Int = zoneExcursionMinDevices) -> [Alert] {
        var out: [Alert] = []
        var byZone: [String: [Alert]] = [:]
        var order: [String] = []
        for a in alerts {
            guard a.episode.kind == .limit, !a.episode.device.isEmpty, !a.zone.isEmpty else {
                out.append(a)
                continue
            }
            let key = "\(a.episode.rule)\u{1F}\(a.site)\u{1F}\(a.zone)"
            if byZone[key] == nil { order.append(key) }
            byZone[key, default: []].append(a)
        }
        for key in order {
            let members = (byZone[key] ?? []).sorted {
                ($0.episode.since, $0.episode.device) < ($1.episode.since, $1.episode.device)
            }
            var cluster: [Alert] = []
            var end = -Double.infinity
            func flush() {
                if Set(cluster.map(\.episode.device)).count >= minDevices {
                    out.append(zoneAlert(cluster))
                } else {
                    out += cluster
                }
                cluster = []
            }
            for a in members {
                if !cluster.isEmpty, a.episode.since > end { flush() }
                end = cluster.isEmpty ? (a.episode.until ?? .infinity) : max(end, a.episode.until ?? .infinity)
                cluster.append(a)
            }
            flush()
        }
        return out
    }

    private static func zoneAlert(_ cluster: [Alert]) -> Alert {
        let first = cluster[0]
        var e = first.episode
        let devices = Array(Set(cluster.map(\.episode.device))).sorted()
        let open = cluster.contains { $0.episode.until == nil }
        e.device = ""
        e.site = first.site
        e.since = cluster.map(\.episode.since).min() ?? e.since
        e.until = open ? nil : cluster.compactMap(\.episode.until).max()
        e.severity = cluster.map(\.episode.severity).max() ?? e.severity
        e.summary =
            "\(first.site)/\(first.zone): \(devices.count) devices out of range (\(e.rule)); first: \(first.episode.summary)"
        e.evidence = [
            ("scope", .string("zone")), ("zone", .string(first.zone)), ("device_count", .number(Double(devices.count))),
            ("devices", .array(devices.map { .string($0) })),
            (
                "episodes",
                .array(
                    cluster.map { a in
                        .object([
                            ("device", .string(a.episode.device)),
                            ("since", .string(Timestamp.format(a.episode.since))),
                            ("until", a.episode.until.map { .string(Timestamp.format($0)) } ?? .null),
                            ("value", a.episode.value.map { .number($0) } ?? .null),
                        ])
                    })
            ),
        ]
        return Alert(
            episode: e, site: first.site, zone: first.zone, priority: cluster.map(\.priority).max() ?? first.priority)
    }
}
