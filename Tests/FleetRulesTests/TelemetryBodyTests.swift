import Foundation
import Testing

@testable import FleetRules

/// Request bodies (`POST /v1/telemetry`): JSON arrays become lines, syntax errors are located,
/// and ingest counts and lists rejections by line like `run`.
@Suite struct TelemetryBodyTests {
    static func lines(_ text: String) -> Result<(bytes: [UInt8], lineNumbers: [Int]?), TelemetryBody.SyntaxError> {
        TelemetryBody.lines(Array(text.utf8))
    }

    @Test func jsonLinesPassThrough() throws {
        let body = "{\"a\":1}\n{\"a\":2}\n"
        let (bytes, numbers) = try Self.lines(body).get()
        #expect(bytes == Array(body.utf8))
        #expect(numbers == nil)
    }

    @Test func arrayElementsBecomeLinesWithTheirBodyLine() throws {
        let body = """
            [
              {"device": "d1", "note": "a ] and a , in a string", "nested": {"x": [1, 2]}},
              {
                "device": "d2", "esc": "quote \\" ] ,"
              }
            ]
            """
        let (bytes, numbers) = try Self.lines(body).get()
        let out = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        #expect(out.count == 2)
        #expect(out[0].contains("a ] and a , in a string"))
        #expect(out[1].contains("\"d2\""))
        #expect(numbers == [2, 3])
    }

    @Test func emptyArrayIsNoLines() throws {
        let (bytes, numbers) = try Self.lines("  [ ]  ").get()
        #expect(bytes.isEmpty)
        #expect(numbers == [])
    }

    @Test func brokenArraysAreLocated() {
        let cases: [(String, Int)] = [
            ("[\n{\"a\":1},\n", 3),  // not closed
            ("[\n{\"a\":1}\n{\"a\":2}\n]", 3),  // missing comma
            ("[\n{\"a\":1},\n]", 3),  // trailing comma
            ("[{\"a\":1}]\nxyz", 2),  // text after ]
            ("[\n,{\"a\":1}]", 2),  // leading comma
            ("[{\"a\":1}}]", 1),  // unbalanced
        ]
        for (body, line) in cases {
            guard case .failure(let e) = Self.lines(body) else {
                Issue.record("accepted \(body)")
                continue
            }
            #expect(e.line == line, "\(body): \(e)")
        }
    }

    @Test func scanFindsMalformedLines() {
        let body = Array("{\"ts\":\"2026-03-01T00:00:00Z\",\"device\":\"d1\"}\n\nnot json\n{\"ts\": oops}\n".utf8)
        let scan = TelemetryBody.scan(body)
        #expect(scan.lines == 3)
        #expect(scan.malformed == 2)
        #expect(scan.first?.line == 3)
        #expect(!scan.nothingReadable)
        #expect(TelemetryBody.scan(Array("x\ny\n".utf8)).nothingReadable)
        #expect(!TelemetryBody.scan(Array("\n\n".utf8)).nothingReadable)
    }

    @Test func ingestCountsAndListsRejectionsByLine() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                """)
        let body = [
            #"{"ts":"2026-03-01T00:00:00Z","device":"d1","battery_pct":50}"#,
            #"{"ts":"2026-03-01T00:01:00Z","device":"ghost","battery_pct":50}"#,
            "",
            #"{"device":"d1","battery_pct":50}"#,
            "garbage",
            #"{"ts":"2026-03-01T00:02:00Z","device":"d1","battery_pct":10}"#,
        ].joined(separator: "\n")
        let summary = TelemetryBody.ingest(&h.engine, bytes: Array(body.utf8), keepAccepted: true)
        #expect(summary.lines == 5)
        #expect(summary.accepted == 2)
        #expect(summary.rejected == [.unknownDevice: 1, .missingTimestamp: 1, .malformed: 1])
        #expect(summary.rejections.map(\.line) == [2, 4, 5])
        #expect(summary.rejections.map(\.reason) == [.unknownDevice, .missingTimestamp, .malformed])
        // Only accepted lines are kept for the journal, in order.
        let kept = String(decoding: summary.acceptedLines, as: UTF8.self).split(separator: "\n")
        #expect(kept.count == 2)
        #expect(kept[1].contains("\"battery_pct\":10"))
        // Replaying them into a fresh engine rebuilds the same state.
        var fresh = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                """)
        let again = TelemetryBody.ingest(&fresh.engine, bytes: summary.acceptedLines)
        #expect(again.accepted == 2 && again.rejected.isEmpty)
        h.engine.finish()
        fresh.engine.finish()
        #expect(h.engine.episodes.map(\.rule) == ["low"])
        #expect(fresh.engine.episodes.map(\.rule) == ["low"])
    }

    @Test func arrayLineNumbersReachRejections() throws {
        var h = try EngineHarness(
            rules: """
                  - alert: low
                    when: last(battery_pct) < 20
                """)
        let body =
            "[\n" + #"{"ts":"2026-03-01T00:00:00Z","device":"d1","battery_pct":50},"# + "\n\n"
            + #"{"ts":"2026-03-01T00:01:00Z","device":"nope","battery_pct":50}"# + "\n]"
        let (bytes, numbers) = try Self.lines(body).get()
        let summary = TelemetryBody.ingest(&h.engine, bytes: bytes, lineNumbers: numbers)
        #expect(summary.accepted == 1)
        #expect(summary.rejections.first?.line == 4)
    }
}
