import Foundation
import Testing

@testable import FleetRules

@Suite struct LevelCurveTests {
    /// The simulator's knee cell: the rate times 1 + 2(30 − level)/30 below 30%.
    static func kneeMultiplier(_ level: Double) -> Double { 1 + 2 * max(0, 30 - level) / 30 }

    @Test func aFlatProfileIsTheIdentityUpToAnOffset() {
        let p = LevelProfile(low: 0, width: 5, multipliers: Array(repeating: 1, count: 20))
        for v in stride(from: -10.0, through: 110, by: 7.5) {
            #expect(abs(p.phi(v) - (v - 2.5)) < 1e-9)
            #expect(abs(p.inversePhi(p.phi(v)) - v) < 1e-9)
        }
        #expect(!p.bends(from: 5, to: 95))
        // A constant multiplier other than 1 is a straight line too.
        let shifted = LevelProfile(
            low: 0, width: 5, multipliers: Array(repeating: 1.2, count: 8) + Array(repeating: 1, count: 12))
        #expect(!shifted.bends(from: 5, to: 30))
        #expect(shifted.bends(from: 5, to: 45))
    }

    @Test func phiIsMonotoneAndInvertibleOnABentProfile() {
        let m = (0..<20).map { Self.kneeMultiplier(Double($0) * 5 + 2.5) }
        let p = LevelProfile(low: 0, width: 5, multipliers: m)
        var previous = -Double.infinity
        for v in stride(from: -5.0, through: 105, by: 0.37) {
            let x = p.phi(v)
            #expect(x > previous)
            previous = x
            #expect(abs(p.inversePhi(x) - v) < 1e-9, "\(v)")
        }
        #expect(p.bends(from: 5, to: 40))
        #expect(!p.bends(from: 45, to: 95))
        // Time from 60% to 5% at base rate 1 along the curve: 30 straight, then
        // ∫₅³⁰ dl / (1 + 2(30 − l)/30) = 15 · ln(40/15) = 14.71. The profile's linear
        // interpolation between band centres stays within 2% of it.
        let days = p.phi(60) - p.phi(5)
        #expect(abs(days - (30 + 15 * log(40.0 / 15))) / (30 + 15 * log(40.0 / 15)) < 0.02, "\(days)")
    }

    @Test func aBandCountsOnlyWhenItsRatiosAgreeThatItDiffers() {
        var c = LevelCurve(low: 0, high: 100)
        var noise = SimulationRandom(seed: 3)
        // Four ratios are not enough, however clear.
        for _ in 0..<4 { c.add(ratio: 1.3, band: 4) }
        #expect(c.multipliers()[4] == 1)
        // Twenty around 1.3 set band 4 (and everything below it) to 1.3.
        for _ in 0..<16 { c.add(ratio: 1.3 + 0.05 * noise.gaussian(), band: 4) }
        var m = c.multipliers()
        #expect(abs(m[4] - 1.3) < 0.03)
        #expect(abs(m[0] - m[4]) < 1e-12)
        #expect(m[5] == 1 && m[19] == 1)
        // Ratios scattered around 1 in band 10 are noise, not a bend.
        for _ in 0..<40 { c.add(ratio: 1 + 0.1 * noise.gaussian(), band: 10) }
        m = c.multipliers()
        #expect(m[10] == 1)
        // Nonsense ratios (a gauge that jumped) are not learned.
        c.add(ratio: 40, band: 2)
        c.add(ratio: .nan, band: 2)
        #expect(c.sampleCount(band: 2) == 0)
    }

    @Test func aSmallSteadyChangeIsNotACurve() {
        // 2% a band, agreed on by 256 ratios (a season cooling the cells): significant, but below
        // the 5% a band that counts.
        var c = LevelCurve(low: 0, high: 100)
        var noise = SimulationRandom(seed: 5)
        for k in 0..<19 {
            for _ in 0..<LevelCurve.capacity { c.add(ratio: 1.02 + 0.005 * noise.gaussian(), band: k) }
        }
        #expect(c.multipliers().allSatisfy { $0 == 1 })
    }

