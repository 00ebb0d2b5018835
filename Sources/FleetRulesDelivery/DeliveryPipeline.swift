import FleetRules
import Foundation

/// The embedding API and the one delivery loop: alerts in, durable notifications out.
///
///     let delivery = try DeliveryPipeline(config: config, outboxPath: "outbox.sqlite")
///     try delivery.route(engine.drainAlerts(), inventory: inventory)   // written to the outbox
///     let drained = try await delivery.drain(within: 60)
///
/// `fleetrules run --deliver` routes a run's alerts and drains; `fleetrules outbox deliver`
/// drains an existing outbox; `fleetrules serve --deliver` routes every ingest's alerts as they
/// come, sends in `sendContinuously` rounds while it serves, and at shutdown routes the groups
/// still open and drains once more (`finish`).
public final class DeliveryPipeline: @unchecked Sendable {
    // Router and planner are mutated only under `lock`.
    private let lock = NSLock()
    private var router: AlertRouter
    private var planner: Planner
    /// The newest event time routed (a live service's clock for the routing timers).
    private var eventTime: Double?
    public let config: DeliveryConfig
    public let outbox: Outbox
    /// Run-time silences and acknowledgements (a live service's), nil for a replay.
    public let controls: DeliveryControls?
    /// Whether the routing state is stored with every batch of messages and taken up again
    /// at start (`serve --state-dir`).
    public let keepsState: Bool
    /// Whether the routing state of a previous run was taken up.
    public private(set) var restored = false
    /// What the routing state last stored was made from (under `lock`): the router's
    /// revision, the open SMS batches and the event time; an unchanged state is not stored again.
    private var storedRevision: (router: Int, batches: Int, eventTime: Double?)?

    public convenience init(config: DeliveryConfig, outboxPath: String) throws {
        self.init(config: config, outbox: try Outbox(path: outboxPath))
    }

    /// `controls`: run-time silences and acknowledgements; `keepState`: store the routing
    /// state (groups, timers, open SMS batches) in the outbox and restore it from there.
    public init(config: DeliveryConfig, outbox: Outbox, controls: DeliveryControls? = nil, keepState: Bool = false)
        throws
    {
        self.config = config
        router = AlertRouter(config: config)
        router.controls = controls
        planner = Planner(config: config)
        self.outbox = outbox
        self.controls = controls
        keepsState = keepState
        if keepState, let data = try outbox.routingState() {
            let snapshot = try JSONDecoder().decode(RoutingSnapshot.self, from: data)
            router.restore(groups: snapshot.groups, firing: snapshot.firing)
            planner.restore(batches: snapshot.batches)
            eventTime = snapshot.eventTime
            restored = true
        }
        controls?.noteFiring(router.firing.map { ($0.key, $0.value.alertID) }, replacing: true)
    }

    public init(config: DeliveryConfig, outbox: Outbox) {
        self.config = config
        router = AlertRouter(config: config)
        planner = Planner(config: config)
        self.outbox = outbox
        controls = nil
        keepsState = false
    }

    public var stats: AlertRouter.Stats { lock.withLock { router.stats } }

    /// The routing state to store with a batch (under `lock`), nil when it is not kept.
    private func stateLocked() throws -> Data? {
        guard keepsState else { return nil }
        let revision = (router.revision, planner.batches.count, eventTime)
        if let s = storedRevision, s.router == revision.0, s.batches == revision.1, s.eventTime == revision.2 {
            return nil
        }
        storedRevision = revision
        let (groups, firing) = router.snapshotGroups()
        let snapshot = RoutingSnapshot(
            groups: groups, firing: firing, batches: planner.snapshotBatches(), eventTime: eventTime)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(snapshot)
    }

    /// Routes and plans under the lock, then writes the messages (with the state that made
    /// them) in one transaction.
    private func write(_ body: (Double) -> [OutboxMessage]) throws -> Int {
        let now = Date().timeIntervalSince1970
        let (messages, state): ([OutboxMessage], Data?) = try lock.withLock {
            router.wallNow = now
            let m = body(now)
            return (m, try stateLocked())
        }
        if messages.isEmpty && state == nil { return 0 }
        return try outbox.enqueue(messages, state: state)
    }

