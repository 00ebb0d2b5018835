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

struct MetricStoreTests {
    /// A store for devices d1 and d2 of the harness's pack with `rules`, and the plan it serves.
    func store(_ rules: String) throws -> (MetricStore, EvaluationPlan) {
        let h = try EngineHarness(rules: rules, devices: ["d1", "d2"])
        return (MetricStore(plan: h.engine.plan, program: h.engine.program, devices: 2), h.engine.plan)
    }

    func aggregate(_ plan: EvaluationPlan, _ function: WindowFunction, _ metric: String) throws -> Int {
        try #require(plan.aggregates.first { $0.ref.function == function && $0.ref.metric == metric }).id
    }

    @Test func latestValueAgeAndAbsencePerDevice() throws {
        var (store, plan) = try store(
            """
              - alert: low
                when: last(battery_pct) < 20
              - alert: old
                when: age(battery_pct) > 1h
              - alert: quiet
                when: absent(temperature, 10m)
            """)
        let battery = try #require(plan.metricIndex["battery_pct"])
        let temperature = try #require(plan.metricIndex["temperature"])
        let last = try aggregate(plan, .last, "battery_pct")
        let age = try aggregate(plan, .age, "battery_pct")
        let absent = try aggregate(plan, .absent, "temperature")
        #expect(!store.ringMetric[battery])
        #expect(store.aggregateValue(last, device: 0, at: 1000) == nil)
        #expect(store.aggregateValue(age, device: 0, at: 1000) == nil)
        guard case .bool(true)? = store.aggregateValue(absent, device: 0, at: 1000) else {
            Issue.record("a metric never reported is absent")
            return
        }

        store.record(metric: battery, device: 0, 1000, 50)
        // An older reading (within lateness) does not replace the latest value.
        store.record(metric: battery, device: 0, 900, 40)
        store.record(metric: temperature, device: 0, 1000, 21)
        #expect(store.aggregateValue(last, device: 0, at: 1600)?.number == 50)
        #expect(store.lastTime(metric: battery, device: 0) == 1000)
        guard case .duration(600)? = store.aggregateValue(age, device: 0, at: 1600) else {
            Issue.record("age is the time since the latest value")
            return
        }
        #expect(store.number(age, device: 0, at: 1600) == 600)
        guard case .bool(false)? = store.aggregateValue(absent, device: 0, at: 1599),
            case .bool(true)? = store.aggregateValue(absent, device: 0, at: 1600)
        else {
            Issue.record("absent turns true once the window has passed the latest value")
            return
        }
        // The other device's rows are its own.
        #expect(store.aggregateValue(last, device: 1, at: 1600) == nil)
        #expect(store.number(last, device: 1, at: 1600).isNaN)
    }

    @Test func windowsServeRunningSumsAndScansOverTheSamePoints() throws {
        var (store, plan) = try store(
            """
              - alert: warm
                when: avg(temperature, 10m) > 30
              - alert: peak
                when: max(temperature, 10m) > 50
            """)
        let temperature = try #require(plan.metricIndex["temperature"])
        let avg = try aggregate(plan, .avg, "temperature")
        let max = try aggregate(plan, .max, "temperature")
        #expect(store.ringMetric[temperature])
        for (i, v) in [10.0, 20, 30, 40].enumerated() {
            store.record(metric: temperature, device: 0, Double(i) * 300, v)
        }
        // At 950 the 10-minute window holds the points of 600 and 900.
        // avg reads its running window, max scans the ring.
        #expect(store.aggregateValueUpdating(avg, device: 0, at: 950)?.number == 35)
        #expect(store.number(avg, device: 0, at: 950) == 35)
        #expect(store.aggregateValue(max, device: 0, at: 950)?.number == 40)
        #expect(store.aggregateValueUpdating(max, device: 0, at: 950)?.number == 40)
        #expect(store.number(max, device: 0, at: 950) == 40)
        // Later points push the old ones out of the window and the running sums.
        store.record(metric: temperature, device: 0, 1200, 80)
        #expect(store.number(avg, device: 0, at: 1250) == 60)
        #expect(store.number(max, device: 0, at: 1250) == 80)
        #expect(store.number(avg, device: 1, at: 1250).isNaN)
    }
}

/// An analyzer that writes down what it is fed and reports a finding at each tick (key: its
/// name, or its name and the tick's time with `keyPerTick`; summary: the tick's time and what it
/// saw since the last one); at `resolveAt` it resolves the finding instead.
struct ScriptedAnalyzer: Analyzer {
    var name: String
    var operatorIndex = 0
    var metrics: [Int] = []
    var wantsReadings = false
    var tickInterval = 0.0
    var observesApplicableOnly = false
    var resolveAt: Double?
    var keyPerTick = false
    var seen: [String] = []

    mutating func observe(device: Int, metric: Int, value: Double, time: Double) {
        seen.append("d\(device) m\(metric)=\(Int(value))")
    }

    mutating func observeReading(device: Int, time: Double, gateway: Int32) {
        seen.append("d\(device) via g\(gateway)")
    }

