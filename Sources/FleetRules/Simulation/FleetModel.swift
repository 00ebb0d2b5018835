import Foundation

/// What `fleetrules simulate` generates: size, time span and the rate of every fault.
public struct SimulationOptions: Sendable {
    public var devices = 1000
    /// Sensors per plant: a fleet has `devices / devicesPerPlant` plants (at least two).
    public var devicesPerPlant = 250
    public var days = 7.0
    public var interval = 300.0
    public var seed: UInt64 = 1
    public var start = 1_772_323_200.0  // 2026-03-01T00:00:00Z
    public var gzip = false

    /// Share of battery devices whose battery reaches 5% within the data or the 30 days after.
    public var depletingRate = 0.15
    /// Share of temperature/humidity sensors that drift.
    public var driftRate = 0.05
    /// Sizes of the temperature drifts in °C; each drifting sensor draws one, and a sign.
    public var driftSizes = [0.8, 1.5, 3.0]
    /// Days a ramp takes from its onset to its full size (it stays there after); nil: the ramp
    /// reaches its size at the end of the data.
    public var rampDays: Double?
    /// Standard deviation of a temperature reading around its zone's temperature, in °C.
    public var temperatureNoise = 0.15
    /// Chance that a zone has one environmental excursion.
    public var excursionRate = 0.25
    /// Share of sites whose first gateway carries most devices.
    public var imbalancedSiteRate = 0.34
    public var outdatedRate = 0.08
    public var deniedRate = 0.03
    public var unknownVersionRate = 0.01
    public var staleRate = 0.02
    /// Share of temp-sensors in the rollout campaign that fail to update.
    public var rolloutFailRate = 0.1
    /// Per reading: chance a gap of 1–12 readings starts.
    public var missingRate = 0.002
    public var duplicateRate = 0.001
    public var outOfOrderRate = 0.001
    public var malformedRate = 0.0001
    /// Share of devices whose clock is off by 30 s to 10 min.
    public var clockSkewRate = 0.01
    /// Share of plant gateways that go silent for 6–24 hours (at least one in a fleet with plants),
    /// taking the devices behind them off the air.
    public var gatewayOutageRate = 0.1
    /// Cell types with an abrupt knee, each taking its share of the battery devices (none by
    /// default: the fleet is then exactly as without them).
    public var abruptKnees: [AbruptKnee] = []

    public init() {}

    public var end: Double { start + days * 86400 }
    public var steps: Int { Int((days * 86400 / interval).rounded(.down)) }
}

/// A cell type whose gauge falls in a straight line down to `level` and `bend` times faster
/// below it (the voltage knee of some chemistries, or firmware that maps voltage to percent).
/// Its cells discharge at `1/√bend` of their drawn rate above the level and `√bend` below, so a
/// fleet with knees spends about as long per battery as one without.
public struct AbruptKnee: Sendable, Equatable {
    /// Level of the knee, percent.
    public var level: Double
    /// Rate below the knee over the rate above it.
    public var bend: Double
    /// Share of the battery devices with this cell type.
    public var share: Double

    public init(level: Double, bend: Double, share: Double) {
        self.level = level
        self.bend = bend
        self.share = share
    }

    /// The inventory's and the truth's name of the cell type: `knee-30pct-6.25x`.
    public var cellName: String { "knee-\(Self.format(level))pct-\(Self.format(bend))x" }

    /// Parses `LEVEL:BEND[:SHARE]` (share default 0.1), e.g. `30:6.25:0.2`; nil when malformed or
    /// out of range (level in (5, 100), bend in [1, 20], share in (0, 1]).
    public static func parse(_ text: String) -> AbruptKnee? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { Double($0) }
        guard parts.count == 2 || parts.count == 3, let level = parts[0], let bend = parts[1] else { return nil }
        let share = parts.count == 3 ? parts[2] : 0.1
        guard let share, level > 5, level < 100, bend >= 1, bend <= 20, share > 0, share <= 1 else { return nil }
        return AbruptKnee(level: level, bend: bend, share: share)
    }

    private static func format(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(format: "%g", v)
    }
}

/// The simulated fleet: sites, zones, gateways and devices with their hidden truth.
struct FleetModel {
    enum Kind: String { case tempSensor = "temp-sensor", vibration = "vibration-sensor", tracker, gateway }
    enum BatteryShape: String, CaseIterable {
        case linear, accelerating, temperature, noisy, suddenDrop = "sudden-drop", replaced
        /// A cell with an abrupt knee and nothing else happening.
        case knee
    }
    enum Firmware: String {
        case compliant, outdated, denied, unknown, stale, rolloutPending = "rollout-pending", rolloutFailed =
            "rollout-failed"
    }

