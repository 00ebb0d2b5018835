import Foundation

/// Writes a simulated fleet: `inventory.csv`, `telemetry.jsonl` (or `.jsonl.gz`) and
/// `truth.json`, streaming the telemetry a time step at a time. docs/SIMULATOR.md describes the
/// model and the truth format. Deterministic for a seed.
public enum Simulator {
    /// What was written.
    public struct Summary: Sendable {
        public var devices: Int
        public var lines: Int
        public var bytes: Int
        public var telemetryPath: String
    }

    public static func run(_ o: SimulationOptions, to directory: String) throws -> Summary {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let model = FleetModel(o)
        try writeInventory(model, to: directory + "/inventory.csv")
        let path = directory + (o.gzip ? "/telemetry.jsonl.gz" : "/telemetry.jsonl")
        let faults = try writeTelemetry(model, o, to: path)
        try writeTruth(model, o, faults: faults, to: directory + "/truth.json")
        return Summary(devices: model.devices.count, lines: faults.lines, bytes: faults.bytes, telemetryPath: path)
    }

    /// The inventory, a row at a time through a buffered sink.
    static func writeInventory(_ m: FleetModel, to path: String) throws {
        let sink = try ByteSink(path: path, gzip: false)
        sink.append("device,type,site,zone,gateway,reachable,firmware,criticality,power,modem_firmware,battery\n")
        for d in m.devices {
            let site = m.sites[d.site]
            let reachable = d.reachable.map { m.gatewayNames[$0] }.joined(separator: "|")
            sink.append("\(d.id),\(d.kind.rawValue),\(site.name),\(site.zones[d.zone]),\(m.gatewayNames[d.gateway]),")
            sink.append(
                "\(reachable),\(d.firmwareStart),\(d.criticality),\(d.battery == nil ? "mains" : "battery"),\(d.modem),"
            )
            sink.append(d.battery?.cellName ?? "")
            sink.append(0x0A)
            try sink.flushIfNeeded()
        }
        try sink.close()
    }

    struct Faults {
        var lines = 0
        var bytes = 0
        var missing = 0
        var duplicates = 0
        var outOfOrder = 0
        var malformed = 0
        var outage = 0
    }

