import FleetRules
import Foundation

/// The routing state a live service keeps across restarts: the router's groups with their
/// timers and sequence numbers, the alerts firing (for inhibition) and the SMS batches still
/// open. It is written with the outbox messages it produced, in one transaction, so after a
/// crash the state and the outbox agree.
struct RoutingSnapshot: Codable {
    struct GroupState: Codable {
        var receiver: String
        var key: String
        var labels: [[String]]
        var path: String
        var order: [String]
        var alerts: [DeliveryAlert]
        var nextFlush: Double
        var lastFlush: Double?
        var dirty: Bool
        var seq: Int
        var notified: [String]
        var lastWall: Double?
    }
    struct BatchState: Codable {
        var receiver: String
        var start: Double
        var ids: [String]
        var order: [String]
        var alerts: [DeliveryAlert]
    }
    var version = 1
    var groups: [GroupState]
    var firing: [DeliveryAlert]
    var batches: [BatchState]
    /// The newest event time routed.
    var eventTime: Double?
}

extension AlertRouter {
    func snapshotGroups() -> (groups: [RoutingSnapshot.GroupState], firing: [DeliveryAlert]) {
        let groups = self.groups.keys.sorted().compactMap { key -> RoutingSnapshot.GroupState? in
            guard let g = self.groups[key] else { return nil }
            return RoutingSnapshot.GroupState(
                receiver: g.receiver, key: g.key, labels: g.labels.map { [$0.0, $0.1] }, path: g.path, order: g.order,
                alerts: g.order.compactMap { g.alerts[$0] }, nextFlush: g.nextFlush, lastFlush: g.lastFlush,
                dirty: g.dirty, seq: g.seq, notified: g.notified.sorted(), lastWall: g.lastWall)
        }
        return (groups, firing.keys.sorted().compactMap { firing[$0] })
    }

    /// Takes the groups of a snapshot whose route still exists in the configuration (by its
    /// place in the tree and its receiver); the others are dropped.
    mutating func restore(groups states: [RoutingSnapshot.GroupState], firing alerts: [DeliveryAlert]) {
        groups = [:]
        for s in states {
            guard let route = Self.route(at: s.path, in: config.route), route.receiver == s.receiver else { continue }
            var g = Group(
                receiver: s.receiver, key: s.key, labels: s.labels.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil },
                route: route, path: s.path, nextFlush: s.nextFlush)
            g.order = s.order
            for a in s.alerts { g.alerts[a.key] = a }
            g.lastFlush = s.lastFlush
            g.dirty = s.dirty
            g.seq = s.seq
            g.notified = Set(s.notified)
            g.lastWall = s.lastWall
            groups[s.key] = g
        }
        firing = Dictionary(alerts.map { ($0.key, $0) }, uniquingKeysWith: { _, b in b })
    }

    /// The route at a path such as "r.0.2" (child indices from the root).
    static func route(at path: String, in root: DeliveryConfig.Route) -> DeliveryConfig.Route? {
        var parts = path.split(separator: ".")
        guard parts.first == "r" else { return nil }
        parts.removeFirst()
        var route = root
        for p in parts {
            guard let i = Int(p), route.routes.indices.contains(i) else { return nil }
            route = route.routes[i]
        }
        return route
    }

    /// A live service's re-sends on the wall clock: a group of an Alertmanager receiver still
    /// firing whose last post is `resend_interval` old (wall time) is sent again at event time
    /// `t`, so Alertmanager keeps its alerts active while the fleet's clock stands still (no
    /// readings) or runs slower than the wall clock.
    public mutating func resendDue(eventTime t: Double) -> [AlertNotification] {
        var out: [AlertNotification] = []
        for key in groups.keys.sorted() {
            guard let g = groups[key], !g.dirty, let last = g.lastWall,
                case .alertmanager(let am)? = config.receiver(named: g.receiver)?.channel,
                wallNow - last >= am.resendInterval,
                g.alerts.values.contains(where: { $0.status == .firing })
            else { continue }
            if let n = flush(key, at: max(t, g.lastFlush ?? t)) { out.append(n) }
        }
        return out
    }
}

extension Planner {
    func snapshotBatches() -> [RoutingSnapshot.BatchState] {
        batches.keys.sorted().compactMap { name in
            guard let b = batches[name] else { return nil }
            return RoutingSnapshot.BatchState(
                receiver: name, start: b.start, ids: b.ids, order: b.order, alerts: b.order.compactMap { b.alerts[$0] })
        }
    }

    mutating func restore(batches states: [RoutingSnapshot.BatchState]) {
        batches = [:]
        for s in states where config.receiver(named: s.receiver) != nil {
            var b = Batch(start: s.start)
            b.ids = s.ids
            b.order = s.order
            for a in s.alerts { b.alerts[a.key] = a }
            batches[s.receiver] = b
        }
    }
}
