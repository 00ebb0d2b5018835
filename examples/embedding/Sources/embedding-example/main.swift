// Embedding FleetRules in another Swift service: load a pack, feed readings, drain alerts.
//
//   swift run embedding-example [REPORT.json]
//
// The same five calls a service makes: load + compile, build an engine over the inventory,
// ingest readings (one at a time here; `ingest(contentsOf:)` takes batches), drain the alerts
// that changed, and take the report. Given a report `fleetrules run --format json` wrote, it
// also reads it into a `Report` with Foundation's JSONDecoder and writes it back with
// FleetJSONEncoder, byte for byte.
import FleetRules
import Foundation

let rules = """
    fleetrules: 1
    pack: embedded
    metrics:
      battery_pct: { unit: percent, range: [0, 100], interval: 5m }
    rules:
      - alert: battery-low
        when: last(battery_pct) < 20
        for: 15m
        clear: last(battery_pct) > 25
        severity: warning
        summary: "{{device}} battery at {{value}}%"
    """

do {
    // 1. Load and compile. Errors come back as located diagnostics.
    let plan = try Policy.parse(rules, file: "embedded.yaml").compile()

    // 2. An engine over the inventory (the same CSV columns `fleetrules run` reads).
    let inventory = try Inventory(
        columns: ["device", "type", "site", "zone", "gateway", "power", "criticality"],
        rows: [
            ["sensor-1", "temp-sensor", "plant-a", "hall", "gw-1", "battery", "high"],
            ["sensor-2", "temp-sensor", "plant-a", "hall", "gw-1", "battery", "low"],
        ])
    var engine = Engine(plan: plan, inventory: inventory)

    // 3. Feed readings in event time: sensor-1 drains below 20%, sensor-2 stays healthy.
    let start = Date(timeIntervalSince1970: 1_772_323_200)  // 2026-03-01T00:00:00Z
    for step in 0..<12 {
        let t = start.addingTimeInterval(Double(step) * 300)
        engine.ingest(Reading(timestamp: t, device: "sensor-1", metrics: ["battery_pct": 24 - Double(step)]))
        engine.ingest(Reading(timestamp: t, device: "sensor-2", metrics: ["battery_pct": 80]))
        // 4. Drain what changed; a service would route these to its notifier.
        for event in engine.drainAlerts() {
            print(
                "\(event.change.rawValue) \(Timestamp.format(event.time)) \(event.episode.rule) \(event.episode.summary)"
            )
        }
    }
    engine.finish()
    for event in engine.drainAlerts() {
        print("\(event.change.rawValue) \(Timestamp.format(event.time)) \(event.episode.rule) \(event.episode.summary)")
    }

    // 5. The report, the same JSON `fleetrules run` writes.
    let report = engine.report()
    print("alerts: \(report.alerts.count), readings: \(report.input.readings)")

    // 6. Why sensor-2 stayed silent: every sub-expression's value, the false parts, the `for` state.
    if let why = try? engine.explain(rule: "battery-low", device: "sensor-2") {
        print(why.text(), terminator: "")
    }

    // 7. A saved report read back into `Report` and written again: the same bytes.
    if CommandLine.arguments.count > 1 {
        let saved = try Data(contentsOf: URL(fileURLWithPath: CommandLine.arguments[1]))
        let decoded = try JSONDecoder().decode(Report.self, from: saved)
        let again = try FleetJSONEncoder().encode(decoded)
        guard again == saved else {
            print("re-encoded report differs from \(CommandLine.arguments[1])")
            exit(1)
        }
        print("report: \(decoded.alerts.count) alerts, \(again.count) bytes re-encoded identically")
    }
} catch let error as DiagnosticsError {
    print(error.description)
    exit(1)
} catch {
    print("error: \(error)")
    exit(1)
}
