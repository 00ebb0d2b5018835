import Testing

@testable import FleetRules

/// The engine's parts on their own: input limits, fleet time, the reorder buffer.
struct InputLimitsTests {
    let limits = InputLimits(rangeLow: [0], rangeHigh: [100], metricNames: ["battery_pct"])

    @Test func timestampsBefore2000AreTooOld() {
        #expect(limits.rejection(time: 946_684_799, frontier: -.infinity, lateness: 300)?.0 == .tooOld)
        #expect(limits.rejection(time: .nan, frontier: -.infinity, lateness: 300)?.0 == .tooOld)
        #expect(limits.rejection(time: 946_684_800, frontier: -.infinity, lateness: 300) == nil)
    }

    @Test func timestampsPastTheWallClockLimitAreFuture() {
        var l = limits
        l.wallClockLimit = 2_000_000_000
        #expect(l.rejection(time: 2_000_000_001, frontier: -.infinity, lateness: 300)?.0 == .future)
        #expect(l.rejection(time: 2_000_000_000, frontier: -.infinity, lateness: 300) == nil)
    }

    @Test func readingsBehindWhatWasEvaluatedAreLate() {
        let r = limits.rejection(time: 1_700_000_000, frontier: 1_700_000_001, lateness: 300)
        #expect(r?.0 == .late)
        #expect(r?.1.contains("lateness 5m") == true)
    }

    @Test func rangesIncludeTheirBoundsAndRejectNaN() {
        #expect(limits.inRange(0, 0) && limits.inRange(0, 100))
        #expect(!limits.inRange(0, 100.5) && !limits.inRange(0, .nan))
        #expect(limits.rangeMessage(metric: 0, 120) == "battery_pct = 120 is outside [0, 100]")
    }

    @Test func theFirstReadingAndReadingsFarAheadAreHeld() {
        #expect(limits.isFarAhead(1_700_000_000, fleetTime: nil))
        #expect(limits.isFarAhead(1_700_000_000 + 86401, fleetTime: 1_700_000_000))
        #expect(!limits.isFarAhead(1_700_000_000 + 86400, fleetTime: 1_700_000_000))
        var live = limits
        live.maxForwardJump = .infinity
        #expect(!live.isFarAhead(1_700_000_000, fleetTime: nil))
    }
}

struct FleetClockTests {
    @Test func warmingUpTheOldestVoteWins() {
        var clock = FleetClock(devices: 10)
        _ = clock.observe(1000, device: 0)
        _ = clock.observe(5000, device: 1)
        #expect(clock.time == 1000)
    }

    @Test func aTenthOfTheDevicesMayRunAheadWithoutMovingIt() {
        var clock = FleetClock(devices: 20)
        for round in 0..<20 {
            for d in 0..<20 {
                // Device 0 and 1 run a day ahead.
                let t = Double(round * 60) + (d < 2 ? 86400 : 0)
                _ = clock.observe(t, device: d)
            }
        }
        clock.update(atEnd: true)
        #expect(clock.time == Double(19 * 60))
        #expect(clock.watermark(lateness: 300) == Double(19 * 60 - 300))
    }

    @Test func advancingNeverGoesBack() {
        var clock = FleetClock(devices: 1)
        clock.advance(to: 500)
        _ = clock.observe(100, device: 0)
        #expect(clock.time == 500)
    }

    @Test func theKthLargest() {
        var scratch: [Double] = []
        #expect(FleetClock.largest(1, of: [3, 9, 1], keeping: &scratch) == 9)
        #expect(FleetClock.largest(2, of: [3, 9, 1, 7], keeping: &scratch) == 7)
        #expect(FleetClock.largest(4, of: [3, 9, 1, 7], keeping: &scratch) == 1)
    }
}

struct ReorderBufferTests {
    func pending(_ buffer: inout ReorderBuffer, _ t: Double, value: Double = 1) -> ReorderBuffer.Pending {
        let s = buffer.nextSequence()
        let slot = buffer.store([(0, value)], count: 1)
        return .init(
            time: t, sequence: s, device: 0, gateway: -1, slot: slot, count: 1, hasStrings: false, heldAhead: false)
    }

    @Test func readingsComeOutInEventTimeThenArrivalOrder() {
        var buffer = ReorderBuffer(metrics: 1)
        for t in [10.0, 30, 20, 30, 5] { buffer.enqueue(pending(&buffer, t), fleetTime: nil) }
        var out: [(Double, Int)] = []
        while let next = buffer.next() {
            buffer.pop()
            out.append((next.time, next.sequence))
            buffer.free(next.slot)
        }
        #expect(out.map(\.0) == [5, 10, 20, 30, 30])
        #expect(out.map(\.1) == [5, 1, 3, 2, 4])
    }

    @Test func slotsAreReused() {
        var buffer = ReorderBuffer(metrics: 2)
        let a = pending(&buffer, 1, value: 7)
        #expect(buffer.poolValue[Int(a.slot) * buffer.slotSize] == 7)
        buffer.free(a.slot)
        let b = pending(&buffer, 2, value: 8)
        #expect(b.slot == a.slot)
        #expect(buffer.poolValue.count == 2)
    }