    static func writeTelemetry(_ m: FleetModel, _ o: SimulationOptions, to path: String) throws -> Faults {
        let sink = try ByteSink(path: path, gzip: o.gzip)
        var faults = Faults()
        let n = m.devices.count
        var rngs = (0..<n).map { SimulationRandom(seed: o.seed, stream: 0x5EED_0000 + UInt64($0)) }
        var gap = Array(repeating: 0, count: n)
        var zoneOffset: [[Double]] = m.sites.map { Array(repeating: 0, count: $0.zones.count) }
        var zoneRng = SimulationRandom(seed: o.seed, stream: 0x2013E)
        var delayed: [[UInt8]] = []
        var line: [UInt8] = []
        line.reserveCapacity(256)
        let firmwareEvery = max(1, Int((21600 / o.interval).rounded()))
        let dayLength = 86400.0
        var tsCache: (Double, [UInt8]) = (-1, [])
        // Per gateway its outages, per zone its excursions: a reading looks at its own only.
        let outages = m.outagesByGateway
        let zoneExcursions = m.excursionsByZone

        func timestamp(_ t: Double) -> [UInt8] {
            if t == tsCache.0 { return tsCache.1 }
            let b = Array(Timestamp.format(t).utf8)
            tsCache = (t, b)
            return b
        }

        for step in 0..<o.steps {
            let t = o.start + Double(step) * o.interval
            let days = (t - o.start) / dayLength
            let hour = (t.truncatingRemainder(dividingBy: dayLength)) / 3600
            let daily = sin((hour - 9) / 24 * 2 * .pi)  // warmest mid-afternoon
            for s in zoneOffset.indices {
                for z in zoneOffset[s].indices {
                    zoneOffset[s][z] = 0.98 * zoneOffset[s][z] + 0.05 * zoneRng.gaussian()
                }
            }
            let ts = timestamp(t)
            // Last step's held-back lines arrive now: out of order by one interval.
            for held in delayed {
                sink.append(held)
                faults.lines += 1
            }
            delayed.removeAll(keepingCapacity: true)
            for i in 0..<n {
                let d = m.devices[i]
                if gap[i] > 0 {
                    gap[i] -= 1
                    faults.missing += 1
                    continue
                }
                // Gateways do not drop heartbeats at random: their silence is the outage fault.
                if d.kind != .gateway, rngs[i].chance(o.missingRate) {
                    gap[i] = rngs[i].int(12)
                    faults.missing += 1
                    continue
                }
                if !outages[d.gateway].isEmpty, FleetModel.silent(outages[d.gateway], at: days) {
                    faults.outage += 1
                    continue
                }
                let site = m.sites[d.site]
                line.removeAll(keepingCapacity: true)
                append(&line, "{\"ts\":\"")
                if d.skew != 0 {
                    line.append(contentsOf: Array(Timestamp.format(t + d.skew).utf8))
                } else {
                    line.append(contentsOf: ts)
                }
                append(&line, "\",\"device\":\"")
                append(&line, d.id)
                append(&line, "\",\"gateway\":\"")
                append(&line, m.gatewayNames[d.gateway])
                append(&line, "\"")
                if var b = d.battery {
                    b.noise = d.battery?.noise ?? 0.2
                    let level = min(100, max(0, b.level(days) + b.noise * rngs[i].gaussian()))
                    append(&line, ",\"battery_pct\":")
                    fixed(&line, level, 1)
                }
                if d.kind == .tempSensor || d.kind == .tracker {
                    var temp =
                        site.zoneTemperature[d.zone] + 1.5 * daily + zoneOffset[d.site][d.zone]
                        + o.temperatureNoise * rngs[i].gaussian()
                    var humidity = 45 + 5 * daily + 1.0 * rngs[i].gaussian()
                    for x in zoneExcursions[d.site][d.zone] {
                        let e = m.excursions[x]
                        guard days >= e.start && days < e.end else { continue }
                        if e.metric == "temperature" {
                            temp = e.level + 0.3 * rngs[i].gaussian()
                        } else {
                            humidity = e.level + 1.5 * rngs[i].gaussian()
                        }
                    }
                    if let drift = d.drift, days >= drift.onset {
                        if drift.kind == "step" {
                            temp += drift.magnitude
                        } else {
                            let span = o.rampDays ?? (o.days - drift.onset)
                            temp += drift.magnitude * min(1, (days - drift.onset) / max(1e-9, span))
                        }
                    }
                    append(&line, ",\"temperature\":")
                    fixed(&line, temp, 2)
                    append(&line, ",\"humidity\":")
                    fixed(&line, min(100, max(0, humidity)), 1)
                }
                if d.kind == .vibration {
                    append(&line, ",\"vibration_rms\":")
                    fixed(&line, abs(0.4 + 0.05 * rngs[i].gaussian()), 3)
                }
                append(&line, ",\"rssi\":")
                fixed(&line, (d.rssiBase + 3 * rngs[i].gaussian()).rounded(), 0)
                if (step + i) % firmwareEvery == 0, let fw = m.firmware(d, at: days) {
                    append(&line, ",\"firmware\":\"")
                    append(&line, fw)
                    append(&line, "\"")
                }
                line.append(0x7D)
                line.append(0x0A)
                if rngs[i].chance(o.malformedRate) {
                    sink.append(Array(line[0..<(line.count / 2)]))
                    sink.append(0x0A)
                    faults.malformed += 1
                    faults.lines += 1
                    continue
                }
                if rngs[i].chance(o.outOfOrderRate), step + 1 < o.steps {
                    delayed.append(line)
                    faults.outOfOrder += 1
                    continue
                }
                sink.append(line)
                faults.lines += 1
                if rngs[i].chance(o.duplicateRate) {
                    sink.append(line)
                    faults.duplicates += 1
                    faults.lines += 1
                }
                // Within the step too: a step of a million devices is over 100 MB of lines.
                try sink.flushIfNeeded()
            }
            try sink.flushIfNeeded()
        }
        for held in delayed { sink.append(held) }
        faults.lines += delayed.count
        try sink.close()
        faults.bytes = sink.bytesWritten
        return faults
    }

    @inline(__always) static func append(_ line: inout [UInt8], _ s: String) {
        var s = s
        s.withUTF8 { line.append(contentsOf: $0) }
    }

    static func fixed(_ line: inout [UInt8], _ value: Double, _ decimals: Int) {
        ByteSink.appendFixed(&line, value, decimals)
    }

