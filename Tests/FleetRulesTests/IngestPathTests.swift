import Foundation
import Testing

@testable import FleetRules

/// The ingest path's speed tricks must not change what is read or in which order it is evaluated.
@Suite struct IngestPathTests {
    /// Chunks reuse one buffer once the caller lets go; a caller that keeps every chunk must
    /// still see each one intact (copy-on-write), and one that drops them must see the same bytes.
    @Test func byteSourceChunksAreIntactWhetherKeptOrDropped() throws {
        var bytes: [UInt8] = []
        var i = 0
        while bytes.count < 3 * (1 << 20) + 12345 {
            bytes.append(
                contentsOf: Array(#"{"ts":"2026-03-01T00:00:00Z","device":"d-\#(i)","temperature":\#(i % 50)}"#.utf8))
            bytes.append(0x0A)
            i += 1
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("chunks-\(UUID().uuidString).jsonl")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }

        let keeping = try ByteSource(path: url.path)
        var kept: [[UInt8]] = []
        while true {
            let chunk = try keeping.next()
            if chunk.isEmpty { break }
            kept.append(chunk)
        }
        #expect(kept.count >= 4)
        #expect(Array(kept.joined()) == bytes)

        let dropping = try ByteSource(path: url.path)
        var joined: [UInt8] = []
        while true {
            let chunk = try dropping.next()
            if chunk.isEmpty { break }
            joined.append(contentsOf: chunk)
        }
        #expect(joined == bytes)
    }

    /// One device whose clock runs minutes ahead sends its readings before everyone else's. The
    /// queue moves such readings aside so the others stay in the fast in-order queue; the alerts
    /// must be those of the same readings fed in event-time order.
    @Test func aClockRunningAheadDoesNotChangeTheEvaluation() throws {
        let rules = """
              - alert: hot
                when: avg(temperature, 15m) > 25
                for: 10m
              - alert: silent
                when: age(temperature) > 12m
            """
        let devices = (1...30).map { "d\($0)" }  // enough that one fast clock is not the fleet's time
        var readings: [(minute: Double, device: String, value: Double)] = []
        for round in 0..<120 {
            for (k, d) in devices.enumerated() {
                if d == "d4", (40..<55).contains(round) { continue }  // a gap: `silent` fires
                let skew = d == "d2" ? 4.0 : 0  // d2's clock is 4 minutes ahead
                let value = 20 + Double((round * 7 + k * 3) % 11)
                readings.append((Double(round) * 5 + skew, d, value))
            }
        }
        var arrival = try EngineHarness(rules: rules, devices: devices, lateness: 600)
        for r in readings { arrival.send(r.minute, ["temperature": r.value], device: r.device) }
        var sorted = try EngineHarness(rules: rules, devices: devices, lateness: 600)
        for r in readings.enumerated().sorted(by: { ($0.element.minute, $0.offset) < ($1.element.minute, $1.offset) }) {
            sorted.send(r.element.minute, ["temperature": r.element.value], device: r.element.device)
        }
        let a = arrival.finish().map { "\($0.rule) \($0.device) \($0.since) \(String(describing: $0.until))" }
        let b = sorted.finish().map { "\($0.rule) \($0.device) \($0.since) \(String(describing: $0.until))" }
        #expect(a.contains { $0.hasPrefix("silent d4") })
        #expect(a.contains { $0.hasPrefix("hot") })
        #expect(a.sorted() == b.sorted())
        #expect(arrival.engine.stats.rejectedTotal == 0)
    }
}