    @Test func aCohortWhereMostCellsRunStraightLearnsNoBend() {
        // A quarter of the cells bend by 1.3 in band 4, the others not: the median stays at 1.
        var c = LevelCurve(low: 0, high: 100)
        var noise = SimulationRandom(seed: 4)
        for i in 0..<80 { c.add(ratio: (i % 4 == 0 ? 1.3 : 1) + 0.02 * noise.gaussian(), band: 4) }
        #expect(abs(c.multipliers()[4] - 1) < 0.02)
    }

    @Test func theRingKeepsTheLatestRatios() {
        var c = LevelCurve(low: 0, high: 100)
        for _ in 0..<LevelCurve.capacity { c.add(ratio: 0.5, band: 3) }
        for _ in 0..<LevelCurve.capacity { c.add(ratio: 2, band: 3) }
        #expect(c.sampleCount(band: 3) == LevelCurve.capacity)
        #expect(abs(c.multipliers()[3] - 2) < 1e-6)
    }

    /// Hourly bucket levels of a knee cell from `start` at `perDay`, with gauge noise.
    static func kneeBuckets(start: Double, perDay: Double, hours: Int, seed: UInt64) -> [Double] {
        let cell = FleetModel.Battery(shape: .accelerating, initial: start, rate: perDay, kneeCell: true)
        var noise = SimulationRandom(seed: seed)
        return (0..<hours).map { cell.level(Double($0) / 24) + 0.05 * noise.gaussian() }
    }

    @Test func aTrackerReportsTheRatioOfEachBandToTheOneAbove() {
        let curve = LevelCurve(low: 0, high: 100)
        var tracker = BandTracker()
        var ratios: [Int: Double] = [:]
        for (h, v) in Self.kneeBuckets(start: 48, perDay: 3, hours: 24 * 16, seed: 9).enumerated() where v > 1 {
            if let r = tracker.add(bucket: h, level: v, curve: curve) { ratios[r.band] = r.ratio }
        }
        // Above the knee the rate is the same in every band; below it each band is faster than the
        // one above by the ratio of the multipliers at their centres (about 1.2–1.3).
        #expect(ratios.keys.sorted() == [1, 2, 3, 4, 5, 6, 7, 8])
        for k in [6, 7, 8] { #expect(abs((ratios[k] ?? 0) - 1) < 0.05, "band \(k): \(ratios[k] ?? 0)") }
        for k in 1...4 {
            let expected = Self.kneeMultiplier(Double(k) * 5 + 2.5) / Self.kneeMultiplier(Double(k) * 5 + 7.5)
            #expect(abs((ratios[k] ?? 0) - expected) < 0.06, "band \(k): \(ratios[k] ?? 0) against \(expected)")
        }
    }

    @Test func aTrackerStartsOverAfterAJump() {
        let curve = LevelCurve(low: 0, high: 100)
        var tracker = BandTracker()
        var learned: [(band: Int, ratio: Double)] = []
        // 2%/day from 62% for four days, then a new battery at 98% (a move up) for four days:
        // the bands before the jump and after it are never paired.
        for h in 0..<96 {
            if let r = tracker.add(bucket: h, level: 62 - 2 * Double(h) / 24, curve: curve) { learned.append(r) }
        }
        let before = learned.count
        #expect(before >= 1)
        for h in 96..<192 {
            if let r = tracker.add(bucket: h, level: 98 - 2 * Double(h - 96) / 24, curve: curve) { learned.append(r) }
        }
        // 98 → 90 in four days crosses 95 and 90: the first band after the jump is partial and
        // the second not finished, so nothing more is learned yet, and nothing across the jump.
        #expect(learned.count == before)
        #expect(learned.allSatisfy { abs($0.ratio - 1) < 0.05 })
    }
}

@Suite struct CurveForecastTests {
    static let t0 = EngineHarness.t0

    /// A falling battery, or (`rising`) its mirror image: wear = 100 − charge, rising to 95.
    static func pack(curveBy: Bool, rising: Bool = false) -> String {
        """
        fleetrules: 1
        pack: t
        metrics:
          battery_pct: { unit: percent, range: [0, 100] }
          wear: { unit: percent, range: [0, 100] }
        attributes:
          battery: string
        rules:
          - forecast: depletion
            metric: \(rising ? "wear" : "battery_pct")
            threshold: \(rising ? 95 : 5)
            direction: \(rising ? "rising" : "falling")
            fit: 7d
            horizon: 60d
        \(curveBy ? "    curve_by: battery" : "")
        """
    }

