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
    public let config: DeliveryConfig
    public let outbox: Outbox

    public convenience init(config: DeliveryConfig, outboxPath: String) throws {
        self.init(config: config, outbox: try Outbox(path: outboxPath))
    }

    public init(config: DeliveryConfig, outbox: Outbox) {
        self.config = config
        router = AlertRouter(config: config)
        planner = Planner(config: config)
        self.outbox = outbox
    }

    public var stats: AlertRouter.Stats { lock.withLock { router.stats } }

    /// Routes alert changes and writes the resulting messages to the outbox (one transaction).
    /// `final`: the end of the data; groups and SMS batches still open are flushed.
    @discardableResult
    public func route(_ events: [AlertEvent], inventory: Inventory?, final: Bool = false) throws -> Int {
        let now = Date().timeIntervalSince1970
        let messages: [OutboxMessage] = lock.withLock {
            var notifications = router.process(events, inventory: inventory)
            if final { notifications += router.finish() }
            var m = planner.plan(notifications, now: now)
            if final {
                m += planner.finish(now: now)
            } else if let t = events.map(\.time).max() {
                m += planner.advance(to: t, now: now)
            }
            return m
        }
        return try outbox.enqueue(messages)
    }

    /// Event time has reached `t` with no new alerts (a live service's watermark): flushes the
    /// groups and SMS batches due by then into the outbox.
    @discardableResult
    public func advance(to t: Double) throws -> Int {
        let now = Date().timeIntervalSince1970
        let messages: [OutboxMessage] = lock.withLock {
            let notifications = router.advance(to: t)
            return planner.plan(notifications, now: now) + planner.advance(to: t, now: now)
        }
        return try outbox.enqueue(messages)
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
