import FleetRules
import Foundation
import Testing

/// `Report` and its parts are `Codable` in report format 1: what `fleetrules run` writes decodes
/// with Foundation's `JSONDecoder` and with `FleetJSONDecoder`, and `FleetJSONEncoder` writes it
/// back byte for byte.
@Suite(.serialized) struct ReportCodableTests {
    /// The example fleet's report (the golden file `GoldenOutputTests` keeps equal to what `run` writes).
    static func exampleReport() throws -> Data {
        try Data(contentsOf: Golden.folder.appendingPathComponent("example-report.json"))
    }

    /// A simulated fleet replayed through rules/, as `fleetrules run --format json` writes it.
    static func simulatedReport() throws -> Data {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("codable-sim-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let sim = try CLI.run([
            "simulate", "--devices", "40", "--days", "2", "--interval", "10m", "--seed", "11", "--out", dir.path,
        ])
        #expect(sim.status == 0, "\(sim.stderr)")
        let out = dir.appendingPathComponent("report.json").path
        let run = try CLI.run([
            "run", "rules/", "--telemetry", "\(dir.path)/telemetry.jsonl", "--inventory", "\(dir.path)/inventory.csv",
            "--forecast-history", "--format", "json", "--out", out,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        return try Data(contentsOf: URL(fileURLWithPath: out))
    }

    static func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    @Test func jsonDecoderReadsTheExampleReportAndTheEncoderWritesItsBytes() throws {
        let data = try Self.exampleReport()
        let report = try JSONDecoder().decode(Report.self, from: data)
        #expect(report.alerts.count == 76)
        #expect(report.rebalancing.count == 9 && report.rebalancingGroups.count == 4)
        #expect(report.drift.count == 3 && report.correlations.count == 7)
        #expect(report.forecasts.count == 162 && report.forecastCurves.count == 2)
        #expect(report.passthrough.isEmpty)
        #expect(Self.text(try FleetJSONEncoder().encode(report)) == Self.text(data))
    }

    @Test func fleetDecoderReadsTheExampleReportAndTheEncoderWritesItsBytes() throws {
        let data = try Self.exampleReport()
        let report = try FleetJSONDecoder().decode(Report.self, from: data)
        #expect(Self.text(try FleetJSONEncoder().encode(report)) == Self.text(data))
        #expect(report.json() == (try Report.decode(json: Self.text(data))).json())
    }

    @Test func aSimulatedFleetsReportRoundTripsByteForByte() throws {
        let data = try Self.simulatedReport()
        let viaFoundation = try JSONDecoder().decode(Report.self, from: data)
        #expect(!viaFoundation.alerts.isEmpty)
        #expect(Self.text(try FleetJSONEncoder().encode(viaFoundation)) == Self.text(data))
        let viaFleet = try FleetJSONDecoder().decode(Report.self, from: data)
        #expect(Self.text(try FleetJSONEncoder().encode(viaFleet)) == Self.text(data))
    }

    /// Foundation's encoder writes the same document (its own key order and number text): read back,
    /// it is the same report.
    @Test func foundationsEncoderWritesTheSameDocument() throws {
        let data = try Self.exampleReport()
        let report = try JSONDecoder().decode(Report.self, from: data)
        let foreign = try JSONEncoder().encode(report)
        #expect(Self.text(foreign) != Self.text(data))
        let again = try JSONDecoder().decode(Report.self, from: foreign)
        #expect(Self.text(try FleetJSONEncoder().encode(again)) == Self.text(data))
    }

    /// Evidence keys come back in the engine's order from a decoder that sorts them.
    @Test func evidenceTakesTheEnginesOrderFromJSONDecoder() throws {
        let data = try Self.exampleReport()
        let report = try JSONDecoder().decode(Report.self, from: data)
        let forecast = try #require(report.alerts.first { $0.episode.kind == .forecast })
        #expect(forecast.episode.evidence.first?.0 == "state")
        #expect(forecast.episode.evidence.last?.0 == "threshold")
        let drift = try #require(report.alerts.first { $0.episode.kind == .drift })
        #expect(drift.episode.evidence.map(\.0).prefix(3) == ["metric", "method", "offset"])
    }

    /// A section this version does not type survives both decoders (keys sorted by `JSONDecoder`).
    @Test func unknownSectionsArePassedThrough() throws {
        var document = try JSONValue.parse(Self.text(try Self.exampleReport()))
        guard case .object(var members) = document else {
            Issue.record("not an object")
            return
        }
        members.append(("z_new_section", .object([("b", 1), ("a", .array(["x"]))])))
        document = .object(members)
        let data = Data(document.serialized(pretty: true).utf8)
        let exact = try FleetJSONDecoder().decode(Report.self, from: data)
        #expect(Self.text(try FleetJSONEncoder().encode(exact)) == Self.text(data) + "\n")
        let sorted = try JSONDecoder().decode(Report.self, from: data)
        #expect(sorted.passthrough["z_new_section"] == .object([("a", .array(["x"])), ("b", 1)]))
    }

    /// Bad documents are `DecodingError`s naming the JSON path.
    @Test func badReportsAreDecodingErrorsWithTheirPath() throws {
        let bad = #"{"format": 1, "pack": "p", "window": {}, "input": {"readings": "many"}}"#
        for decode in [
            { try JSONDecoder().decode(Report.self, from: Data(bad.utf8)) },
            { try FleetJSONDecoder().decode(Report.self, from: Data(bad.utf8)) },
        ] {
            do {
                _ = try decode()
                Issue.record("decoded a bad report")
            } catch DecodingError.dataCorrupted(let context) {
                #expect(context.debugDescription == "input.readings: expected a number")
            }
        }
        #expect(throws: DecodingError.self) { try FleetJSONDecoder().decode(Report.self, from: Data("[1,".utf8)) }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Report.self, from: Data(#"{"format": 2}"#.utf8))
        }
    }