    /// Thirty knee cells and ten straight ones running from 40% to empty at 3–6%/day teach the
    /// curve; two students at 70% and 1%/day, one of each cell type, are forecast 20 days in.
    static func run(curveBy: Bool, rising: Bool = false, secondRule: Bool = false, unnamedStudent: Bool = false) throws
        -> Report
    {
        var rows: [[String]] = []
        var cells: [String: FleetModel.Battery] = [:]
        for i in 0..<40 {
            let id = String(format: "t%02d", i)
            let knee = i < 30
            rows.append([id, "temp-sensor", "plant-a", "z1", "gw1", "battery", knee ? "knee" : "flat"])
            cells[id] = FleetModel.Battery(shape: .linear, initial: 40, rate: 3 + Double(i % 7) / 2, kneeCell: knee)
        }
        for (id, knee) in [("s-knee", true), ("s-flat", false)] {
            rows.append([
                id, "temp-sensor", "plant-a", "z1", "gw1", "battery", unnamedStudent ? "" : knee ? "knee" : "flat",
            ])
            cells[id] = FleetModel.Battery(shape: .linear, initial: 70, rate: 1, kneeCell: knee)
        }
        let inventory = try Inventory(
            columns: ["device", "type", "site", "zone", "gateway", "power", "battery"], rows: rows)
        var source = pack(curveBy: curveBy, rising: rising)
        if secondRule {
            // A second forecast of the same metric over the same devices: it shares the curves.
            source += """

                  - forecast: early-warning
                    metric: battery_pct
                    threshold: 20
                    curve_by: battery

                """
        }
        var engine = Engine(plan: try Policy.parse(source).compile(), inventory: inventory)
        var noise = SimulationRandom(seed: 21)
        let ids = rows.map { $0[0] }
        for step in 0..<(20 * 72) {
            let days = Double(step) / 72
            for id in ids {
                guard let level = cells[id]?.level(days), level > 0.5 else { continue }
                let value = level + 0.1 * noise.gaussian()
                engine.ingest(
                    Reading(
                        timestamp: t0 + days * 86400, device: id,
                        metrics: rising ? ["wear": 100 - value] : ["battery_pct": value]))
            }
        }
        engine.finish()
        return engine.report()
    }

    static func daysLeft(_ r: Report, _ device: String) throws -> (days: Double, model: RobustTrend.Model?) {
        let f = try #require(r.forecasts.last { $0.device == device })
        let crossing = try #require(f.crossingAt)
        return ((crossing - f.at) / 86400, f.model)
    }

    @Test func aLearnedCurveBendsTheForecastOfACellThatHasNotReachedItsKnee() throws {
        // Truth at day 20 (level 50%, 1%/day): the knee cell has 20 + 15·ln(40/15) = 34.7 days
        // left, the straight one 45. Without `curve_by` both are forecast at about 45.
        let knee = 20 + 15 * log(40.0 / 15)
        let learned = try Self.run(curveBy: true)
        let student = try Self.daysLeft(learned, "s-knee")
        #expect(student.model == .curve)
        #expect(abs(student.days - knee) / knee < 0.05, "\(student.days) days against \(knee)")
        let straight = try Self.daysLeft(learned, "s-flat")
        #expect(straight.model == .linear)
        #expect(abs(straight.days - 45) / 45 < 0.05, "\(straight.days)")

        let plain = try Self.daysLeft(try Self.run(curveBy: false), "s-knee")
        #expect(abs(plain.days - 45) / 45 < 0.05, "\(plain.days)")
        #expect(abs(plain.days - knee) / knee > 0.2)

        // The report shows what was learned: the knee cohort bends below 30%, the flat one not.
        let curves = Dictionary(uniqueKeysWithValues: learned.forecastCurves.map { ($0.cohort, $0) })
        let bent = try #require(curves[["knee"]])
        #expect(bent.rules == ["depletion"] && bent.metric == "battery_pct" && bent.by == ["battery"])
        let lowest = try #require(bent.bands.first { $0.from == 5 })
        #expect(abs(lowest.multiplier - LevelCurveTests.kneeMultiplier(7.5)) < 0.25, "\(lowest)")
        #expect(bent.bands.filter { $0.from >= 30 }.allSatisfy { $0.multiplier == 1 })
        #expect(try #require(curves[["flat"]]).bands.allSatisfy { $0.multiplier == 1 })
        // And the report reads back with them.
        let again = try Report.decode(json: learned.json().serialized())
        #expect(again.forecastCurves == learned.forecastCurves)
    }

