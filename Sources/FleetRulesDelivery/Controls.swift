import FleetRules
import Foundation
import GRDB

/// A silence added at run time, in the shape of Alertmanager's API v2: while it is active no
/// alert its matchers select is notified (the alert is still evaluated and reported). Its
/// times are wall-clock times, as an on-call engineer means them.
public struct RuntimeSilence: Sendable, Equatable {
    public enum State: String, Sendable { case pending, active, expired }

    public var id: String
    public var matchers: [DeliveryConfig.Matcher]
    public var startsAt: Double
    public var endsAt: Double
    public var createdBy: String
    public var comment: String
    public var updatedAt: Double

    public func state(at now: Double) -> State {
        if now >= endsAt { return .expired }
        return now < startsAt ? .pending : .active
    }

    public func silences(_ labels: [String: String], at now: Double) -> Bool {
        state(at: now) == .active && matchers.allSatisfy { $0.matches(labels) }
    }

    /// Alertmanager's GettableSilence.
    public func json(now: Double) -> JSONValue {
        .object([
            ("id", .string(id)),
            ("status", .object([("state", .string(state(at: now).rawValue))])),
            ("updatedAt", .string(Timestamp.format(updatedAt))),
            (
                "matchers",
                .array(
                    matchers.map {
                        .object([
                            ("name", .string($0.label)), ("value", .string($0.value)),
                            ("isRegex", .bool($0.op.isRegex)),
                            ("isEqual", .bool($0.op.isEqual)),
                        ])
                    })
            ),
            ("startsAt", .string(Timestamp.format(startsAt))),
            ("endsAt", .string(Timestamp.format(endsAt))),
            ("createdBy", .string(createdBy)),
            ("comment", .string(comment)),
        ])
    }

    /// Why a posted silence is refused: a message for a 400 answer.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Reads Alertmanager's PostableSilence: `matchers` (each `name`, `value`, `isRegex`,
    /// `isEqual`), `startsAt` (default now; a time in the past becomes now), `endsAt`,
    /// `createdBy`, `comment`, and an optional `id` (kept as given: the caller decides whether
    /// it names a silence to update).
    public static func parse(_ body: JSONValue, now: Double) throws(Invalid) -> RuntimeSilence {
        guard case .object(let fields) = body else { throw Invalid(message: "expected a JSON object") }
        let known: Set<String> = [
            "id", "matchers", "startsAt", "endsAt", "createdBy", "comment", "status", "updatedAt",
        ]
        if let unknown = fields.first(where: { !known.contains($0.0) }) {
            throw Invalid(
                message: "unknown field '\(unknown.0)': a silence has matchers, startsAt, endsAt, createdBy, comment")
        }
        func text(_ name: String, required: Bool) throws(Invalid) -> String? {
            switch body[name] {
            case nil, .null?:
                if required { throw Invalid(message: "'\(name)' is required") }
                return nil
            case .string(let s)?: return s
            default: throw Invalid(message: "'\(name)' must be a string")
            }
        }
        func time(_ name: String, required: Bool) throws(Invalid) -> Double? {
            guard let s = try text(name, required: required) else { return nil }
            guard let t = Timestamp.parse(s) else {
                throw Invalid(message: "'\(name)' is not an RFC 3339 time such as 2026-03-01T06:00:00Z: '\(s)'")
            }
            return t
        }
        guard case .array(let list)? = body["matchers"], !list.isEmpty else {
            throw Invalid(message: "'matchers' must be a non-empty list of {name, value, isRegex, isEqual}")
        }
        var matchers: [DeliveryConfig.Matcher] = []
        for (i, item) in list.enumerated() {
            guard case .object = item, case .string(let name)? = item["name"], case .string(let value)? = item["value"]
            else {
                throw Invalid(message: "matcher \(i + 1): 'name' and 'value' must be strings")
            }
            func flag(_ key: String, _ fallback: Bool) throws(Invalid) -> Bool {
                switch item[key] {
                case nil, .null?: return fallback
                case .bool(let b)?: return b
                default: throw Invalid(message: "matcher \(i + 1): '\(key)' must be true or false")
                }
            }
            guard MatcherText.isLabelName(name) else {
                throw Invalid(message: "matcher \(i + 1): '\(name)' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)")
            }
            let op = DeliveryConfig.Matcher.Operator(
                isRegex: try flag("isRegex", false), isEqual: try flag("isEqual", true))
            guard let m = DeliveryConfig.Matcher(name: name, op: op, value: value) else {
                throw Invalid(message: "matcher \(i + 1): the regular expression '\(value)' does not compile")
            }
            matchers.append(m)
        }
        // As in Alertmanager: a silence must not select every alert.
        guard matchers.contains(where: { !$0.matches([:]) }) else {
            throw Invalid(
                message: "at least one matcher must not match the empty string (the silence would match every alert)")
        }
        guard let endsAt = try time("endsAt", required: true) else { throw Invalid(message: "'endsAt' is required") }
        let startsAt = max(now, try time("startsAt", required: false) ?? now)
        guard endsAt > startsAt else {
            throw Invalid(message: "'endsAt' must be after 'startsAt' and in the future")
        }
        let createdBy = try text("createdBy", required: true) ?? ""
        let comment = try text("comment", required: true) ?? ""
        if createdBy.trimmingCharacters(in: .whitespaces).isEmpty {
            throw Invalid(message: "'createdBy' must name who silences")
        }
        if comment.trimmingCharacters(in: .whitespaces).isEmpty { throw Invalid(message: "'comment' must say why") }
        return RuntimeSilence(
            id: try text("id", required: false) ?? "", matchers: matchers, startsAt: startsAt, endsAt: endsAt,
            createdBy: createdBy, comment: comment, updatedAt: now)
    }
}

