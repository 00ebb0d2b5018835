import FleetRules
import Foundation
import GRDB

/// One message in the outbox: a webhook POST, one SMS to one contact, or one MQTT publish.
public struct OutboxMessage: Sendable, Equatable {
    public enum Channel: String, Sendable { case webhook, sms, alertmanager, mqtt }
    /// pending: due at `nextAttempt`; waiting: an escalation step not yet scheduled;
    /// delivered: the sink acknowledged it; dead: retry budget spent or refused;
    /// cancelled: an escalation step made unnecessary by an ACK.
    public enum Status: String, Sendable, CaseIterable { case pending, waiting, delivered, dead, cancelled }

    /// The idempotency key (`webhook-id`, SMS reference).
    public var id: String
    public var receiver: String
    public var channel: Channel
    /// The URL or the phone number.
    public var target: String
    /// The JSON body or the SMS text.
    public var payload: String
    /// SMS: the page (alert batch) this message belongs to, its escalation step and ACK code.
    public var page: String?
    public var step: Int
    public var escalateAfter: Double?
    public var ackCode: String?
    public var status: Status
    public var attempts: Int
    public var nextAttempt: Double
    public var lastError: String?
    public var created: Double
    public var deliveredAt: Double?
    public var eventTime: Double
    /// The alerts the message carries (their ids, status and labels), so a silence or an
    /// acknowledgement made after it was written can still stop it before it is sent.
    public var alerts: [CarriedAlert] = []

    public init(
        id: String, receiver: String, channel: Channel, target: String, payload: String, page: String? = nil,
        step: Int = 0, escalateAfter: Double? = nil, ackCode: String? = nil, status: Status = .pending,
        nextAttempt: Double, created: Double, eventTime: Double
    ) {
        self.id = id
        self.receiver = receiver
        self.channel = channel
        self.target = target
        self.payload = payload
        self.page = page
        self.step = step
        self.escalateAfter = escalateAfter
        self.ackCode = ackCode
        self.status = status
        attempts = 0
        self.nextAttempt = nextAttempt
        lastError = nil
        self.created = created
        deliveredAt = nil
        self.eventTime = eventTime
    }

    init(row: Row) {
        id = row["id"] ?? ""
        receiver = row["receiver"] ?? ""
        channel = Channel(rawValue: row["channel"] ?? "") ?? .webhook
        target = row["target"] ?? ""
        payload = row["payload"] ?? ""
        page = row["page"]
        step = row["step"] ?? 0
        escalateAfter = row["escalate_after"]
        ackCode = row["ack_code"]
        status = Status(rawValue: row["status"] ?? "") ?? .dead
        attempts = row["attempts"] ?? 0
        nextAttempt = row["next_attempt"] ?? 0
        lastError = row["last_error"]
        created = row["created"] ?? 0
        deliveredAt = row["delivered_at"]
        eventTime = row["event_time"] ?? 0
        if let text: String = row["alerts"] {
            alerts = (try? JSONDecoder().decode([CarriedAlert].self, from: Data(text.utf8))) ?? []
        }
    }

    public func json() -> JSONValue {
        var f: [(String, JSONValue)] = [
            ("id", .string(id)), ("receiver", .string(receiver)), ("channel", .string(channel.rawValue)),
            ("target", .string(target)), ("status", .string(status.rawValue)), ("attempts", .number(Double(attempts))),
            ("event_time", .string(Timestamp.format(eventTime))),
        ]
        if let page { f.append(("page", .string(page))) }
        if channel == .sms { f.append(("step", .number(Double(step)))) }
        if let ackCode { f.append(("ack_code", .string(ackCode))) }
        if let lastError { f.append(("last_error", .string(lastError))) }
        if let deliveredAt { f.append(("delivered_at", .string(Timestamp.format(deliveredAt)))) }
        return .object(f)
    }
}

/// The durable outbox: every notification is written here (in one transaction per batch)
/// before any send attempt, and marked delivered only after the sink acknowledged it. Inserts
/// ignore ids already present, so routing the same alerts again after a crash adds nothing.
public final class Outbox: Sendable {
    let db: DatabaseQueue
    public let path: String