    /// Every part of the report encodes and decodes on its own, in its report shape.
    @Test func partsRoundTripOnTheirOwn() throws {
        let report = try JSONDecoder().decode(Report.self, from: try Self.exampleReport())
        func same<T: Codable>(_ value: T, _ sourceLocation: SourceLocation = #_sourceLocation) throws {
            let once = try FleetJSONEncoder().encode(value)
            let viaFoundation = try JSONDecoder().decode(T.self, from: once)
            let viaFleet = try FleetJSONDecoder().decode(T.self, from: once)
            #expect(
                Self.text(try FleetJSONEncoder().encode(viaFoundation)) == Self.text(once),
                sourceLocation: sourceLocation)
            #expect(
                Self.text(try FleetJSONEncoder().encode(viaFleet)) == Self.text(once), sourceLocation: sourceLocation)
        }
        try same(report.alerts)
        try same(report.alerts.map(\.episode))
        try same(report.maintenance)
        try same(report.compliance)
        try same(report.rebalancing)
        try same(report.rebalancingGroups)
        try same(report.drift)
        try same(report.correlations)
        try same(report.forecasts)
        try same(report.forecastCurves)
        try same(report.input)
        let task = try #require(report.maintenance.first?.tasks.first)
        try same(task)
        try same(Report.Unmet(task: task, reason: "no capacity", scheduled: nil))
        let alert = try JSONDecoder().decode(Report.Alert.self, from: try FleetJSONEncoder().encode(report.alerts[0]))
        #expect(alert.episode.rule == report.alerts[0].episode.rule && alert.priority == report.alerts[0].priority)
    }

    /// The encoder is a general one: key order as encoded, dates as RFC 3339, integers without a fraction.
    @Test func fleetEncoderWritesAnyCodableValue() throws {
        struct Sample: Codable, Equatable {
            var zeta: Int
            var alpha: Double
            var when: Date
            var path: String
            var tags: [String]
            var nested: [String: Int]
            var missing: String?
        }
        let sample = Sample(
            zeta: 3, alpha: 0.25, when: Date(timeIntervalSince1970: 1_772_323_200), path: "a/b\n", tags: ["x"],
            nested: ["k": 1], missing: nil)
        let data = try FleetJSONEncoder(pretty: false).encode(sample)
        #expect(
            Self.text(data)
                == #"{"zeta":3,"alpha":0.25,"when":"2026-03-01T00:00:00Z","path":"a/b\n","tags":["x"],"nested":{"k":1}}"#
        )
        #expect(try FleetJSONDecoder().decode(Sample.self, from: data) == sample)
        #expect(throws: DecodingError.self) { try FleetJSONDecoder().decode(Int.self, from: Data("1.5".utf8)) }
    }
}

/// The embedding API's `Date` form and its alert stream.
@Suite struct EmbeddingAPITests {
    static let policy = """
        fleetrules: 1
        pack: embedded
        metrics:
          battery_pct: { unit: percent, range: [0, 100], interval: 5m }
        rules:
          - alert: battery-low
            when: last(battery_pct) < 20
            for: 15m
            clear: last(battery_pct) > 25
        """

    static func engine() throws -> Engine {
        let plan = try Policy.parse(policy, file: "embedded.yaml").compile()
        let inventory = try Inventory(
            columns: ["device", "type", "site", "zone", "gateway", "power", "criticality"],
            rows: [["sensor-1", "temp-sensor", "plant-a", "hall", "gw-1", "battery", "high"]])
        return Engine(plan: plan, inventory: inventory)
    }

    /// Levels falling below 20, then recovering: one alert fires and resolves.
    static let levels: [Double] = [24, 22, 19, 18, 17, 16, 15, 15, 30, 31, 32, 33]
    static let start = Date(timeIntervalSince1970: 1_772_323_200)