/// An acknowledged alert: who took it on, and why. Keyed by the alert's stable id, so it holds
/// for that episode only; a resolved-then-refiring alert is a new episode, not acknowledged.
public struct Acknowledgement: Sendable, Equatable {
    public var alertID: String
    public var by: String
    public var comment: String
    public var at: Double

    public init(alertID: String, by: String, comment: String, at: Double) {
        self.alertID = alertID
        self.by = by
        self.comment = comment
        self.at = at
    }

    public func json() -> JSONValue {
        .object([("by", .string(by)), ("comment", .string(comment)), ("at", .string(Timestamp.format(at)))])
    }
}

/// Why an alert is not notified now.
public enum Suppression: Sendable, Equatable {
    case silenced([String])
    case acknowledged(Acknowledgement)
}

/// Silences and acknowledgements made at run time, persisted in SQLite (the outbox's database
/// file, or in memory) and cached in memory: routing and sending read them on every tick.
public final class DeliveryControls: @unchecked Sendable {
    let db: DatabaseQueue
    // The caches are read and written only under `lock`.
    private let lock = NSLock()
    private var silences: [String: RuntimeSilence] = [:]
    private var acks: [String: Acknowledgement] = [:]
    /// The ids of the alerts delivery has firing, by alert key (rule, device, site, subject).
    private var firingIDs: [String: String] = [:]

