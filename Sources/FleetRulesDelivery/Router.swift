import Crypto
import FleetRules
import Foundation

/// One alert as delivery sees it: the episode's facts flattened into labels.
public struct DeliveryAlert: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable { case firing, resolved }
    /// rule|device|site: the same alert across fired, updated and resolved.
    public var key: String
    public var status: Status
    public var labels: [String: String]
    public var since: Double
    public var until: Double?
    public var summary: String
    /// The value and the scalar evidence of the episode, as text (Alertmanager annotations).
    public var details: [String: String] = [:]
    /// A device alert a firing group rule inhibits (`inhibits:`): never sent while firing.
    public var inhibited = false
    /// The alert opened inside one of its rule's `mute_during` intervals: never notified.
    public var muted = false

    public var severity: String { labels["severity"] ?? "info" }
    public var rule: String { labels["rule"] ?? "" }

    /// Labels: rule, pack, kind, severity, device, site, gateway (from the inventory; for a
    /// finding about a gateway or a zone, the one it is about, and its `zone` and `group`) and
    /// the rule's own labels (which cannot override these).
    public init(_ event: AlertEvent, inventory: Inventory?) {
        self.init(
            episode: event.episode, resolvedAt: event.change == .resolved ? event.time : nil, inventory: inventory)
    }

    /// The alert of an episode: firing, or resolved at `resolvedAt` (its end when it has one).
    public init(episode e: AlertEpisode, resolvedAt: Double?, inventory: Inventory?) {
        var labels = e.labels
        labels["rule"] = e.rule
        labels["pack"] = e.pack
        labels["kind"] = e.kind.rawValue
        labels["severity"] = e.severity.rawValue
        if !e.device.isEmpty { labels["device"] = e.device }
        var site = e.site
        if let inventory, let index = inventory.deviceIndex[e.device] {
            if site == nil { site = inventory.value("site", device: index) }
            if let g = inventory.value("gateway", device: index), !g.isEmpty { labels["gateway"] = g }
        }
        if let site, !site.isEmpty { labels["site"] = site }
        // A finding about a group (a gateway, a zone) names it, so two of a site stay two alerts.
        let subject = e.device.isEmpty ? Self.subject(of: e) : []
        for (k, v) in subject where labels[k] == nil { labels[k] = v }
        self.labels = labels
        key = "\(e.rule)|\(e.device)|\(site ?? "")" + subject.map { "|\($0.1)" }.joined()
        status = resolvedAt != nil ? .resolved : .firing
        since = e.since
        until = resolvedAt.map { e.until ?? $0 }
        summary = e.summary
        details = Self.details(of: e)
        inhibited = e.inhibitedBy != nil
        muted = e.muted != nil
    }

    public init(key: String, status: Status, labels: [String: String], since: Double, until: Double?, summary: String) {
        self.key = key
        self.status = status
        self.labels = labels
        self.since = since
        self.until = until
        self.summary = summary
    }

    public func json() -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("status", .string(status.rawValue)),
            ("summary", .string(summary)),
            ("since", .string(Timestamp.format(since))),
        ]
        if let until { fields.append(("until", .string(Timestamp.format(until)))) }
        fields.append(("labels", .object(labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        return .object(fields)
    }
}

/// What the router hands to the outbox: one group of alerts for one receiver.
public struct AlertNotification: Sendable {
    /// The idempotency key, the same on every run over the same alerts.
    public var id: String
    public var receiver: String
    public var groupKey: String
    public var groupLabels: [(String, String)]
    /// The event time of the flush that produced it.
    public var time: Double
    public var alerts: [DeliveryAlert]

    public var status: DeliveryAlert.Status { alerts.contains { $0.status == .firing } ? .firing : .resolved }

    public func json() -> JSONValue {
        .object([
            ("version", .number(1)),
            ("id", .string(id)),
            ("receiver", .string(receiver)),
            ("status", .string(status.rawValue)),
            ("group_key", .string(groupKey)),
            ("group_labels", .object(groupLabels.map { ($0.0, .string($0.1)) })),
            ("time", .string(Timestamp.format(time))),
            ("alerts", .array(alerts.map { $0.json() })),
        ])
    }

    static func makeID(_ parts: String...) -> String {
        let digest = SHA256.hash(data: Array(parts.joined(separator: "\u{1F}").utf8))
        return "n_" + digest.prefix(12).map { String(format: "%02x", $0) }.joined()
    }
}

/// Routes alert changes to receivers in event time, in the manner of Alertmanager: a routing
/// tree of matchers, groups by `group_by` labels flushed after `group_wait`, then at most every
/// `group_interval` when they change and every `repeat_interval` while they keep firing;
/// silences and inhibition drop alerts before routing. Event time makes a replay produce the
/// same notifications, with the same idempotency keys, every time.
public struct AlertRouter: Sendable {
    public let config: DeliveryConfig
    public private(set) var stats = Stats()

    public struct Stats: Sendable, Equatable {
        public var events = 0
        public var silenced = 0
        public var inhibited = 0
        public var unrouted = 0
        public var notifications = 0
        /// Alerts left out of a notification by a run-time silence or an acknowledgement.
        public var suppressed = 0
        /// Firing alerts of rules' `mute_during` intervals, and alerts routed while a route's time intervals mute it.
        public var muted = 0
    }

    struct Group {
        var receiver: String
        var key: String
        var labels: [(String, String)]
        var route: DeliveryConfig.Route
        /// The route's place in the tree ("r.0.2"), to find it again after a restart.
        var path: String
        var order: [String] = []
        var alerts: [String: DeliveryAlert] = [:]
        var nextFlush: Double
        var lastFlush: Double?
        var dirty = true
        var seq = 0
        /// The firing alerts the last notification carried (not those it left out).
        var notified: Set<String> = []
        /// When (wall clock) the group was last flushed, for live re-sends to Alertmanager.
        var lastWall: Double?
    }

    var groups: [String: Group] = [:]
    /// Alerts firing now, by key, for inhibition.
    var firing: [String: DeliveryAlert] = [:]
    /// Run-time silences and acknowledgements (a live service's): alerts they cover are left
    /// out of notifications when the group is flushed, and come back once they no longer do.
    public var controls: DeliveryControls?
    /// The wall-clock time the controls are judged at (set by the live service before routing).
    public var wallNow: Double = 0
    /// Counts changes of the routing state (so an unchanged one need not be stored again).
    public private(set) var revision = 0

    public init(config: DeliveryConfig) { self.config = config }

    /// Routes a batch of events (sorted by time here) and returns the notifications whose
    /// flush time has come, in time order.
    public mutating func process(_ events: [AlertEvent], inventory: Inventory?) -> [AlertNotification] {
        let alerts = events.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
            .map { (time: $0.element.time, alert: DeliveryAlert($0.element, inventory: inventory)) }
        var out: [AlertNotification] = []
        for (time, alert) in alerts {
            out += advance(to: time)
            apply(alert, at: time)
        }
        return out
    }

    /// Flushes every group with unsent changes (at its due time); repeats are not generated
    /// past the end of the data.
    public mutating func finish() -> [AlertNotification] {
        var out: [AlertNotification] = []
        while let (key, g) = groups.filter({ $0.value.dirty }).min(by: {
            ($0.value.nextFlush, $0.key) < ($1.value.nextFlush, $1.key)
        }) {
            if g.route.muting(at: g.nextFlush).muted {
                // Past the end of the data a muted group is not held for the interval's end.
                stats.muted += g.alerts.count
                groups[key] = nil
                continue
            }
            if let n = flush(key, at: g.nextFlush) { out.append(n) }
        }
        return out
    }

    /// Flushes groups due at or before `t`, earliest first.
    public mutating func advance(to t: Double) -> [AlertNotification] {
        var out: [AlertNotification] = []
        while let (key, g) = groups.min(by: { ($0.value.nextFlush, $0.key) < ($1.value.nextFlush, $1.key) }),
            g.nextFlush <= t
        {
            let muting = g.route.muting(at: g.nextFlush)
            if muting.muted {
                holdMuted(key, at: g.nextFlush, until: muting.until)
                continue
            }
            if let n = flush(key, at: g.nextFlush) { out.append(n) }
        }
        return out
    }

    /// A group holding a firing alert that its last notification left out (silenced or
    /// acknowledged then) and that nothing suppresses any more is changed: it is sent again at
    /// its next `group_interval`, as Alertmanager does when a silence expires. A live service
    /// calls it every tick.
    public mutating func recheck(at t: Double) {
        guard let controls else { return }
        for key in groups.keys.sorted() {
            guard var g = groups[key], !g.dirty else { continue }
            let back = g.alerts.values.contains {
                $0.status == .firing && !g.notified.contains($0.key) && controls.suppression(of: $0, at: wallNow) == nil
            }
            guard back else { continue }
            g.dirty = true
            g.nextFlush = max(t, (g.lastFlush ?? t) + g.route.groupInterval)
            groups[key] = g
            revision += 1
        }
    }

    mutating func apply(_ incoming: DeliveryAlert, at t: Double) {
        stats.events += 1
        revision += 1
        // An episode keeps the start delivery first saw (and so its id): after a restart the
        // engine, rebuilt from the journal's recent readings, may date it later.
        var alert = incoming
        if let known = firing[alert.key], known.since < alert.since { alert.since = known.since }
        if alert.status == .firing, let old = firing[alert.key], old.labels != alert.labels {
            endLabels(of: old, at: t)
        }
        if alert.status == .firing { firing[alert.key] = alert } else { firing[alert.key] = nil }
        if alert.status == .resolved {
            // A resolve goes to every group that holds the alert, wherever its labels (an
            // updated severity, say) would route it now; one no group holds is not news.
            for key in groups.keys.sorted() where groups[key]?.alerts[alert.key] != nil {
                guard var g = groups[key] else { continue }
                if !g.route.muteTimeIntervals.isEmpty || !g.route.activeTimeIntervals.isEmpty,
                    g.route.muting(at: t).muted
                {
                    // Resolved while its route is muted: it leaves the group unsent.
                    stats.muted += 1
                    g.alerts[alert.key] = nil
                    g.order.removeAll { $0 == alert.key }
                    groups[key] = g.alerts.isEmpty ? nil : g
                    continue
                }
                g.alerts[alert.key] = alert
                if !g.dirty {
                    g.dirty = true
                    g.nextFlush = max(t, (g.lastFlush ?? t) + g.route.groupInterval)
                }
                groups[key] = g
            }
            return
        }
        if config.silences.contains(where: { $0.silences(alert.labels, at: t) }) {
            stats.silenced += 1
            return
        }
        if alert.muted {
            stats.muted += 1
            return
        }
        if alert.status == .firing && (alert.inhibited || isInhibited(alert)) {
            stats.inhibited += 1
            return
        }
        let routes = Self.match(config.route, alert.labels, isRoot: true)
        if routes.isEmpty { stats.unrouted += 1 }
        for (path, route) in routes {
            let values = route.groupBy.map { ($0, alert.labels[$0] ?? "") }
            let key = "\(route.receiver)/\(path)/" + values.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
            if var g = groups[key] {
                if g.alerts[alert.key] == nil { g.order.append(alert.key) }
                g.alerts[alert.key] = alert
                if !g.dirty {
                    g.dirty = true
                    g.nextFlush = max(t, (g.lastFlush ?? t) + route.groupInterval)
                }
                groups[key] = g
            } else {
                var g = Group(
                    receiver: route.receiver, key: key, labels: values, route: route, path: path,
                    nextFlush: t + route.groupWait)
                g.order = [alert.key]
                g.alerts[alert.key] = alert
                groups[key] = g
            }
        }
    }

    /// An alert whose labels changed while firing (a new severity) is, for receivers that tell
    /// alerts apart by their labels (Alertmanager), a new alert: the groups that sent the old
    /// label set also send it resolved, once, beside the alert as it is now.
    private mutating func endLabels(of old: DeliveryAlert, at t: Double) {
        var ended = old
        ended.status = .resolved
        ended.until = t
        ended.key = old.key + "|" + old.severity
        for key in groups.keys.sorted() where groups[key]?.alerts[old.key] != nil {
            guard var g = groups[key] else { continue }
            if g.alerts[ended.key] == nil { g.order.append(ended.key) }
            g.alerts[ended.key] = ended
            if !g.dirty {
                g.dirty = true
                g.nextFlush = max(t, (g.lastFlush ?? t) + g.route.groupInterval)
            }
            groups[key] = g
        }
    }

    func isInhibited(_ alert: DeliveryAlert) -> Bool {
        for rule in config.inhibit where rule.target.allSatisfy({ $0.matches(alert.labels) }) {
            for (key, source) in firing where key != alert.key && rule.source.allSatisfy({ $0.matches(source.labels) })
            {
                if rule.equal.allSatisfy({ source.labels[$0] != nil && source.labels[$0] == alert.labels[$0] }) {
                    return true
                }
            }
        }
        return false
    }

    /// The routes an alert goes to: the deepest matching child, siblings only with `continue`;
    /// the node itself when no child matches. Paths are child indices ("0.2").
    static func match(_ route: DeliveryConfig.Route, _ labels: [String: String], isRoot: Bool, path: String = "r")
        -> [(String, DeliveryConfig.Route)]
    {
        guard isRoot || route.matchers.allSatisfy({ $0.matches(labels) }) else { return [] }
        var out: [(String, DeliveryConfig.Route)] = []
        for (i, child) in route.routes.enumerated() {
            let found = match(child, labels, isRoot: false, path: "\(path).\(i)")
            if !found.isEmpty {
                out += found
                if !child.continue { break }
            }
        }
        return out.isEmpty ? [(path, route)] : out
    }

    /// A flush while the group's route is muted sends nothing, as in Alertmanager: resolved
    /// alerts leave the group, and those still firing are sent at the first flush after the
    /// interval (at its end, or `group_interval` later, whichever is later).
    mutating func holdMuted(_ key: String, at t: Double, until end: Double) {
        guard var g = groups[key] else { return }
        stats.muted += g.alerts.count
        for k in g.order where g.alerts[k]?.status == .resolved { g.alerts[k] = nil }
        g.order.removeAll { g.alerts[$0] == nil }
        if g.alerts.isEmpty {
            groups[key] = nil
            return
        }
        g.dirty = true
        g.nextFlush = max(t + g.route.groupInterval, end)
        groups[key] = g
    }

    /// Sends a group: nil when run-time silences or acknowledgements leave nothing to send (the
    /// group's timers move on all the same).
    mutating func flush(_ key: String, at t: Double) -> AlertNotification? {
        guard var g = groups[key] else { return nil }
        g.seq += 1
        revision += 1
        var alerts = g.order.compactMap { g.alerts[$0] }
        if let controls {
            let all = alerts.count
            alerts = alerts.filter { controls.suppression(of: $0, at: wallNow) == nil }
            stats.suppressed += all - alerts.count
        }
        let n = AlertNotification(
            id: AlertNotification.makeID(g.receiver, key, String(g.seq), String(t)), receiver: g.receiver,
            groupKey: key,
            groupLabels: g.labels, time: t, alerts: alerts)
        for k in g.order where g.alerts[k]?.status == .resolved { g.alerts[k] = nil }
        g.order.removeAll { g.alerts[$0] == nil }
        g.lastFlush = t
        g.lastWall = wallNow
        g.notified = Set(alerts.filter { $0.status == .firing }.map(\.key))
        g.dirty = false
        if g.alerts.isEmpty {
            groups[key] = nil
        } else {
            g.nextFlush = t + repeatInterval(of: g)
            groups[key] = g
        }
        guard !alerts.isEmpty else { return nil }
        stats.notifications += 1
        return n
    }
}
