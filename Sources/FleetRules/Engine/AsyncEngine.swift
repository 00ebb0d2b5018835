/// An ``Engine`` for services built on Swift concurrency: readings go in through the actor and
/// the alert changes they cause come out of ``alerts``, an `AsyncStream`, in the order
/// ``Engine/drainAlerts()`` would return them.
///
/// ```swift
/// let live = AsyncEngine(Engine(plan: plan, inventory: inventory))
/// Task { for await event in live.alerts { print(event.change, event.episode.summary) } }
/// await live.ingest(Reading(timestamp: Date(), device: "d-0042", metrics: ["battery_pct": 18.5]))
/// await live.finish()   // the last changes, then the stream ends
/// ```
public actor AsyncEngine {
    /// Every alert change, as it happens; ends after ``finish()``.
    public nonisolated let alerts: AsyncStream<AlertEvent>
    private let continuation: AsyncStream<AlertEvent>.Continuation
    private var engine: Engine
    private var finished = false

    /// Wraps an engine; alert changes it holds undrained are the stream's first elements.
    /// - Parameters:
    ///   - engine: the engine, usually new (`Engine(plan:inventory:)`).
    ///   - bufferingPolicy: what the stream keeps while nobody iterates it (all by default).
    public init(
        _ engine: Engine, bufferingPolicy: AsyncStream<AlertEvent>.Continuation.BufferingPolicy = .unbounded
    ) {
        (alerts, continuation) = AsyncStream.makeStream(of: AlertEvent.self, bufferingPolicy: bufferingPolicy)
        self.engine = engine
        for event in self.engine.drainAlerts() { continuation.yield(event) }
    }

    /// Accepts one reading (``Engine/ingest(_:origin:)``); returns the reason when it is rejected.
    @discardableResult
    public func ingest(_ reading: Reading, origin: ReadingOrigin? = nil) -> RejectReason? {
        let rejected = engine.ingest(reading, origin: origin)
        publish()
        return rejected
    }

    /// Accepts a batch of readings, then publishes the alert changes they caused.
    public func ingest(contentsOf readings: [Reading]) {
        engine.ingest(contentsOf: readings)
        publish()
    }

    /// Processes everything still buffered (``Engine/finish()``), publishes the last changes and
    /// ends ``alerts``. Readings ingested afterwards are still evaluated, but their alert changes
    /// are only available from ``drainAlerts()``.
    public func finish() {
        engine.finish()
        publish()
        finished = true
        continuation.finish()
    }

    /// Changes not published yet: empty, unless readings came in after ``finish()``.
    public func drainAlerts() -> [AlertEvent] { engine.drainAlerts() }

    /// The report of everything processed so far (``Engine/report(schedule:)``).
    public func report(schedule: ScheduleOptions? = nil) -> Report { engine.report(schedule: schedule) }

    /// A copy of the engine as it is now (to ask it `explain` and the like).
    public var snapshot: Engine { engine }

    private func publish() {
        guard !finished else { return }
        for event in engine.drainAlerts() { continuation.yield(event) }
    }
}