    struct Site {
        var name: String
        var zones: [String]
        var zoneTemperature: [Double]
        var gateways: [Int]
        var imbalanced: Bool
    }

    struct Battery {
        var shape: BatteryShape
        var initial: Double
        /// Discharge, percent per day (before the shape's adjustments).
        var rate: Double
        var dropAt: Double?
        var dropBy = 0.0
        var replaceAt: Double?
        var noise = 0.2
        /// The cell type (inventory column `battery`): every cell of the `kneeCell` type
        /// discharges faster and faster below 30%, whatever else happens to it.
        var kneeCell = false
        /// The knee cell's extra rate below 30%.
        var acceleration = 2.0
        /// A cell type with an abrupt knee (replaces the two cell types above).
        var abrupt: AbruptKnee?

        /// True charge at time `t` (days since start), before gauge noise.
        func level(_ days: Double) -> Double {
            if let r = replaceAt, days >= r { return advance(from: 100, days: days - r) }
            if let at = dropAt, days >= at {
                return max(0, advance(from: advance(from: initial, days: at) - dropBy, days: days - at))
            }
            return advance(from: initial, days: days)
        }

        /// The charge `days` after it was `start`: a straight line, or for a `kneeCell` a rate
        /// that grows below 30% (rate · (1 + acceleration · (30 − level) / 30), 2.7 times the
        /// initial rate at 5%).
        func advance(from start: Double, days d: Double) -> Double {
            if let k = abrupt {
                let slow = rate / k.bend.squareRoot()
                let fast = rate * k.bend.squareRoot()
                let above = max(0, (start - k.level) / slow)
                if d <= above { return max(0, start - slow * d) }
                return max(0, min(start, k.level) - fast * (d - above))
            }
            guard kneeCell else { return max(0, start - rate * d) }
            let t30 = max(0, (start - 30) / rate)
            if d <= t30 { return max(0, start - rate * d) }
            let u0 = max(0, 30 - start)
            let k = 30 / acceleration
            let u = (k + u0) * exp(acceleration * rate * (d - t30) / 30) - k
            return max(0, 30 - u)
        }

        /// The same battery had it not been replaced.
        var unreplaced: Battery {
            var b = self
            b.replaceAt = nil
            return b
        }

        /// The cell type's name in the inventory and the truth.
        var cellName: String {
            abrupt?.cellName ?? (kneeCell ? FleetModel.cellNames.knee : FleetModel.cellNames.straight)
        }

        /// Days from the start until the true charge first reaches the abrupt knee, nil without one.
        var kneeAt: Double? { abrupt.flatMap { crossing($0.level) } }

        /// Days from the start until the true charge first reaches `target` (5%), nil past 400 days.
        func crossing(_ target: Double = 5) -> Double? {
            // Coarse scan then bisection: every shape is monotone between replacement and drop.
            var lo = 0.0
            if let r = replaceAt { lo = r }
            if level(lo) <= target { return lo }
            var t = lo
            while t < 400 {
                let next = t + 0.25
                if level(next) <= target {
                    var a = t
                    var b = next
                    for _ in 0..<40 {
                        let m = (a + b) / 2
                        if level(m) <= target { b = m } else { a = m }
                    }
                    return b
                }
                t = next
            }
            return nil
        }
    }

    struct Device {
        var id: String
        var kind: Kind
        var site: Int
        var zone: Int
        var gateway: Int
        var reachable: [Int]
        var criticality: String
        var battery: Battery?
        var firmwareState: Firmware
        var firmwareStart: String
        var firmwareEnd: String
        /// Days when the reported version switches from start to end (rollout), and back (failed).
        var firmwareSwitch: Double?
        var firmwareRevert: Double?
        /// Days after which the device stops reporting a version.
        var firmwareStops: Double?
        var drift: (kind: String, onset: Double, magnitude: Double)?
        var skew = 0.0
        var rssiBase = -70.0
        /// Trackers' cellular modem firmware (inventory column `modem_firmware`).
        var modem = ""
    }

    var sites: [Site] = []
    var gatewayNames: [String] = []
    var devices: [Device] = []
    var excursions: [(site: Int, zone: Int, metric: String, start: Double, end: Double, level: Double)] = []
    /// Gateway outages: gateway index and the days they start and end.
    var outages: [(gateway: Int, start: Double, end: Double)] = []