    /// `path`: the SQLite file (the outbox's, typically); nil keeps them in memory only.
    public init(path: String?, sync: SyncMode = .batch) throws {
        if let path {
            db = try Outbox.openDatabase(path: path, sync: sync)
        } else {
            db = try DatabaseQueue()
        }
        try db.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS silences (
                      id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at REAL NOT NULL, ends_at REAL NOT NULL,
                      created_by TEXT NOT NULL, comment TEXT NOT NULL, updated_at REAL NOT NULL);
                    CREATE TABLE IF NOT EXISTS acks (
                      alert_id TEXT PRIMARY KEY, by TEXT NOT NULL, comment TEXT NOT NULL, at REAL NOT NULL);
                    """)
        }
        try load()
    }

    private func load() throws {
        let (s, a) = try db.read { db -> ([RuntimeSilence], [Acknowledgement]) in
            let silences = try Row.fetchAll(db, sql: "SELECT * FROM silences").compactMap { row -> RuntimeSilence? in
                let text: String = row["matchers"] ?? "[]"
                guard let value = try? JSONValue.parse(text),
                    let parsed = try? RuntimeSilence.parse(
                        .object([
                            ("matchers", value), ("endsAt", .string(Timestamp.format(row["ends_at"] ?? 0))),
                            ("createdBy", .string(row["created_by"] ?? "")), ("comment", .string(row["comment"] ?? "")),
                        ]), now: -.infinity)
                else { return nil }
                return RuntimeSilence(
                    id: row["id"] ?? "", matchers: parsed.matchers, startsAt: row["starts_at"] ?? 0,
                    endsAt: row["ends_at"] ?? 0, createdBy: row["created_by"] ?? "", comment: row["comment"] ?? "",
                    updatedAt: row["updated_at"] ?? 0)
            }
            let acks = try Row.fetchAll(db, sql: "SELECT * FROM acks").map { row in
                Acknowledgement(
                    alertID: row["alert_id"] ?? "", by: row["by"] ?? "", comment: row["comment"] ?? "",
                    at: row["at"] ?? 0)
            }
            return (silences, acks)
        }
        lock.withLock {
            silences = Dictionary(s.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            acks = Dictionary(a.map { ($0.alertID, $0) }, uniquingKeysWith: { a, _ in a })
        }
    }

    // MARK: silences

    /// Every silence, newest first.
    public func allSilences() -> [RuntimeSilence] {
        lock.withLock { silences.values.sorted { ($0.updatedAt, $0.id) > ($1.updatedAt, $1.id) } }
    }

    public func silence(_ id: String) -> RuntimeSilence? { lock.withLock { silences[id] } }

    /// Adds a silence (a new id when it has none) or replaces the one with its id; returns the id.
    @discardableResult
    public func put(_ silence: RuntimeSilence) throws -> String {
        var s = silence
        if s.id.isEmpty { s.id = UUID().uuidString.lowercased() }
        let matchers = JSONValue.array(
            s.matchers.map {
                .object([
                    ("name", .string($0.label)), ("value", .string($0.value)), ("isRegex", .bool($0.op.isRegex)),
                    ("isEqual", .bool($0.op.isEqual)),
                ])
            })
        try db.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO silences (id, matchers, starts_at, ends_at, created_by, comment, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    s.id, matchers.serialized(pretty: false), s.startsAt, s.endsAt, s.createdBy, s.comment, s.updatedAt,
                ])
        }
        lock.withLock { silences[s.id] = s }
        return s.id
    }

    /// Expires a silence now (a pending one never starts); nil when there is no such silence.
    public func expire(_ id: String, now: Double) throws -> RuntimeSilence? {
        guard var s = silence(id) else { return nil }
        guard s.state(at: now) != .expired else { return s }
        s.startsAt = min(s.startsAt, now)
        s.endsAt = now
        s.updatedAt = now
        try put(s)
        return s
    }

    /// The ids of the active silences that select these labels.
    public func silencing(_ labels: [String: String], at now: Double) -> [String] {
        lock.withLock { silences.values.filter { $0.silences(labels, at: now) }.map(\.id).sorted() }
    }

    // MARK: alert ids

    /// The id delivery knows a firing alert by (the episode's start as delivery first saw it,
    /// which a restart does not move), nil when delivery has no such alert firing.
    public func firingID(key: String) -> String? { lock.withLock { firingIDs[key] } }

    /// Records what delivery has firing now for these keys (nil: not firing).
    func noteFiring(_ changes: [(key: String, id: String?)], replacing: Bool = false) {
        lock.withLock {
            if replacing { firingIDs = [:] }
            for c in changes { firingIDs[c.key] = c.id }
        }
    }

    // MARK: acknowledgements

    /// Records an acknowledgement (the first one of an alert stands); returns the one in force.
    @discardableResult
    public func acknowledge(_ ack: Acknowledgement) throws -> Acknowledgement {
        if let existing = acknowledgement(ack.alertID) { return existing }
        try db.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO acks (alert_id, by, comment, at) VALUES (?, ?, ?, ?)",
                arguments: [ack.alertID, ack.by, ack.comment, ack.at])
        }
        lock.withLock { acks[ack.alertID] = ack }
        return ack
    }

    public func acknowledgement(_ alertID: String) -> Acknowledgement? { lock.withLock { acks[alertID] } }

    /// Why an alert is not to be notified now, nil when it is. A silence holds whatever the
    /// alert's status; an acknowledgement stops its firing notifications (its resolve still goes out).
    public func suppression(
        alertID: String, labels: [String: String], status: DeliveryAlert.Status, at now: Double
    ) -> Suppression? {
        let ids = silencing(labels, at: now)
        if !ids.isEmpty { return .silenced(ids) }
        if status == .firing, let ack = acknowledgement(alertID) { return .acknowledged(ack) }
        return nil
    }

    public func suppression(of alert: DeliveryAlert, at now: Double) -> Suppression? {
        suppression(alertID: alert.alertID, labels: alert.labels, status: alert.status, at: now)
    }
}

/// How hard the server's state is pushed to the disk (`serve --journal-sync`).
public enum SyncMode: String, Sendable, CaseIterable {
    /// fsync of the journal and SQLite `synchronous=FULL` before an ingest is answered (or
    /// PUBACKed): what was acknowledged survives a machine crash.
    case always
    /// The journal is fsynced at most once a second, SQLite commits are synced at WAL
    /// checkpoints (`synchronous=NORMAL`): a process crash loses nothing, a machine crash at
    /// most the last second.
    case batch
    /// No fsync at all (`synchronous=OFF`): a process crash loses nothing the kernel has, a
    /// machine crash whatever it had not written yet.
    case none

    public var sqliteSynchronous: String {
        switch self {
        case .always: "FULL"
        case .batch: "NORMAL"
        case .none: "OFF"
        }
    }
}
