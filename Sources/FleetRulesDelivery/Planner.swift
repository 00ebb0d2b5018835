import Crypto
import FleetRules
import Foundation

/// Turns routed notifications into outbox messages: one webhook POST per notification, and for
/// SMS receivers one page per batch window (all firing alerts routed there in the window,
/// summarised in one text) with one message per on-call contact, the later ones waiting for
/// their escalation turn.
public struct Planner: Sendable {
    public let config: DeliveryConfig

    struct Batch {
        var start: Double
        var ids: [String] = []
        var order: [String] = []
        var alerts: [String: DeliveryAlert] = [:]
    }

    var batches: [String: Batch] = [:]

    public init(config: DeliveryConfig) { self.config = config }

    /// Messages for notifications (in time order); SMS batches still open are kept until their
    /// window has passed (`advance`) or `finish`.
    public mutating func plan(_ notifications: [AlertNotification], now: Double) -> [OutboxMessage] {
        var out: [OutboxMessage] = []
        for n in notifications {
            guard let receiver = config.receiver(named: n.receiver) else { continue }
            var message: OutboxMessage
            switch receiver.channel {
            case .webhook(let w):
                message = OutboxMessage(
                    id: n.id, receiver: n.receiver, channel: .webhook, target: w.url,
                    payload: n.json().serialized(pretty: false), nextAttempt: now, created: now, eventTime: n.time)
            case .alertmanager(let am):
                message = Self.alertmanagerMessage(n, am, now: now)
            case .mqtt(let mqtt):
                message = MQTTSink.message(n, mqtt: mqtt, now: now)
            case .sms(let sms):
                let firing = n.alerts.filter { $0.status == .firing }
                guard !firing.isEmpty else { continue }
                if let b = batches[n.receiver], n.time >= b.start + sms.batchWindow {
                    out += page(b, receiver: n.receiver, sms: sms, now: now)
                    batches[n.receiver] = nil
                }
                var b = batches[n.receiver] ?? Batch(start: n.time)
                b.ids.append(n.id)
                for a in firing {
                    if b.alerts[a.key] == nil { b.order.append(a.key) }
                    b.alerts[a.key] = a
                }
                batches[n.receiver] = b
                continue
            }
            message.alerts = n.alerts.map(CarriedAlert.init)
            out.append(message)
        }
        return out
    }

    /// Closes SMS batches whose window ended by event time `t`.
    public mutating func advance(to t: Double, now: Double) -> [OutboxMessage] {
        var out: [OutboxMessage] = []
        for (name, b) in batches.sorted(by: { $0.key < $1.key }) {
            guard case .sms(let sms)? = config.receiver(named: name)?.channel, t >= b.start + sms.batchWindow else {
                continue
            }
            out += page(b, receiver: name, sms: sms, now: now)
            batches[name] = nil
        }
        return out
    }

    /// Closes every open SMS batch.
    public mutating func finish(now: Double) -> [OutboxMessage] {
        var out: [OutboxMessage] = []
        for (name, b) in batches.sorted(by: { $0.key < $1.key }) {
            guard case .sms(let sms)? = config.receiver(named: name)?.channel else { continue }
            out += page(b, receiver: name, sms: sms, now: now)
        }
        batches = [:]
        return out
    }

    func page(_ b: Batch, receiver: String, sms: DeliveryConfig.SMS, now: Double) -> [OutboxMessage] {
        let pageID = AlertNotification.makeID(receiver, "page", b.ids.joined(separator: ","))
        let code = Self.ackCode(pageID)
        let alerts = b.order.compactMap { b.alerts[$0] }
        let text = Self.summary(alerts, ackCode: code)
        // Steps run down the on-call list until the first contact without `escalate_after`.
        var steps: [DeliveryConfig.Contact] = []
        for c in sms.contacts {
            steps.append(c)
            if c.escalateAfter == nil { break }
        }
        let carried = alerts.map(CarriedAlert.init)
        return steps.enumerated().map { i, c in
            var m = OutboxMessage(
                id: "\(pageID).\(i)", receiver: receiver, channel: .sms, target: c.phone, payload: text, page: pageID,
                step: i, escalateAfter: c.escalateAfter, ackCode: code, status: i == 0 ? .pending : .waiting,
                nextAttempt: now, created: now, eventTime: b.start)
            m.alerts = carried
            return m
        }
    }

    /// A four-digit code derived from the page id.
    static func ackCode(_ page: String) -> String {
        let d = Array(SHA256.hash(data: Array(page.utf8)))
        let v = (Int(d[0]) << 8 | Int(d[1])) % 9000 + 1000
        return String(v)
    }

    /// "5 critical at plant-b: 3 battery-low, 2 drift; reply ACK 4821"; a single alert
    /// carries its summary instead of the counts.
    public static func summary(_ alerts: [DeliveryAlert], ackCode: String) -> String {
        let ack = "reply ACK \(ackCode)"
        guard alerts.count > 1 else {
            guard let a = alerts.first else { return ack }
            let at = a.labels["site"].map { " at \($0)" } ?? ""
            return "\(a.severity)\(at): \(a.summary); \(ack)"
        }
        var bySeverity: [String: Int] = [:]
        var byRule: [String: Int] = [:]
        var sites: [String] = []
        for a in alerts {
            bySeverity[a.severity, default: 0] += 1
            byRule[a.rule, default: 0] += 1
            if let s = a.labels["site"], !sites.contains(s) { sites.append(s) }
        }
        let severities = ["critical", "warning", "info"].compactMap { s in bySeverity[s].map { "\($0) \(s)" } }
        let rules = byRule.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.value) \($0.key)" }
        let at = sites.isEmpty ? "" : " at " + sites.sorted().joined(separator: ", ")
        return "\(severities.joined(separator: ", "))\(at): \(rules.joined(separator: ", ")); \(ack)"
    }
}
