import AsyncHTTPClient
import Crypto
import FleetRules
import Foundation
import GRDB
import NIOCore

extension DeliveryAlert {
    /// The alert's stable id: the same episode (rule, device, site and the time it started)
    /// has the same id on every run, replay and restart; a resolved-then-refiring alert is a
    /// new episode with a new id.
    public var alertID: String {
        let digest = SHA256.hash(data: Array("\(key)\u{1F}\(Timestamp.format(since))".utf8))
        return "a_" + digest.prefix(12).map { String(format: "%02x", $0) }.joined()
    }

    /// What a finding without a device is about: the `gateway`, `zone` and `group` its evidence names.
    static func subject(of e: AlertEpisode) -> [(String, String)] {
        ["gateway", "zone", "group"].compactMap { name in
            guard let (_, v) = e.evidence.first(where: { $0.0 == name }), case .string(let s) = v, !s.isEmpty else {
                return nil
            }
            return (name, s)
        }
    }

    /// The episode's value and the evidence that fits in a line of text (scalars up to 256 characters).
    static func details(of e: AlertEpisode) -> [String: String] {
        var out: [String: String] = [:]
        for (name, value) in e.evidence {
            let text: String
            switch value {
            case .string(let s): text = s
            case .number(let n): text = AlertmanagerPayload.number(n)
            case .bool(let b): text = b ? "true" : "false"
            default: continue
            }
            guard !text.isEmpty, text.count <= 256 else { continue }
            out[name] = text
        }
        if let v = e.value, v.isFinite { out["value"] = AlertmanagerPayload.number(v) }
        return out
    }
}

/// The body of `POST /api/v2/alerts`: one postable alert per alert of the notification.
public enum AlertmanagerPayload {
    /// Labels: `alertname` (the rule id) and every label FleetRules routes on, names made
    /// valid for Alertmanager (`[a-zA-Z_][a-zA-Z0-9_]*`), empty values left out. Annotations:
    /// `summary`, `alert_id` and the episode's value and scalar evidence. `startsAt` is the
    /// episode's start; a resolved alert has `endsAt`, its end, and a firing one none, so
    /// Alertmanager keeps it active for its `resolve_timeout` after each post.
    public static func alerts(_ n: AlertNotification, externalURL: String?) -> JSONValue {
        .array(n.alerts.map { alert($0, externalURL: externalURL) })
    }

    public static func alert(_ a: DeliveryAlert, externalURL: String?) -> JSONValue {
        var labels: [String: String] = [:]
        for (k, v) in a.labels where !v.isEmpty { labels[labelName(k)] = v }
        labels["alertname"] = a.rule
        var annotations: [String: String] = [:]
        for (k, v) in a.details { annotations[labelName(k)] = v }
        annotations["summary"] = a.summary
        annotations["alert_id"] = a.alertID
        var fields: [(String, JSONValue)] = [
            ("labels", .object(labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("annotations", .object(annotations.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("startsAt", .string(Timestamp.format(a.since))),
        ]
        if a.status == .resolved {
            fields.append(("endsAt", .string(Timestamp.format(max(a.since, a.until ?? a.since)))))
        }
        if let externalURL, let device = a.labels["device"], !device.isEmpty {
            let base = externalURL.hasSuffix("/") ? String(externalURL.dropLast()) : externalURL
            let path = device.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? device
            fields.append(("generatorURL", .string("\(base)/v1/devices/\(path)")))
        }
        return .object(fields)
    }

    /// Alertmanager accepts label and annotation names `[a-zA-Z_][a-zA-Z0-9_]*`; other
    /// characters become `_`, and a leading digit gets a `_` in front.
    public static func labelName(_ s: String) -> String {
        var out = String(
            s.unicodeScalars.map { c in
                c == "_" || (c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c))) ? Character(c) : "_"
            })
        if out.isEmpty || out.first?.isNumber == true { out = "_" + out }
        return out
    }

    static func number(_ n: Double) -> String {
        if n == n.rounded(), abs(n) < 1e15 { return String(Int64(n)) }
        return String(n)
    }
}

extension Planner {
    /// One POST of the whole group (firing and just-resolved alerts). The group key goes into
    /// the message's `page`, so the sender keeps each group's posts in order.
    static func alertmanagerMessage(_ n: AlertNotification, _ am: DeliveryConfig.Alertmanager, now: Double)
        -> OutboxMessage
    {
        OutboxMessage(
            id: n.id, receiver: n.receiver, channel: .alertmanager, target: am.alertsURL,
            payload: AlertmanagerPayload.alerts(n, externalURL: am.externalURL).serialized(pretty: false),
            page: n.groupKey, nextAttempt: now, created: now, eventTime: n.time)
    }
}

extension AlertRouter {
    /// How long a group still firing waits before it is sent again: its route's
    /// `repeat_interval`, or for an Alertmanager receiver its `resend_interval` when shorter.
    func repeatInterval(of g: Group) -> Double {
        if case .alertmanager(let am)? = config.receiver(named: g.receiver)?.channel {
            return min(g.route.repeatInterval, am.resendInterval)
        }
        return g.route.repeatInterval
    }
}

extension Dispatcher {
    /// Alertmanager keeps the state of the latest post of an alert, so a group's posts must
    /// arrive in order: an older firing post retried after the resolve would raise the alert
    /// again. The due Alertmanager messages are replaced by the head of each group (its
    /// earliest pending message) when that is due: one post per group per round, in order.
    func inGroupOrder(_ due: [OutboxMessage], now: Double) throws -> [OutboxMessage] {
        guard due.contains(where: { $0.channel == .alertmanager }) else { return due }
        return due.filter { $0.channel != .alertmanager } + (try outbox.dueGroupHeads(channel: .alertmanager, now: now))
    }
}

extension Outbox {
    /// The earliest pending message (by event time, then id) of each group (receiver and
    /// page) of a channel, those due by `now`.
    func dueGroupHeads(channel: OutboxMessage.Channel, now: Double, limit: Int = 64) throws -> [OutboxMessage] {
        try db.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM outbox WHERE channel = ? AND status = 'pending' AND page IS NOT NULL
                    ORDER BY event_time, id
                    """, arguments: [channel.rawValue])
            var seen: Set<String> = []
            var out: [OutboxMessage] = []
            for row in rows {
                let m = OutboxMessage(row: row)
                guard let page = m.page, seen.insert("\(m.receiver)\u{1F}\(page)").inserted else { continue }
                if m.nextAttempt <= now { out.append(m) }
                if out.count == limit { break }
            }
            return out
        }
    }
}

/// Posts alerts to Alertmanager's API v2. The answer is classified as for webhooks: 2xx
/// delivered; 5xx, 429, 408, timeouts and connection errors retried; other 4xx (Alertmanager
/// answers 400 to an alert it cannot accept) a dead letter.
public struct AlertmanagerSink: Sendable {
    public var client: HTTPClient

    public init(client: HTTPClient = DeliveryHTTP.client) { self.client = client }

    public func send(_ m: OutboxMessage, timeout: Double) async -> SendOutcome {
        var request = HTTPClientRequest(url: m.target)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "fleetrules-delivery/1")
        request.headers.add(name: "idempotency-key", value: m.id)
        request.body = .bytes(ByteBuffer(bytes: Array(m.payload.utf8)))
        return await execute(client, request, timeout: timeout)
    }
}