    @Test func twoRulesOverTheSameDevicesLearnOneCurveAndCountEachDeviceOnce() throws {
        let one = try Self.run(curveBy: true)
        let two = try Self.run(curveBy: true, secondRule: true)
        let curves = two.forecastCurves.filter { $0.cohort == ["knee"] }
        #expect(curves.count == 1)
        #expect(curves.first?.rules == ["depletion", "early-warning"])
        let counts = { (r: Report) in r.forecastCurves.first { $0.cohort == ["knee"] }?.bands.map(\.ratios) ?? [] }
        #expect(!counts(one).isEmpty)
        #expect(counts(two) == counts(one))
    }

    @Test func aDeviceWithoutACellTypeNeitherTeachesNorUsesACurve() throws {
        let r = try Self.run(curveBy: true, unnamedStudent: true)
        let student = try Self.daysLeft(r, "s-knee")
        #expect(student.model == .linear)
        #expect(abs(student.days - 45) / 45 < 0.05, "\(student.days)")
        #expect(!r.forecastCurves.contains { $0.cohort == [""] })
    }

    @Test func aRisingMetricLearnsItsCurveTheSameWay() throws {
        // Wear = 100 − charge: the same cells mirrored, rising to 95. Same truth as above.
        let knee = 20 + 15 * log(40.0 / 15)
        let learned = try Self.run(curveBy: true, rising: true)
        let student = try Self.daysLeft(learned, "s-knee")
        #expect(student.model == .curve)
        #expect(abs(student.days - knee) / knee < 0.05, "\(student.days) days against \(knee)")
        let f = try #require(learned.forecasts.last { $0.device == "s-knee" })
        #expect(abs((f.level ?? 0) - 50) < 1, "level \(f.level ?? .nan)")
        #expect((f.slopePerDay ?? 0) > 0.9 && (f.slopePerDay ?? 0) < 1.1, "slope \(f.slopePerDay ?? .nan)")
        // Bands in the metric's own units: the bend is near 100 (70–100), none below 70.
        let bent = try #require(learned.forecastCurves.first { $0.cohort == ["knee"] })
        let top = try #require(bent.bands.first { $0.from == 90 && $0.to == 95 })
        #expect(abs(top.multiplier - LevelCurveTests.kneeMultiplier(7.5)) < 0.25, "\(top)")
        #expect(bent.bands.filter { $0.to <= 70 }.allSatisfy { $0.multiplier == 1 })
    }

    @Test func curveByNeedsTheAutoModelAndARange() throws {
        let text = """
            fleetrules: 1
            pack: t
            metrics:
              battery_pct: { unit: percent, range: [0, 100] }
              load: { unit: percent }
            attributes:
              battery: string
            rules:
              - forecast: straight
                metric: battery_pct
                threshold: 5
                model: linear
                curve_by: battery
              - forecast: unbounded
                metric: load
                threshold: 90
                direction: rising
                curve_by: [battery, site]
              - forecast: unknown
                metric: battery_pct
                threshold: 5
                curve_by: cell
            """
        let diagnostics = PolicyLoader().check(sources: [(file: "p.yaml", bytes: Array(text.utf8))]).diagnostics
        let messages = diagnostics.map(\.message)
        #expect(messages.contains { $0.contains("`curve_by` is ignored with `model: linear`") })
        #expect(messages.contains { $0.contains("`curve_by` needs a declared `range` for load") })
        #expect(diagnostics.contains { $0.severity == .error && $0.message.contains("cell") }, "\(messages)")
    }
}

@Suite struct AbruptKneeTests {
    /// Hourly bucket levels of a cell that falls `bend` times faster below `knee`, from `start` at
    /// `perDay` above the knee, with gauge noise.
    static func buckets(
        start: Double, perDay: Double, knee: Double, bend: Double, hours: Int, seed: UInt64
    ) -> [Double] {
        let cell = FleetModel.Battery(
            shape: .knee, initial: start, rate: perDay * bend.squareRoot(),
            abrupt: AbruptKnee(level: knee, bend: bend, share: 1))
        var noise = SimulationRandom(seed: seed)
        return (0..<hours).map { cell.level(Double($0) / 24) + 0.05 * noise.gaussian() }
    }