    static let zoneNames = ["assembly", "cold-store-1", "warehouse", "packing", "press-line", "yard", "lab", "dock"]
    static let baseline = ["temp-sensor": "2.4.3", "vibration-sensor": "1.9.0", "tracker": "3.1.4"]
    static let outdated = ["temp-sensor": "2.3.5", "vibration-sensor": "1.7.2", "tracker": "3.0.4"]
    static let denied = ["temp-sensor": "2.4.2", "vibration-sensor": "1.8.1", "tracker": "3.1.1"]

    init(_ o: SimulationOptions) {
        var rng = SimulationRandom(seed: o.seed, stream: 0xF1EE7)
        let days = o.days
        // Sites: plants of ~250 devices, plus two remote sites.
        let plants = max(2, o.devices / max(1, o.devicesPerPlant))
        var names = (0..<plants).map { "plant-\(Self.letters($0))" }
        names += ["site-north", "site-east"]
        for (i, name) in names.enumerated() {
            let remote = name.hasPrefix("site-")
            let zoneCount = remote ? 1 : 3
            var zones: [String] = []
            var temps: [Double] = []
            for z in 0..<zoneCount {
                let zone = remote ? "yard" : Self.zoneNames[(i + z) % Self.zoneNames.count]
                zones.append(zone)
                temps.append(zone.hasPrefix("cold-store") ? -20 : remote ? 8 : rng.uniform(19, 23))
            }
            let gatewayCount = remote ? 1 : 3
            var gws: [Int] = []
            for g in 0..<gatewayCount {
                gws.append(gatewayNames.count)
                gatewayNames.append("\(name)-gw\(g + 1)")
            }
            sites.append(
                Site(
                    name: name, zones: zones, zoneTemperature: temps, gateways: gws,
                    imbalanced: !remote && rng.chance(o.imbalancedSiteRate)))
        }
        // Devices: spread over plants (remote sites get 2% each).
        let width = max(5, String(o.devices).count)
        for i in 0..<o.devices {
            var r = SimulationRandom(seed: o.seed, stream: UInt64(i) + 1)
            let remotePick = r.unit()
            let s = remotePick < 0.02 ? plants : remotePick < 0.04 ? plants + 1 : r.int(plants)
            let site = sites[s]
            let zone = r.int(site.zones.count)
            let kindPick = r.unit()
            let kind: Kind = kindPick < 0.45 ? .tempSensor : kindPick < 0.65 ? .vibration : .tracker
            var gw = site.gateways[r.int(site.gateways.count)]
            if site.imbalanced, r.chance(0.5) { gw = site.gateways[0] }
            var reachable = [gw]
            if site.gateways.count > 1 {
                let k = site.gateways.firstIndex(of: gw) ?? 0
                reachable.append(site.gateways[(k + 1) % site.gateways.count])
                if r.chance(0.5) { reachable.append(site.gateways[(k + 2) % site.gateways.count]) }
            }
            let critPick = r.unit()
            let criticality = critPick < 0.2 ? "high" : critPick < 0.7 ? "medium" : "low"
            let onBattery = kind != .vibration || r.chance(0.5)
            var battery: Battery?
            var depleting = false
            if onBattery {
                let shape = Self.shape(r.unit())
                var b = Battery(shape: shape, initial: r.uniform(40, 100), rate: r.uniform(0.1, 0.8))
                if r.chance(o.depletingRate) {
                    // Cross 5% somewhere between two days in and 30 days after the end.
                    let target = r.uniform(2, days + 30)
                    depleting = true
                    b.rate = r.uniform(1, 6)
                    b.initial = min(100, 5 + b.rate * target)
                    if b.initial >= 100 { b.rate = 95 / target }
                }
                if shape == .temperature { b.rate *= 1 + 0.02 * max(0, 20 - site.zoneTemperature[zone]) }
                if shape == .noisy { b.noise = 1.5 }
                if shape == .suddenDrop {
                    b.dropAt = r.uniform(0.5, max(0.6, days - 0.5))
                    b.dropBy = r.uniform(15, 30)
                }
                battery = b
            }
            // Firmware.
            let type = kind.rawValue
            var state = Firmware.compliant
            var fwStart = Self.baseline[type] ?? "1.0.0"
            var fwEnd = fwStart
            var fwSwitch: Double?
            var fwRevert: Double?
            var fwStops: Double?
            let fwPick = r.unit()
            if fwPick < o.outdatedRate {
                state = .outdated
                fwStart = Self.outdated[type] ?? "0.9.0"
                fwEnd = fwStart
            } else if fwPick < o.outdatedRate + o.deniedRate {
                state = .denied
                fwStart = Self.denied[type] ?? "0.9.1"
                fwEnd = fwStart
            } else if fwPick < o.outdatedRate + o.deniedRate + o.unknownVersionRate {
                state = .unknown
                fwStart = "build-\(String(r.next() % 0xFFFF, radix: 16))"
                fwEnd = fwStart
            } else if fwPick < o.outdatedRate + o.deniedRate + o.unknownVersionRate + o.staleRate {
                state = .stale
                fwStops = r.uniform(0, days / 2)
            } else if kind == .tempSensor, r.chance(0.6) {
                // The rollout campaign: 2.4.1 → 2.4.3 starting day 1, deadline day 3.
                fwStart = "2.4.1"
                fwEnd = "2.4.3"
                let failPick = r.unit()
                if failPick < o.rolloutFailRate {
                    state = .rolloutFailed
                    fwSwitch = r.uniform(1, min(3, days * 0.5))
                    // Falls back after more than one 6-hour version report, so the failure is observable.
                    fwRevert = (fwSwitch ?? 1) + r.uniform(0.3, 1)
                } else if failPick < o.rolloutFailRate + 0.05 {
                    state = .rolloutPending
                } else {
                    fwSwitch = r.uniform(1, min(3, max(1.01, days - 0.1)))
                }
            }
            var drift: (String, Double, Double)?
            if kind != .vibration, r.chance(o.driftRate) {
                let ramp = r.chance(0.5)
                drift = (
                    ramp ? "ramp" : "step", r.uniform(days * 0.2, days * 0.7),
                    (r.chance(0.5) ? 1 : -1) * o.driftSizes[Int(r.next() % UInt64(max(1, o.driftSizes.count)))]
                )
            }
            var skew = 0.0
            if r.chance(o.clockSkewRate) { skew = (r.chance(0.5) ? 1 : -1) * r.uniform(30, 600).rounded() }
            let id = "d-" + String(repeating: "0", count: max(0, width - String(i + 1).count)) + String(i + 1)
            let modem = kind == .tracker ? (r.chance(0.05) ? "5.2.3" : "5.2.6") : ""
            // The cell type, drawn last so that adding it left the rest of the fleet as it was.
            let knee = r.chance(Self.kneeCellRate)
            if var b = battery {
                b.kneeCell = knee
                if !o.abruptKnees.isEmpty { Self.assignAbruptKnee(&b, o, device: i, depleting: depleting) }
                if b.shape == .replaced {
                    // Replaced when the gauge nears 12%, if that happens within the data.
                    if let at = b.crossing(12), at > 0.2, at < days - 0.2 {
                        b.replaceAt = at
                    } else {
                        b.shape = .linear
                    }
                }
                if b.shape == .linear, b.abrupt != nil {
                    b.shape = .knee
                } else if b.shape == .linear, knee {
                    b.shape = .accelerating
                }
                battery = b
            }
            devices.append(
                Device(
                    id: id, kind: kind, site: s, zone: zone, gateway: gw, reachable: reachable,
                    criticality: criticality,
                    battery: battery, firmwareState: state, firmwareStart: fwStart, firmwareEnd: fwEnd,
                    firmwareSwitch: fwSwitch, firmwareRevert: fwRevert, firmwareStops: fwStops,
                    drift: drift.map { (kind: $0.0, onset: $0.1, magnitude: $0.2) }, skew: skew,
                    rssiBase: r.uniform(-95, -60), modem: modem))
        }
        // Gateways report too: one device per gateway, on mains.
        for (s, site) in sites.enumerated() {
            for g in site.gateways {
                devices.append(
                    Device(
                        id: gatewayNames[g], kind: .gateway, site: s, zone: 0, gateway: g, reachable: [g],
                        criticality: "high", battery: nil, firmwareState: .compliant, firmwareStart: "5.2.0",
                        firmwareEnd: "5.2.0", rssiBase: -55))
            }
        }
        // Environmental excursions per zone.
        for (s, site) in sites.enumerated() {
            for z in site.zones.indices where rng.chance(o.excursionRate) {
                let start = rng.uniform(0.2, max(0.3, days - 0.5))
                let length = rng.uniform(2, 8) / 24
                if site.zones[z].hasPrefix("cold-store") {
                    excursions.append((s, z, "temperature", start, start + length, -8))
                } else {
                    excursions.append((s, z, "humidity", start, start + length, rng.uniform(78, 90)))
                }
            }
        }
        // Gateway outages.
        let plantGateways = sites.filter { !$0.name.hasPrefix("site-") }.flatMap(\.gateways)
        var chosen = plantGateways.filter { _ in rng.chance(o.gatewayOutageRate) }
        if chosen.isEmpty, let first = plantGateways.isEmpty ? nil : plantGateways[rng.int(plantGateways.count)] {
            chosen = [first]
        }
        for g in chosen {
            let start = rng.uniform(days * 0.3, days * 0.7)
            outages.append((g, start, min(days, start + rng.uniform(6, 24) / 24)))
        }
    }