    /// `truth.json`, written an entry at a time (docs/SIMULATOR.md, "Truth format"): the same
    /// bytes as one pretty-printed document, without holding a million entries in memory.
    static func writeTruth(_ m: FleetModel, _ o: SimulationOptions, faults: Faults, to path: String) throws {
        func ts(_ days: Double) -> JSONValue { .string(Timestamp.format((o.start + days * 86400).rounded())) }
        let sink = try ByteSink(path: path, gzip: false)
        var doc = PrettyJSONObjectWriter(sink)
        let sensors = m.devices.lazy.filter { $0.kind != .gateway }
        doc.member("format", 1)
        doc.member("seed", .number(Double(o.seed)))
        doc.member("devices", .number(Double(sensors.count)))
        doc.member("start", .string(Timestamp.format(o.start)))
        doc.member("end", .string(Timestamp.format(o.end)))
        doc.member("interval_seconds", .number(o.interval))
        doc.beginArray("battery")
        for d in sensors {
            guard let b = d.battery else { continue }
            var entry: [(String, JSONValue)] = [
                ("device", .string(d.id)), ("shape", .string(b.shape.rawValue)),
                ("cell", .string(b.cellName)),
                ("initial_pct", .number((b.initial * 10).rounded() / 10)),
                ("crosses_5pct_at", b.crossing().map(ts) ?? .null),
                ("replaced_at", b.replaceAt.map(ts) ?? .null),
                (
                    "replaced_battery_crosses_5pct_at",
                    b.replaceAt == nil ? .null : b.unreplaced.crossing().map(ts) ?? .null
                ),
            ]
            if let knee = b.abrupt {
                entry.append(("knee_pct", .number(knee.level)))
                entry.append(("knee_at", b.kneeAt.map(ts) ?? .null))
            }
            doc.item(.object(entry))
            try sink.flushIfNeeded()
        }
        doc.endArray()
        doc.beginArray("firmware")
        for d in sensors {
            doc.item(
                .object([
                    ("device", .string(d.id)), ("type", .string(d.kind.rawValue)),
                    ("state", .string(d.firmwareState.rawValue)),
                    ("version", .string(m.firmware(d, at: o.days))),
                ]))
            try sink.flushIfNeeded()
        }
        doc.endArray()
        doc.beginArray("drift")
        for d in sensors {
            guard let x = d.drift else { continue }
            doc.item(
                .object(
                    [
                        ("device", .string(d.id)), ("metric", "temperature"), ("kind", .string(x.kind)),
                        ("onset", ts(x.onset)),
                        ("magnitude", .number(x.magnitude)),
                    ] + (x.kind == "ramp" && o.rampDays != nil ? [("full_at", ts(x.onset + (o.rampDays ?? 0)))] : [])))
            try sink.flushIfNeeded()
        }
        doc.endArray()
        doc.beginArray("excursions")
        for e in m.excursions {
            doc.item(
                .object([
                    ("site", .string(m.sites[e.site].name)), ("zone", .string(m.sites[e.site].zones[e.zone])),
                    ("metric", .string(e.metric)), ("start", ts(e.start)), ("end", ts(e.end)),
                    ("level", .number((e.level * 10).rounded() / 10)),
                ]))
            try sink.flushIfNeeded()
        }
        doc.endArray()
        // Sensors per gateway, counted once for all sites.
        var loads = Array(repeating: 0, count: m.gatewayNames.count)
        for d in sensors { loads[d.gateway] += 1 }
        var siteOfGateway = Array(repeating: "", count: m.gatewayNames.count)
        doc.beginArray("gateways")
        for site in m.sites {
            for g in site.gateways { siteOfGateway[g] = site.name }
            let values = site.gateways.map { loads[$0] }
            let mean = Double(values.reduce(0, +)) / Double(max(1, values.count))
            let imbalanced = mean > 0 && values.contains { abs(Double($0) - mean) / mean > 0.3 }
            doc.item(
                .object([
                    ("site", .string(site.name)), ("imbalanced", .bool(imbalanced)),
                    ("loads", .object(site.gateways.map { (m.gatewayNames[$0], .number(Double(loads[$0]))) })),
                ]))
            try sink.flushIfNeeded()
        }
        doc.endArray()
        doc.beginArray("outages")
        for g in m.outages {
            doc.item(
                .object([
                    ("gateway", .string(m.gatewayNames[g.gateway])), ("site", .string(siteOfGateway[g.gateway])),
                    ("start", ts(g.start)), ("end", ts(g.end)),
                ]))
        }
        doc.endArray()
        let skewed = m.devices.filter { $0.skew != 0 }.map { JSONValue.string($0.id) }
        doc.member(
            "data_faults",
            .object([
                ("missing_readings", .number(Double(faults.missing))),
                ("outage_readings", .number(Double(faults.outage))),
                ("duplicates", .number(Double(faults.duplicates))),
                ("out_of_order", .number(Double(faults.outOfOrder))),
                ("malformed", .number(Double(faults.malformed))),
                ("clock_skew_devices", .array(skewed)),
            ]))
        doc.end()
        sink.append(0x0A)
        try sink.close()
    }
}