    /// The curve a cohort of `cells` such cells teaches, at rates of 1 to 4% a day above the knee.
    static func learn(knee: Double, bend: Double, cells: Int) -> LevelCurve {
        var curve = LevelCurve(low: 0, high: 100)
        for i in 0..<cells {
            let perDay = 1 + 3 * Double(i % 7) / 6
            var tracker = BandTracker()
            let hours = Int((60 - knee) / perDay * 24 + (knee + 10) / (perDay * bend) * 24)
            let levels = buckets(start: 60, perDay: perDay, knee: knee, bend: bend, hours: hours, seed: UInt64(i))
            for (h, v) in levels.enumerated() where v > 1 {
                if let r = tracker.add(bucket: h, level: v, curve: curve) { curve.add(ratio: r.ratio, band: r.band) }
            }
        }
        return curve
    }

    /// Time at base rate 1 from `level` to 5% through a knee of `bend` at `knee`, the rate above it 1.
    static func stepTime(from level: Double, knee: Double, bend: Double) -> Double {
        max(0, level - knee) + (min(level, knee) - 5) / bend
    }

    @Test func aStepInTheMultipliersIsAKneeNotASlope() {
        // Bands 0–5 (below 30%) at 6.25 times the rate of the bands above: a step at 30%.
        let m = (0..<20).map { $0 < 6 ? 6.25 : 1.0 }
        let p = LevelProfile(low: 0, width: 5, multipliers: m)
        let knee = p.knee
        #expect(knee != nil)
        #expect(abs((knee?.level ?? 0) - 29.5) < 0.6, "\(String(describing: knee))")
        for v in [60.0, 40, 32, 31, 28, 20] {
            let expected = Self.stepTime(from: v, knee: 30, bend: 6.25)
            #expect(abs((p.phi(v) - p.phi(5)) - expected) < 0.02 * expected + 0.6, "\(v)")
            #expect(abs(p.inversePhi(p.phi(v)) - v) < 1e-6)
        }
        #expect(p.bends(from: 5, to: 40))
        #expect(!p.bends(from: 5, to: 25))
        #expect(!p.bends(from: 35, to: 90))
        // The gentle end-of-life curve has no step: its rate grows 15–30% a band.
        let gentle = LevelProfile(
            low: 0, width: 5, multipliers: (0..<20).map { LevelCurveTests.kneeMultiplier(Double($0) * 5 + 2.5) })
        #expect(gentle.knee == nil)
    }

    @Test(arguments: [(30.0, 6.25), (27.0, 3.0), (33.5, 8.0), (22.0, 4.0)])
    func aCohortLearnsAnAbruptKneeAndItsLevel(knee: Double, bend: Double) throws {
        let curve = Self.learn(knee: knee, bend: bend, cells: 30)
        let m = curve.multipliers()
        let p = LevelProfile(low: curve.low, width: curve.width, multipliers: m)
        let learned = try #require(p.knee, "\(m)")
        #expect(abs(learned.level - knee) < 1, "knee at \(learned.level) against \(knee); \(m)")
        #expect(abs(learned.below / learned.above / bend - 1) < 0.15, "bend \(learned.below / learned.above)")
        // Time left from 50% within 5% of the truth; from just above the knee, where the knee's
        // place (learned within a tenth of a band) weighs most, within 8%.
        for (level, tolerance) in [(50.0, 0.05), (knee + 3, 0.08)] {
            let truth = Self.stepTime(from: level, knee: knee, bend: bend) / learned.above
            let forecast = p.phi(level) - p.phi(5)
            #expect(abs(forecast - truth) / truth < tolerance, "from \(level): \(forecast) against \(truth)")
        }
    }
}

@Suite struct BendTests {
    /// Hourly buckets: 1%/day down to bucket `at`, then `bend` times faster from where the line
    /// got to, or (`jump`) the same rate from a level `jump` lower.
    static func series(
        at: Int, bend: Double = 1, jump: Double = 0, noise: Double = 0.1, seed: UInt64 = 3
    ) -> ([Double], [Double]) {
        var random = SimulationRandom(seed: seed)
        let t = (0..<168).map { Double($0) + 0.5 }
        let y = t.map { x -> Double in
            let knee = Double(at)
            let level = x < knee ? 60 - x / 24 : 60 - knee / 24 - bend * (x - knee) / 24 - jump
            return level + noise * random.gaussian()
        }
        return (t, y)
    }