    /// Routes alert changes and writes the resulting messages to the outbox (one transaction).
    /// `final`: the end of the data; groups and SMS batches still open are flushed.
    @discardableResult
    public func route(_ events: [AlertEvent], inventory: Inventory?, final: Bool = false) throws -> Int {
        try write { now in
            if let t = events.map(\.time).max() { eventTime = max(eventTime ?? t, t) }
            var notifications = router.process(events, inventory: inventory)
            if let controls {
                let keys = Set(events.map { DeliveryAlert($0, inventory: inventory).key })
                controls.noteFiring(keys.map { ($0, router.firing[$0]?.alertID) })
            }
            if final { notifications += router.finish() }
            var m = planner.plan(notifications, now: now)
            if final {
                m += planner.finish(now: now)
            } else if let t = events.map(\.time).max() {
                m += planner.advance(to: t, now: now)
            }
            return m
        }
    }

    /// Event time has reached `t` with no new alerts (a live service's watermark): flushes the
    /// groups and SMS batches due by then into the outbox.
    @discardableResult
    public func advance(to t: Double) throws -> Int {
        try write { now in
            eventTime = max(eventTime ?? t, t)
            let notifications = router.advance(to: t)
            return planner.plan(notifications, now: now) + planner.advance(to: t, now: now)
        }
    }

    /// A live service's tick, between rounds of sends: groups whose silence expired are sent
    /// again at their next `group_interval`, and Alertmanager groups still firing are re-posted
    /// every `resend_interval` of wall time. Nothing happens before the first event is routed.
    @discardableResult
    public func tick() throws -> Int {
        try write { now in
            guard let t = eventTime else { return [] }
            router.recheck(at: t)
            let notifications = router.advance(to: t) + router.resendDue(eventTime: t)
            return planner.plan(notifications, now: now)
        }
    }

    /// Routes a live service's alert changes and moves the groups on to its event time.
    public func routeLive(_ events: [AlertEvent], eventTime: Double?, inventory: Inventory?) throws {
        try route(events, inventory: inventory)
        if let eventTime { try advance(to: eventTime) }
    }

    public func deliver(
        until deadline: Double, onSend: (@Sendable (OutboxMessage, SendOutcome) -> Void)? = nil
    ) async throws -> Dispatcher.Summary {
        var d = Dispatcher(config: config, outbox: outbox)
        d.controls = controls
        d.onSend = onSend
        return try await d.run(until: deadline)
    }

    // MARK: the delivery loop

    /// What a drain sent, and what the outbox still holds pending after it.
    public struct Drained: Sendable, CustomStringConvertible {
        public var summary: Dispatcher.Summary
        public var pending: Int

        /// One line: delivered, rate, retries, dead letters, acknowledgements and what is left.
        public var description: String {
            let s = summary
            let rate = s.sendingSeconds > 0 ? Double(s.delivered) / s.sendingSeconds : 0
            return "delivered \(s.delivered) in \(String(format: "%.2f", s.seconds)) s "
                + "(\(String(format: "%.0f", rate))/s over \(String(format: "%.2f", s.sendingSeconds)) s of sending), "
                + "\(s.retried) retries, \(s.dead) dead, \(s.acknowledged) acknowledged, \(pending) pending"
        }
    }

    /// Sends what the outbox holds until nothing is pending or `seconds` (wall clock) have
    /// passed; what is left stays pending in the outbox.
    public func drain(within seconds: Double) async throws -> Drained {
        let summary = try await deliver(until: Date().timeIntervalSince1970 + seconds)
        return Drained(summary: summary, pending: try pendingCount())
    }

    /// The end of the data (a run's end, a service's shutdown): routes `events` with the groups
    /// and SMS batches still open, then drains for at most `seconds`.
    public func finish(
        _ events: [AlertEvent] = [], inventory: Inventory?, within seconds: Double
    ) async throws -> Drained {
        try route(events, inventory: inventory, final: true)
        return try await drain(within: seconds)
    }

    /// Notifications not yet delivered.
    public func pendingCount() throws -> Int { (try outbox.counts())[.pending] ?? 0 }

    /// A live service's sender: rounds of at most `round`, `pause` apart, until the task is
    /// cancelled or `stop` returns true. After each round `afterRound` gets the pending count;
    /// a failed round is handed to `onError` and the loop goes on.
    public func sendContinuously(
        round: Duration = .seconds(1), pause: Duration = .milliseconds(250),
        stop: @Sendable () -> Bool = { false },
        afterRound: @Sendable (_ pending: Int) async -> Void = { _ in },
        onError: @Sendable (any Error) -> Void = { _ in }
    ) async {
        let roundSeconds = Double(round.components.seconds) + Double(round.components.attoseconds) / 1e18
        while !Task.isCancelled && !stop() {
            do {
                try tick()
                _ = try await deliver(until: Date().timeIntervalSince1970 + roundSeconds)
                await afterRound(try pendingCount())
            } catch {
                onError(error)
            }
            if stop() { break }
            try? await Task.sleep(for: pause)
        }
    }
}