    /// Gives a battery one of the abrupt-knee cell types, by the types' shares, from a random
    /// stream of its own (the rest of the fleet is drawn as without knees). A battery drawn to
    /// reach 5% within the data or soon after keeps its crossing: its rate is scaled for the knee.
    static func assignAbruptKnee(_ b: inout Battery, _ o: SimulationOptions, device i: Int, depleting: Bool) {
        var r = SimulationRandom(seed: o.seed, stream: 0xAB_0000_0000 + UInt64(i))
        var u = r.unit()
        guard
            let k = o.abruptKnees.first(where: { k in
                u -= k.share
                return u < 0
            })
        else { return }
        b.kneeCell = false
        b.abrupt = k
        guard depleting, b.initial > 5 else { return }
        // Time at unit base rate from the initial charge to 5% through the knee, against the
        // straight line's.
        let slow = 1 / k.bend.squareRoot()
        let fast = k.bend.squareRoot()
        let unit = max(0, b.initial - k.level) / slow + (min(b.initial, k.level) - 5) / fast
        b.rate *= unit / (b.initial - 5)
    }

    /// Outages per gateway index, so a reading looks only at its own gateway's.
    var outagesByGateway: [[(start: Double, end: Double)]] {
        var out = Array(repeating: [(start: Double, end: Double)](), count: gatewayNames.count)
        for o in outages { out[o.gateway].append((o.start, o.end)) }
        return out
    }