    @Test func aBendInRateIsFoundWhereItIs() throws {
        for (at, bend) in [(100, 3.0), (130, 6.25), (120, 8.0)] {
            let (t, y) = Self.series(at: at, bend: bend)
            let k = try #require(RobustTrend.bend(times: t, values: y), "bend \(bend) at \(at)")
            #expect(abs(k - at) <= 3, "found at \(k), not \(at)")
            // Forecast from the steep part: the rate after the bend.
            let steep = try #require(RobustTrend.fit(times: Array(t[k...]), values: Array(y[k...]), now: 168))
            #expect(abs(steep.slope * 24 + bend) < 0.1 * bend, "\(steep.slope * 24)")
        }
    }

    @Test func aJumpInLevelOrAGentleCurveIsNoBend() {
        // A drop of 3% at bucket 120 with the same rate after it: the level leaves the line.
        let (t, y) = Self.series(at: 120, jump: 3)
        #expect(RobustTrend.bend(times: t, values: y) == nil)
        // A straight line, and a rate growing gently (1.5 times over the week).
        let (t2, y2) = Self.series(at: 80, bend: 1)
        #expect(RobustTrend.bend(times: t2, values: y2) == nil)
        let gentle = t2.map { 60 - ($0 + 0.25 * $0 * $0 / 168) / 24 }
        #expect(RobustTrend.bend(times: t2, values: gentle) == nil)
        // A bend of less than two times is left to the other models.
        let (t3, y3) = Self.series(at: 100, bend: 1.6)
        #expect(RobustTrend.bend(times: t3, values: y3) == nil)
    }
}

@Suite struct AbruptKneeForecastTests {
    /// Thirty cells of a type that falls 6.25 times faster below 30% run from 45% to empty and
    /// teach the knee; a student of the same type at 70% (1%/day above the knee) is forecast
    /// 20 days in.
    @Test func aCohortThatWentThroughAnAbruptKneeBendsTheForecastOfTheOthers() throws {
        let knee = AbruptKnee(level: 30, bend: 6.25, share: 1)
        var rows: [[String]] = []
        var cells: [String: FleetModel.Battery] = [:]
        for i in 0..<30 {
            let id = String(format: "t%02d", i)
            rows.append([id, "temp-sensor", "plant-a", "z1", "gw1", "battery", "knee"])
            cells[id] = FleetModel.Battery(shape: .knee, initial: 45, rate: 2 + Double(i % 7) / 3, abrupt: knee)
        }
        rows.append(["s-knee", "temp-sensor", "plant-a", "z1", "gw1", "battery", "knee"])
        cells["s-knee"] = FleetModel.Battery(shape: .knee, initial: 70, rate: 2.5, abrupt: knee)
        let inventory = try Inventory(
            columns: ["device", "type", "site", "zone", "gateway", "power", "battery"], rows: rows)
        var engine = Engine(
            plan: try Policy.parse(CurveForecastTests.pack(curveBy: true)).compile(), inventory: inventory)
        var noise = SimulationRandom(seed: 8)
        let ids = rows.map { $0[0] }
        for step in 0..<(20 * 72) {
            let days = Double(step) / 72
            for id in ids {
                guard let level = cells[id]?.level(days), level > 0.5 else { continue }
                engine.ingest(
                    Reading(
                        timestamp: CurveForecastTests.t0 + days * 86400, device: id,
                        metrics: ["battery_pct": level + 0.1 * noise.gaussian()]))
            }
        }
        engine.finish()
        let report = engine.report()
        for id in ["s-knee"] {
            let truth = try #require(cells[id]?.crossing()) - 20
            let forecast = try CurveForecastTests.daysLeft(report, id)
            #expect(abs(forecast.days - truth) / truth < 0.1, "\(id): \(forecast.days) days against \(truth)")
        }
        #expect(try CurveForecastTests.daysLeft(report, "s-knee").model == .curve)
    }
}
