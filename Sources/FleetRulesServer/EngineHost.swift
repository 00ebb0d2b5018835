import FleetRules
import FleetRulesDelivery
import Foundation
import Logging
import Metrics

/// One loaded policy: its sources (kept so a rollback recompiles exactly what ran), the
/// compiled plan and where it came from.
public struct PolicyVersion: Sendable {
    public var number: Int
    public var sources: [(file: String, bytes: [UInt8])]
    public var plan: EvaluationPlan
    public var origin: String
    public var loadedAt: Date
}

/// What a reload (or rollback) did, or why it did not happen.
public enum ReloadOutcome: Sendable {
    case reloaded(version: Int, diff: RuleDiff, replayed: Int)
    case rejected(PolicyCheck)
    /// The rule files could not be read (a reload from disk).
    case unreadable(String)
    case noPreviousVersion
}

/// Rules compared by their compiled definition: a rule is unchanged when its id, kind,
/// compiled operator steps, severity, summary, labels and maintenance are all the same.
public struct RuleDiff: Sendable {
    public var unchanged: [String] = []
    public var changed: [String] = []
    public var added: [String] = []
    public var removed: [String] = []

    static func fingerprint(_ op: RuleOperator) -> String {
        let r = op.rule
        let labels = r.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        let maintenance = r.maintenance.map { "\($0.task)|\($0.lead ?? -1)|\($0.parts.joined(separator: ","))" } ?? ""
        return [
            r.kind.rawValue, op.steps.joined(separator: "\n"), r.severity.rawValue, r.summary ?? "", labels,
            maintenance,
        ]
        .joined(separator: "\u{1F}")
    }

    init(old: EvaluationPlan, new: EvaluationPlan) {
        var before: [String: String] = [:]
        for op in old.operators { before[op.rule.id] = Self.fingerprint(op) }
        var seen = Set<String>()
        for op in new.operators {
            seen.insert(op.rule.id)
            switch before[op.rule.id] {
            case nil: added.append(op.rule.id)
            case Self.fingerprint(op): unchanged.append(op.rule.id)
            default: changed.append(op.rule.id)
            }
        }
        removed = old.operators.map(\.rule.id).filter { !seen.contains($0) }
    }
}