    /// Indices into `excursions` per site and zone, in order, so a reading looks only at its zone's.
    var excursionsByZone: [[[Int]]] {
        var out = sites.map { Array(repeating: [Int](), count: $0.zones.count) }
        for (i, e) in excursions.enumerated() { out[e.site][e.zone].append(i) }
        return out
    }

    /// The `i`-th name in the sequence a … z, aa … zz, aaa … (bijective base 26, as spreadsheet
    /// columns are named): unique and defined for every `i` ≥ 0.
    static func letters(_ i: Int) -> String {
        var n = max(0, i) + 1
        var out: [UInt8] = []
        while n > 0 {
            n -= 1
            out.append(UInt8(ascii: "a") + UInt8(n % 26))
            n /= 26
        }
        return String(decoding: out.reversed(), as: UTF8.self)
    }

    /// Whether a device is off the air at `days` because its gateway is down, from `outages`
    /// indexed by gateway (see `outagesByGateway`).
    static func silent(_ gatewayOutages: [(start: Double, end: Double)], at days: Double) -> Bool {
        for o in gatewayOutages where days >= o.start && days < o.end { return true }
        return false
    }

    /// Share of batteries of the cell type whose discharge accelerates below 30%.
    static let kneeCellRate = 0.23
    /// Inventory names of the two cell types.
    static let cellNames = (straight: "li-socl2", knee: "li-mno2")

    /// What happens to a battery besides its cell's curve. `linear` here is "nothing"; a knee
    /// cell with nothing else happening is labelled `accelerating` afterwards.
    static func shape(_ u: Double) -> BatteryShape {
        switch u {
        case ..<0.65: .linear
        case ..<0.75: .temperature
        case ..<0.85: .noisy
        case ..<0.9: .suddenDrop
        default: .replaced
        }
    }

    /// The firmware version a device reports at `days`, or nil when it reports none.
    func firmware(_ d: Device, at days: Double) -> String? {
        if let stops = d.firmwareStops, days >= stops { return nil }
        if let back = d.firmwareRevert, days >= back { return d.firmwareStart }
        if let at = d.firmwareSwitch, days >= at { return d.firmwareEnd }
        return d.firmwareStart
    }
}
