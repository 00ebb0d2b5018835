import FleetRules
import Foundation

let plan = try Policy.load(contentsOf: URL(fileURLWithPath: "rules/")).compile()
var engine = Engine(plan: plan, inventory: try Inventory.load(path: "examples/fleet/inventory.csv"))
let t = Date()
engine.ingest(Reading(timestamp: t, device: "d-00001", metrics: ["battery_pct": 18.5]))
for event in engine.drainAlerts() { print(event.change, event.episode.summary) }
engine.finish()
let report = engine.report()
let json = try FleetJSONEncoder().encode(report)  // the bytes `fleetrules run --format json` writes
let saved = try JSONDecoder().decode(Report.self, from: json)
print("\(saved.input.readings) reading, \(saved.alerts.count) alerts")