    @Test func heldReadingsJoinWhenTheFleetComesNearAndExpireOtherwise() {
        var buffer = ReorderBuffer(metrics: 1)
        let near = pending(&buffer, 100_000)
        let far = pending(&buffer, 1_000_000)
        buffer.hold(near, expires: 10, line: nil)
        buffer.hold(far, expires: 10, line: .init(origin: ReadingOrigin(file: "f", line: 2), drops: []))
        #expect(buffer.review(fleet: 0, maxForwardJump: 86400, observed: 5).isEmpty)
        #expect(buffer.heldCount == 2)
        let expired = buffer.review(fleet: 20_000, maxForwardJump: 86400, observed: 10)
        #expect(expired.map(\.sequence) == [far.sequence])
        #expect(buffer.heldCount == 0)
        #expect(buffer.next()?.sequence == near.sequence)
        #expect(buffer.takeHeldLine(sequence: far.sequence)?.origin?.line == 2)
    }
}

struct ConditionOperatorsTests {
    func operators(_ rules: String) throws -> ConditionOperators {
        let h = try EngineHarness(rules: rules)
        return ConditionOperators(program: h.engine.program, devices: 1)
    }

    @Test func forHoldsPendingUntilItElapsesThenFires() throws {
        var ops = try operators(
            """
              - limit: temp-range
                metric: temperature
                range: [0, 30]
                for: 10m
            """)
        var timers = TimerQueue()
        let k = ops.key(0, 0)
        #expect(ops.step(op: 0, key: k, device: 0, holding: true, at: 0, timers: &timers) == .stay)
        #expect(ops.phase(op: 0, device: 0) == .pending)
        #expect(timers.pop(upTo: 600)?.time == 600)
        #expect(ops.step(op: 0, key: k, device: 0, holding: true, at: 300, timers: &timers) == .stay)
        #expect(ops.step(op: 0, key: k, device: 0, holding: true, at: 600, timers: &timers) == .fire(since: 600))
        ops.markFiring(k, since: 600, episode: 3)
        #expect(ops.phase(op: 0, device: 0) == .firing)
        #expect(ops.step(op: 0, key: k, device: 0, holding: true, at: 700, timers: &timers) == .stay)
        #expect(ops.step(op: 0, key: k, device: 0, holding: false, at: 800, timers: &timers) == .resolve)
        #expect(ops.markIdle(k) == 3)
        #expect(ops.phase(op: 0, device: 0) == .idle)
    }

    @Test func aPendingConditionThatStopsHoldingStartsOver() throws {
        var ops = try operators(
            """
              - limit: temp-range
                metric: temperature
                range: [0, 30]
                for: 10m
            """)
        var timers = TimerQueue()
        let k = ops.key(0, 0)
        _ = ops.step(op: 0, key: k, device: 0, holding: true, at: 0, timers: &timers)
        #expect(ops.step(op: 0, key: k, device: 0, holding: false, at: 300, timers: &timers) == .stay)
        #expect(ops.phase(op: 0, device: 0) == .idle)
    }

    @Test func withoutForItFiresAtOnceAndClearDecidesTheEnd() throws {
        var ops = try operators(
            """
              - alert: low
                when: last(battery_pct) < 20
                clear: last(battery_pct) > 25
            """)
        var timers = TimerQueue()
        let k = ops.key(0, 0)
        #expect(ops.step(op: 0, key: k, device: 0, holding: true, at: 0, timers: &timers) == .fire(since: 0))
        ops.markFiring(k, since: 0, episode: 0)
        #expect(ops.step(op: 0, key: k, device: 0, holding: false, at: 60, timers: &timers) == .checkClear)
        #expect(timers.pop(upTo: .infinity) == nil)
    }
}

struct EpisodeLogTests {
    func episode(_ rule: String) -> AlertEpisode {
        AlertEpisode(
            rule: rule, kind: .alert, pack: "t", device: "d1", severity: .warning, since: 0, until: nil, value: nil,
            summary: "", labels: [:], evidence: [], maintenance: nil)
    }

    @Test func eventsComeOutOnceInOrder() {
        var log = EpisodeLog()
        let a = log.open(episode("a"), at: 10)
        log.revise(
            Int(a), severity: .critical, value: 1, summary: "worse", evidence: [], maintenance: nil, due: nil, at: 20)
        log.revise(
            Int(a), severity: .critical, value: 2, summary: "same", evidence: [], maintenance: nil, due: nil, at: 25)
        log.resolve(Int(a), at: 30)
        #expect(log.drain().map(\.change) == [.fired, .updated, .resolved])
        #expect(log.drain().isEmpty)
        #expect(log.episodes.map(\.until) == [30])
        #expect(log.episodes.map(\.summary) == ["same"])
    }
}