    public init(path: String, sync: SyncMode = .batch) throws {
        self.path = path
        db = try Self.openDatabase(path: path, sync: sync)
        try db.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS outbox (
                      id TEXT PRIMARY KEY, receiver TEXT NOT NULL, channel TEXT NOT NULL, target TEXT NOT NULL,
                      payload TEXT NOT NULL, page TEXT, step INTEGER NOT NULL DEFAULT 0, escalate_after REAL,
                      ack_code TEXT, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                      next_attempt REAL NOT NULL, last_error TEXT, created REAL NOT NULL, delivered_at REAL,
                      event_time REAL NOT NULL);
                    CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt);
                    CREATE INDEX IF NOT EXISTS outbox_page ON outbox(page, step);
                    CREATE TABLE IF NOT EXISTS cursor (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                    CREATE TABLE IF NOT EXISTS routing_state (name TEXT PRIMARY KEY, value BLOB NOT NULL);
                    """)
            // Outboxes written before messages named their alerts get the column.
            let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(outbox)").compactMap { $0["name"] as String? }
            if !columns.contains("alerts") { try db.execute(sql: "ALTER TABLE outbox ADD COLUMN alerts TEXT") }
        }
    }

    /// Writes messages; returns how many were new.
    /// With `state`, the routing state that produced them is stored in the same transaction.
    @discardableResult
    public func enqueue(_ messages: [OutboxMessage], state: Data? = nil) throws -> Int {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try db.write { db in
            var added = 0
            for m in messages {
                let alerts = m.alerts.isEmpty ? nil : String(decoding: try encoder.encode(m.alerts), as: UTF8.self)
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO outbox (id, receiver, channel, target, payload, page, step, escalate_after,
                          ack_code, status, attempts, next_attempt, created, event_time, alerts)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)
                        """,
                    arguments: [
                        m.id, m.receiver, m.channel.rawValue, m.target, m.payload, m.page, m.step, m.escalateAfter,
                        m.ackCode, m.status.rawValue, m.nextAttempt, m.created, m.eventTime, alerts,
                    ])
                added += db.changesCount
            }
            if let state {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO routing_state (name, value) VALUES ('router', ?)", arguments: [state])
            }
            return added
        }
    }

    /// The routing state stored by the last `enqueue(_:state:)`, nil when there is none.
    public func routingState() throws -> Data? {
        try db.read { db in try Data.fetchOne(db, sql: "SELECT value FROM routing_state WHERE name = 'router'") }
    }

    /// Cancels a pending or waiting message (a silence or an acknowledgement covers every
    /// alert it carries); true when it was still open.
    @discardableResult
    public func cancel(_ id: String, reason: String) throws -> Bool {
        try db.write { db in
            try db.execute(
                sql:
                    "UPDATE outbox SET status = 'cancelled', last_error = ? WHERE id = ? AND status IN ('pending', 'waiting')",
                arguments: [reason, id])
            return db.changesCount > 0
        }
    }

    /// Cancels the open messages of an SMS page (its escalation ends).
    public func cancel(page: String, reason: String) throws {
        try db.write { db in
            try db.execute(
                sql:
                    "UPDATE outbox SET status = 'cancelled', last_error = ? WHERE page = ? AND status IN ('pending', 'waiting')",
                arguments: [reason, page])
        }
    }

    /// The alerts a page's messages carry (an SMS ACK acknowledges them all).
    public func alerts(ofPage page: String) throws -> [CarriedAlert] {
        try db.read { db in
            guard
                let text = try String.fetchOne(
                    db, sql: "SELECT alerts FROM outbox WHERE page = ? AND alerts IS NOT NULL LIMIT 1",
                    arguments: [page])
            else { return [] }
            return (try? JSONDecoder().decode([CarriedAlert].self, from: Data(text.utf8))) ?? []
        }
    }

    /// Pending messages due by `now`, oldest first.
    public func due(now: Double, limit: Int) throws -> [OutboxMessage] {
        try db.read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?",
                arguments: [now, limit]
            ).map(OutboxMessage.init(row:))
        }
    }

    /// The earliest time a pending message is due, nil when nothing is pending.
    public func nextDue() throws -> Double? {
        try db.read { db in
            try Double.fetchOne(db, sql: "SELECT MIN(next_attempt) FROM outbox WHERE status = 'pending'")
        }
    }

    /// What became of one send attempt, as the outbox records it.
    public enum Resolution: Sendable {
        case delivered
        case retry(at: Double, error: String)
        case dead(error: String)
    }

    /// Records a round of attempts in one transaction. Delivered: the page's next escalation
    /// step (SMS) becomes due `escalateAfter` later. Dead: that contact cannot be reached, so
    /// the next step is due at once.
    public func record(_ results: [(OutboxMessage, Resolution)], at now: Double) throws {
        guard !results.isEmpty else { return }
        try db.write { db in
            for (m, resolution) in results {
                var nextStepDue: Double?
                switch resolution {
                case .delivered:
                    try db.execute(
                        sql:
                            "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE id = ? AND status = 'pending'",
                        arguments: [now, m.id])
                    nextStepDue = now + (m.escalateAfter ?? 0)
                case .retry(let at, let error):
                    try db.execute(
                        sql:
                            "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ? WHERE id = ? AND status = 'pending'",
                        arguments: [at, error, m.id])
                case .dead(let error):
                    try db.execute(
                        sql:
                            "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ? WHERE id = ? AND status = 'pending'",
                        arguments: [error, m.id])
                    nextStepDue = now
                }
                if let page = m.page, let due = nextStepDue, db.changesCount > 0 {
                    try db.execute(
                        sql:
                            "UPDATE outbox SET status = 'pending', next_attempt = ? WHERE page = ? AND step = ? AND status = 'waiting'",
                        arguments: [due, page, m.step + 1])
                }
            }
        }
    }

    /// Moves a message without counting an attempt (a per-contact rate limit).
    public func deferMessage(_ m: OutboxMessage, until t: Double) throws {
        try db.write { db in
            try db.execute(sql: "UPDATE outbox SET next_attempt = ? WHERE id = ?", arguments: [t, m.id])
        }
    }

    /// An ACK for `code` from `phone`: cancels the rest of the newest page that contact was sent.
    /// Returns the page acknowledged, nil when no open page matches.
    public func acknowledge(code: String, from phone: String) throws -> String? {
        try db.write { db in
            guard
                let page = try String.fetchOne(
                    db,
                    sql: """
                        SELECT page FROM outbox WHERE ack_code = ? AND target = ? AND status = 'delivered'
                          AND page IN (SELECT page FROM outbox WHERE status IN ('pending', 'waiting'))
                        ORDER BY delivered_at DESC LIMIT 1
                        """,
                    arguments: [code, phone])
            else { return nil }
            try db.execute(
                sql:
                    "UPDATE outbox SET status = 'cancelled', last_error = ? WHERE page = ? AND status IN ('pending', 'waiting')",
                arguments: ["acknowledged by \(phone)", page])
            return page
        }
    }

    /// SMS messages delivered to `target` since `t` (for the per-contact rate limit).
    public func deliveredCount(to target: String, since t: Double) throws -> (count: Int, oldest: Double?) {
        try db.read { db in
            let row = try Row.fetchOne(
                db,
                sql:
                    "SELECT COUNT(*) AS n, MIN(delivered_at) AS oldest FROM outbox WHERE channel = 'sms' AND target = ? AND status = 'delivered' AND delivered_at > ?",
                arguments: [target, t])
            return (row?["n"] ?? 0, row?["oldest"])
        }
    }

    public func cursor(_ name: String) throws -> Int {
        try db.read { db in try Int.fetchOne(db, sql: "SELECT value FROM cursor WHERE name = ?", arguments: [name]) ?? 0
        }
    }

    public func setCursor(_ name: String, _ value: Int) throws {
        try db.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO cursor (name, value) VALUES (?, ?)", arguments: [name, value])
        }
    }

    public func list(status: OutboxMessage.Status? = nil) throws -> [OutboxMessage] {
        try db.read { db in
            if let status {
                return try Row.fetchAll(
                    db, sql: "SELECT * FROM outbox WHERE status = ? ORDER BY event_time, id",
                    arguments: [status.rawValue]
                )
                .map(OutboxMessage.init(row:))
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM outbox ORDER BY event_time, id").map(
                OutboxMessage.init(row:))
        }
    }

    public func counts() throws -> [OutboxMessage.Status: Int] {
        try db.read { db in
            var out: [OutboxMessage.Status: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status") {
                if let s = OutboxMessage.Status(rawValue: row["status"] ?? "") { out[s] = row["n"] ?? 0 }
            }
            return out
        }
    }

    /// Dead letters (or one of them) back to pending with a fresh retry budget.
    @discardableResult
    public func retry(id: String? = nil, now: Double) throws -> Int {
        try db.write { db in
            if let id {
                try db.execute(
                    sql:
                        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt = ? WHERE status = 'dead' AND id = ?",
                    arguments: [now, id])
            } else {
                try db.execute(
                    sql: "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt = ? WHERE status = 'dead'",
                    arguments: [now])
            }
            return db.changesCount
        }
    }

    /// Deletes finished messages (delivered, cancelled, and dead ones when `dead`).
    @discardableResult
    public func purge(dead: Bool) throws -> Int {
        try db.write { db in
            try db.execute(
                sql: dead
                    ? "DELETE FROM outbox WHERE status IN ('delivered', 'cancelled', 'dead')"
                    : "DELETE FROM outbox WHERE status IN ('delivered', 'cancelled')")
            return db.changesCount
        }
    }
}

/// What an outbox message records of each alert it carries.
public struct CarriedAlert: Sendable, Equatable, Codable {
    public var id: String
    public var status: DeliveryAlert.Status
    public var labels: [String: String]

    public init(_ alert: DeliveryAlert) {
        id = alert.alertID
        status = alert.status
        labels = alert.labels
    }
}

extension Outbox {
    /// The outbox's SQLite file (its folder created when missing), in WAL mode with `sync`'s
    /// durability; the silences and acknowledgements open the same file this way.
    static func openDatabase(path: String, sync: SyncMode) throws -> DatabaseQueue {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = \(sync.sqliteSynchronous)")
        }
        return try DatabaseQueue(path: path, configuration: config)
    }
}