    mutating func tick(at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink) {
        if time == resolveAt {
            findings.resolve(name, at: time)
            return
        }
        findings.report(
            .init(
                key: keyPerTick ? "\(name)@\(time)" : name, device: 0, severity: .warning, value: time,
                summary: "\(name)@\(Int(time)): " + seen.joined(separator: ", "), evidence: [], maintenance: nil,
                since: time, labels: ["by": name]))
        seen = []
    }

    mutating func finish(at time: Double, _ context: AnalysisContext, _ findings: inout FindingSink) {
        findings.report(
            .init(
                key: name + "-end", device: 1, severity: .info, value: nil, summary: "\(name) ended at \(Int(time))",
                evidence: [], maintenance: nil, since: time))
    }
}

struct AnalyzerDriverTests {
    /// Two devices, one alert rule (operator 0) that applies to d1 only.
    func inputs() throws -> AnalysisInputs {
        let h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                    labels: { team: ops }
                """, devices: ["d1", "d2"])
        let inventory = h.engine.inventory
        return AnalysisInputs(
            plan: h.engine.plan, inventory: inventory, attributes: inventory.rows, attributeSlots: [:],
            gatewayNames: ["g0"], deviceGateway: [0, 0], seen: [true, true], applies: [true, false], operatorCount: 1,
            metrics: MetricStore(plan: h.engine.plan, program: h.engine.program, devices: 2), program: h.engine.program,
            attributeChanges: 0)
    }

    @Test func readingsGoToTheAnalyzersOfTheirMetricsWithinTheirScope() throws {
        let inputs = try inputs()
        var driver = AnalyzerDriver(metrics: 2)
        driver.add(ScriptedAnalyzer(name: "a", metrics: [0], tickInterval: 60), operator: 0)
        driver.add(
            ScriptedAnalyzer(
                name: "b", metrics: [1], wantsReadings: true, tickInterval: 60, observesApplicableOnly: true),
            operator: 0)
        driver.seal()
        var log = EpisodeLog()
        driver.runTicks(upTo: 0, inputs, log: &log, now: 0)
        for d in 0..<2 {
            driver.feed(
                device: d, time: 10, gateway: 0, metrics: [0, 1], values: [Double(d + 1), Double(d + 5)], base: 0,
                count: 2, applies: inputs.applies, opCount: 1)
        }
        driver.runTicks(upTo: 60, inputs, log: &log, now: 60)
        let summaries = log.episodes.map(\.summary)
        // "a" observes every device; "b" only d1, the device its rule applies to.
        #expect(summaries.contains("a@60: d0 m0=1, d1 m0=2"))
        #expect(summaries.contains("b@60: d0 via g0, d0 m1=5"))
    }

    @Test func ticksComeInTimeOrderThenAnalyzerOrder() throws {
        let inputs = try inputs()
        var driver = AnalyzerDriver(metrics: 2)
        driver.add(ScriptedAnalyzer(name: "a", tickInterval: 60, keyPerTick: true), operator: 0)
        driver.add(ScriptedAnalyzer(name: "b", tickInterval: 90, keyPerTick: true), operator: 0)
        driver.seal()
        #expect(driver.nextTick == -.infinity)
        var log = EpisodeLog()
        // The first event at a boundary ticks there; later boundaries follow in time order.
        driver.runTicks(upTo: 0, inputs, log: &log, now: 0)
        driver.runTicks(upTo: 200, inputs, log: &log, now: 200)
        #expect(driver.nextTick == 240)
        #expect(
            log.episodes.map(\.summary) == ["a@0: ", "b@0: ", "a@60: ", "b@90: ", "a@120: ", "a@180: ", "b@180: "])
    }

    @Test func findingsBecomeOneEpisodePerKeyUntilResolved() throws {
        let inputs = try inputs()
        var driver = AnalyzerDriver(metrics: 2)
        driver.add(ScriptedAnalyzer(name: "a", tickInterval: 60, resolveAt: 180), operator: 0)
        driver.seal()
        var log = EpisodeLog()
        driver.runTicks(upTo: 60, inputs, log: &log, now: 60)
        driver.runTicks(upTo: 179, inputs, log: &log, now: 179)
        // The tick at 120 revised the finding opened at 60.
        #expect(log.episodes.count == 1)
        #expect(log.episodes[0].summary == "a@120: " && log.episodes[0].since == 60)
        driver.runTicks(upTo: 180, inputs, log: &log, now: 180)
        #expect(log.episodes[0].until == 180)
        driver.runTicks(upTo: 240, inputs, log: &log, now: 240)
        #expect(log.episodes.count == 2)
        let episode = log.episodes[1]
        #expect(episode.rule == "low" && episode.device == "d1" && episode.since == 240 && episode.until == nil)
        #expect(episode.labels == ["team": "ops", "by": "a"])
    }

    @Test func finishTicksUpToTheEndThenAsksEachAnalyzerOnce() throws {
        let inputs = try inputs()
        var driver = AnalyzerDriver(metrics: 2)
        driver.add(ScriptedAnalyzer(name: "a", tickInterval: 60), operator: 0)
        driver.seal()
        var log = EpisodeLog()
        driver.runTicks(upTo: 0, inputs, log: &log, now: 0)
        driver.fixEnd(at: 150)
        driver.finish(inputs, log: &log, now: 150)
        #expect(log.episodes.map(\.summary) == ["a@120: ", "a ended at 150"])
        #expect(log.episodes.last?.device == "d2")
    }
}

struct ComplianceDriverTests {
    /// d1 reports 1.0.0 in the inventory (outdated), d2 2.1.0 (compliant); stale after an hour.
    func driver() throws -> (ComplianceDriver, AlertText, Inventory, EvaluationPlan) {
        let policy = try Policy.parse(
            """
            fleetrules: 1
            pack: fw
            metrics:
              rssi: { unit: dBm }
            rules:
              - compliance: firmware
                attribute: firmware
                baseline: { "*": ">=2.0.0" }
                stale: 1h
                severity: warning
            """)
        let plan = policy.compile()
        let inventory = try Inventory(
            columns: ["device", "type", "site", "zone", "gateway", "firmware"],
            rows: [["d1", "sensor", "s", "z", "g", "1.0.0"], ["d2", "sensor", "s", "z", "g", "2.1.0"]])
        let engine = Engine(plan: plan, inventory: inventory)
        let program = engine.program
        let rule = try #require(
            plan.operators.compactMap { op -> ComplianceRule? in
                if case .compliance(let rule) = op.rule.body { rule } else { nil }
            }.first)
        let slot = try #require(program.attributeSlots["firmware"])
        var driver = ComplianceDriver(operators: plan.operators.count, devices: 2, typeSlot: program.typeSlot)
        driver.add(
            ComplianceTracker(
                operatorIndex: 0, rule: rule, attributeSlot: slot, initial: ["1.0.0", "2.1.0"], applies: [true, true]))
        return (driver, AlertText(plan: plan, program: program, inventory: inventory), inventory, plan)
    }

    /// Fires the timers due up to `t` as the engine does; returns (device, time) of each.
    func fire(
        upTo t: Double, _ driver: inout ComplianceDriver, _ timers: inout TimerQueue, _ log: inout EpisodeLog,
        text: AlertText, inventory: Inventory
    ) -> [(device: Int, time: Double)] {
        var fired: [(device: Int, time: Double)] = []
        while let timer = timers.pop(upTo: t) {
            let c = driver.tracker(operator: timer.op)
            driver.timerFired(c, device: timer.device, at: timer.time)
            driver.update(
                c, device: timer.device, at: timer.time, row: inventory.rows[timer.device], text: text, log: &log,
                timers: &timers)
            fired.append((timer.device, timer.time))
        }
        return fired
    }

    @Test func theFirstEventArmsEveryDeviceAndSettlesItsState() throws {
        var (driver, text, inventory, plan) = try driver()
        var timers = TimerQueue()
        var log = EpisodeLog()
        driver.start(at: 1000, timers: &timers)
        #expect(driver.dataStart == 1000)
        let fired = fire(upTo: 1000, &driver, &timers, &log, text: text, inventory: inventory)
        #expect(fired.map(\.device) == [0, 1])
        #expect(log.episodes.count == 1)
        #expect(log.episodes[0].device == "d1" && log.episodes[0].kind == .compliance)
        #expect(log.episodes[0].summary == "d1: firmware 1.0.0 is outdated")
        let states = driver.states(at: 1000, plan: plan, attributes: inventory.rows)
        #expect(states.first?.states.map(\.state) == [.outdated, .compliant])
        // Both are armed for going stale an hour after the data started.
        #expect(timers.pop(upTo: .infinity)?.time == 4600)
    }

    @Test func aReportClosesTheFindingAndSilenceMakesADeviceStale() throws {
        var (driver, text, inventory, plan) = try driver()
        var timers = TimerQueue()
        var log = EpisodeLog()
        driver.start(at: 1000, timers: &timers)
        _ = fire(upTo: 1000, &driver, &timers, &log, text: text, inventory: inventory)
        let slot = try #require(driver.trackers[0].attributeSlot)
        driver.observe(
            slot: slot, value: "2.2.0", device: 0, at: 1500, row: inventory.rows[0], text: text, log: &log,
            timers: &timers)
        #expect(log.episodes[0].until == 1500)
        #expect(driver.version(rule: "firmware", device: 0, plan: plan) == "2.2.0")
        // d2 never reports: at the stale timer it becomes a finding; d1 reported and is not stale yet.
        let fired = fire(upTo: 4600, &driver, &timers, &log, text: text, inventory: inventory)
        #expect(fired.map(\.device) == [0, 1] && fired.allSatisfy { $0.time == 4600 })
        #expect(log.episodes.count == 2)
        #expect(log.episodes[1].device == "d2" && log.episodes[1].summary == "d2: firmware 2.1.0 is stale")
        let states = driver.states(at: 4600, plan: plan, attributes: inventory.rows)
        #expect(states.first?.states.map(\.state) == [.compliant, .stale])
        // d1's timer moved to an hour after its report.
        #expect(timers.pop(upTo: .infinity)?.time == 5100)
    }
}