/// Owns the live engine, the policy versions and the journal; every request goes through it,
/// one at a time, so an ingest never sees half a reload.
public actor EngineHost {
    public struct Settings: Sendable {
        public var rulePaths: [String]
        public var inventory: Inventory
        public var lateness: Double
        public var stateDir: URL?
        /// Upper bound on the journal kept for reloads and restarts.
        public var journalMaxBytes: Int
        /// When the journal is fsynced (`always`: before an ingest is answered).
        public var journalSync: SyncMode
        public init(
            rulePaths: [String], inventory: Inventory, lateness: Double, stateDir: URL?, journalMaxBytes: Int,
            journalSync: SyncMode = .batch
        ) {
            self.rulePaths = rulePaths
            self.inventory = inventory
            self.lateness = lateness
            self.stateDir = stateDir
            self.journalMaxBytes = journalMaxBytes
            self.journalSync = journalSync
        }
    }

    let settings: Settings
    let logger: Logger
    private(set) var engine: Engine
    private(set) var versions: [PolicyVersion]
    /// Indexes into `versions` in the order they were activated, the running one last: a reload
    /// pushes, a rollback pops, so a rollback returns to whatever ran before the active version.
    private var activations: [Int]
    /// Index into `versions` of the running one.
    private var active: Int { activations.last ?? 0 }
    private var journal: Journal
    private var firing: [AlertSeverity: Int] = [:]
    private let metrics = ServerMetrics()
    public private(set) var restoredReadings = 0
    /// The alert changes of the journal's replay at start, not yet handed to delivery.
    private var restoredAlerts: [AlertEvent] = []
    /// The inventory alerts are labelled with.
    public nonisolated var inventory: Inventory { settings.inventory }

    /// The alert changes the journal's replay produced at start (once): delivery routes them
    /// when it has no routing state of its own, and drops them when it restored one (it has
    /// seen them already).
    public func takeRestoredAlerts() -> [AlertEvent] {
        defer { restoredAlerts = [] }
        return restoredAlerts
    }
    /// Receives every ingest's alert changes with the engine's newest event time (`serve --deliver`).
    public typealias AlertHandler = @Sendable (_ events: [AlertEvent], _ eventTime: Double?) -> Void
    private var alertHandler: AlertHandler?

    public func setAlertHandler(_ handler: AlertHandler?) { alertHandler = handler }

    /// The delivery outbox's undelivered notifications, for `/metrics`.
    public func setOutboxDepth(_ depth: Int) { metrics.outboxDepth.record(depth) }

    /// Loads and compiles the pack (diagnostics are returned when it has errors) and, with a
    /// state directory, replays the journal of the previous run.
    public static func start(settings: Settings, logger: Logger) throws -> EngineHost {
        let sources = try readSources(settings.rulePaths)
        let check = PolicyLoader().check(sources: sources)
        guard let policy = check.policy else { throw StartError.policy(check) }
        let plan = policy.compile(lateness: settings.lateness)
        let version = PolicyVersion(number: 1, sources: sources, plan: plan, origin: "startup", loadedAt: Date())
        return try EngineHost(settings: settings, version: version, logger: logger)
    }

    public enum StartError: Error {
        case policy(PolicyCheck)
    }

    private init(settings: Settings, version: PolicyVersion, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        versions = [version]
        activations = [0]
        var engine = Self.liveEngine(version.plan, settings.inventory)
        var journal = Journal(
            horizon: Journal.horizon(for: version.plan), maxBytes: settings.journalMaxBytes,
            stateDir: settings.stateDir,
            sync: settings.journalSync)
        let saved = try journal.restore()
        if !saved.isEmpty {
            let summary = TelemetryBody.ingest(&engine, bytes: saved, origin: "journal", keepAccepted: true)
            try journal.adopt(summary.acceptedLines, newest: engine.stats.lastTimestamp)
            restoredReadings = summary.accepted
        }
        restoredAlerts = engine.drainAlerts()
        var firing: [AlertSeverity: Int] = [:]
        for e in engine.episodes where e.until == nil { firing[e.severity, default: 0] += 1 }
        metrics.setFiring(firing)
        self.firing = firing
        self.engine = engine
        self.journal = journal
    }

    /// An engine for a live service: `future` is judged against the wall clock alone (moved on
    /// every ingest), so readings after a gap of any length (an outage, a restart with a day-old
    /// journal) are accepted; a device whose clock runs ahead of the fleet is held without
    /// moving the fleet's time.
    static func liveEngine(_ plan: EvaluationPlan, _ inventory: Inventory) -> Engine {
        var engine = Engine(plan: plan, inventory: inventory)
        engine.maxForwardJump = .infinity
        return engine
    }

    static func readSources(_ paths: [String]) throws -> [(file: String, bytes: [UInt8])] {
        let files = try PolicyLoader.files(for: paths)
        return try files.map { ($0, [UInt8](try Data(contentsOf: URL(fileURLWithPath: $0)))) }
    }

    // MARK: ingest

    public struct IngestResult: Sendable {
        public var summary: TelemetryBody.Summary
        public var events: Int
    }

    /// Decodes a JSON Lines body (already syntax-checked) into the engine and journals what was
    /// accepted; `origin` names the source in the rejection examples of the report.
    public func ingest(lines: [UInt8], lineNumbers: [Int]?, origin: String = "request") throws -> IngestResult {
        let start = DispatchTime.now()
        // `future` is judged against the wall clock now, not at start-up: the process lives for days.
        engine.wallClockLimit = Date().timeIntervalSince1970 + Engine.allowedClockSkew
        let summary = TelemetryBody.ingest(
            &engine, bytes: lines, lineNumbers: lineNumbers, origin: origin, keepAccepted: true)
        let events = engine.drainAlerts()
        // Delivery gets every change, and the event time even without one (group timers run on it).
        alertHandler?(events, engine.stats.lastTimestamp)
        metrics.evaluation.recordInterval(since: start)
        for e in events {
            switch e.change {
            case .fired: firing[e.episode.severity, default: 0] += 1
            case .resolved: firing[e.episode.severity, default: 0] -= 1
            case .updated: break
            }
        }
        metrics.record(summary, firing: firing)
        try journal.append(summary.acceptedLines, newest: engine.stats.lastTimestamp)
        return IngestResult(summary: summary, events: events.count)
    }

    private func recountFiring() {
        firing = [:]
        for e in engine.episodes where e.until == nil { firing[e.severity, default: 0] += 1 }
        metrics.setFiring(firing)
    }

    // MARK: queries

    /// The report `fleetrules run` would write for the readings so far: a copy of the engine
    /// is finished (every buffered reading and due timer processed); the live one goes on.
    public func report() -> Report {
        var copy = engine
        copy.finish()
        return copy.report()
    }

    public func explainDevice(_ id: String) -> (row: [(String, String)], rules: [JSONValue])? {
        guard let index = engine.inventory.deviceIndex[id] else { return nil }
        let inv = engine.inventory
        let row = inv.columns.enumerated().map { ($0.element, inv.value($0.element, device: index) ?? "") }
        var copy = engine
        copy.finish()
        var rules: [JSONValue] = []
        for op in copy.plan.operators {
            guard case .condition = op.evaluation else { continue }
            if let e = try? copy.explain(rule: op.rule.id, device: id) { rules.append(e.json()) }
        }
        return (row, rules)
    }

    public var status: (version: Int, versions: [PolicyVersion], readings: Int, journalBytes: Int, horizon: Double) {
        (versions[active].number, versions, engine.stats.readings, journal.bytes, journal.horizon)
    }

    // MARK: rules

    public nonisolated func validate(_ sources: [(file: String, bytes: [UInt8])]) -> PolicyCheck {
        PolicyLoader().check(sources: sources)
    }

    /// Checks and compiles the new pack first; only when that succeeds is a new engine built,
    /// the journal replayed into it and the engine swapped in. On error nothing changes.
    public func reload(_ sources: [(file: String, bytes: [UInt8])], origin: String) -> ReloadOutcome {
        let check = PolicyLoader().check(sources: sources)
        guard let policy = check.policy else {
            metrics.reloads(ok: false)
            return .rejected(check)
        }
        let plan = policy.compile(lateness: settings.lateness)
        let number = (versions.map(\.number).max() ?? 0) + 1
        versions.append(PolicyVersion(number: number, sources: sources, plan: plan, origin: origin, loadedAt: Date()))
        activations.append(versions.count - 1)
        return activate(versions.count - 1)
    }

    /// Reloads the pack from the `--rules` paths on disk (SIGHUP, or `POST /v1/rules` with no body).
    public func reloadFromDisk(origin: String) -> ReloadOutcome {
        do {
            return reload(try Self.readSources(settings.rulePaths), origin: origin)
        } catch {
            metrics.reloads(ok: false)
            return .unreadable("cannot read the rules: \(error)")
        }
    }

    /// Goes back to the version that ran before the active one was activated (after v1, v2,
    /// rollback, v3 that is v1, not v2); rolling back again goes further back the same way.
    public func rollback() -> ReloadOutcome {
        guard activations.count > 1 else { return .noPreviousVersion }
        activations.removeLast()
        return activate(active)
    }

    private func activate(_ index: Int) -> ReloadOutcome {
        let old = engine.plan
        let version = versions[index]
        var fresh = Self.liveEngine(version.plan, settings.inventory)
        let replay = journal.contents
        let summary = TelemetryBody.ingest(&fresh, bytes: replay, origin: "journal")
        _ = fresh.drainAlerts()
        engine = fresh
        journal.horizon = Journal.horizon(for: version.plan)
        recountFiring()
        metrics.reloads(ok: true)
        let diff = RuleDiff(old: old, new: version.plan)
        logger.info(
            "policy version active",
            metadata: [
                "version": "\(version.number)", "origin": "\(version.origin)", "replayed": "\(summary.accepted)",
                "unchanged": "\(diff.unchanged.count)", "changed": "\(diff.changed.count)",
                "added": "\(diff.added.count)", "removed": "\(diff.removed.count)",
            ])
        return .reloaded(version: version.number, diff: diff, replayed: summary.accepted)
    }

    /// The journal's readings (JSON Lines, arrival order): what a restart restored plus what came since.
    public var journalContents: [UInt8] { journal.contents }

    /// Writes the journal out whole (at shutdown).
    public func checkpoint() throws {
        try journal.rewrite()
    }
}