    @Test func dateAndSecondsReadingsAreTheSame() throws {
        var byDate = try Self.engine()
        var bySeconds = try Self.engine()
        for (i, level) in Self.levels.enumerated() {
            let date = Self.start.addingTimeInterval(Double(i) * 300)
            let reading = Reading(timestamp: date, device: "sensor-1", metrics: ["battery_pct": level])
            #expect(reading.timestamp == date.timeIntervalSince1970 && reading.date == date)
            byDate.ingest(reading)
            bySeconds.ingest(
                Reading(timestamp: date.timeIntervalSince1970, device: "sensor-1", metrics: ["battery_pct": level]))
        }
        byDate.finish()
        bySeconds.finish()
        let a = byDate.report().json().serialized()
        #expect(a == bySeconds.report().json().serialized())
        #expect(byDate.report().alerts.count == 1)
    }

    @Test func theAlertStreamHasWhatDrainAlertsReturns() async throws {
        var plain = try Self.engine()
        var drained: [String] = []
        let live = AsyncEngine(try Self.engine())
        let collector = Task {
            var seen: [String] = []
            for await event in live.alerts {
                seen.append("\(event.change.rawValue) \(event.time) \(event.episode.rule)")
            }
            return seen
        }
        for (i, level) in Self.levels.enumerated() {
            let reading = Reading(
                timestamp: Self.start.addingTimeInterval(Double(i) * 300), device: "sensor-1",
                metrics: ["battery_pct": level])
            plain.ingest(reading)
            drained += plain.drainAlerts().map { "\($0.change.rawValue) \($0.time) \($0.episode.rule)" }
            #expect(await live.ingest(reading) == nil)
        }
        plain.finish()
        drained += plain.drainAlerts().map { "\($0.change.rawValue) \($0.time) \($0.episode.rule)" }
        await live.finish()
        let streamed = await collector.value
        #expect(drained.count == 2 && drained.first?.hasPrefix("fired") == true)
        #expect(streamed == drained)
        #expect(await live.report().json() == plain.report().json())
        #expect(await live.ingest(Reading(timestamp: Self.start, device: "unknown", metrics: [:])) == .unknownDevice)
    }
}

/// The README's Swift snippet is the file the examples package builds, and it runs.
@Suite(.serialized) struct ReadmeSnippetTests {
    static let snippetPath = "examples/embedding/Sources/readme-example/main.swift"

    /// The fenced `swift` blocks of README.md.
    static func swiftBlocks(_ text: String) -> [String] {
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```swift" {
                current = []
            } else if current != nil, line == "```" {
                blocks.append((current ?? []).joined(separator: "\n") + "\n")
                current = nil
            } else {
                current?.append(line)
            }
        }
        return blocks
    }

    @Test func theReadmeQuotesTheBuiltSnippet() throws {
        let readme = try String(contentsOf: CLI.repoRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let snippet = try String(contentsOf: CLI.repoRoot.appendingPathComponent(Self.snippetPath), encoding: .utf8)
        let blocks = Self.swiftBlocks(readme)
        #expect(blocks == [snippet], "README.md's swift blocks must be \(Self.snippetPath) verbatim")
        let article = try String(
            contentsOf: CLI.repoRoot.appendingPathComponent("Sources/FleetRules/FleetRules.docc/GettingStarted.md"),
            encoding: .utf8)
        #expect(Self.swiftBlocks(article).contains(snippet), "GettingStarted.md must quote \(Self.snippetPath)")
    }

    static func runExample(_ name: String, _ arguments: [String] = []) throws -> (status: Int32, stdout: String) {
        let process = Process()
        process.executableURL = CLI.binary.deletingLastPathComponent().appendingPathComponent(name)
        process.arguments = arguments
        process.currentDirectoryURL = CLI.repoRoot
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test func theSnippetRuns() throws {
        let r = try Self.runExample("readme-example")
        #expect(r.status == 0)
        let last = r.stdout.split(separator: "\n").last ?? ""
        #expect(last.hasPrefix("1 reading, ") && last.hasSuffix(" alerts"), "\(r.stdout)")
    }

    @Test func theEmbeddingExampleRereadsARunReport() throws {
        let golden = Golden.folder.appendingPathComponent("example-report.json").path
        let r = try Self.runExample("embedding-example", [golden])
        #expect(r.status == 0, "\(r.stdout)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: golden)).count
        #expect(r.stdout.contains(" alerts, \(bytes) bytes re-encoded identically"), "\(r.stdout)")
        let tampered = try CLI.temporaryFile(
            "report.json",
            try String(contentsOfFile: golden, encoding: .utf8).replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(try Self.runExample("embedding-example", [tampered]).status == 1)
    }
}
