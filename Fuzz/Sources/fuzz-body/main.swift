import FleetRules
import Foundation
import FuzzSupport

/// A `POST /v1/telemetry` body through the server's own steps: split (JSON Lines or a JSON
/// array of readings), syntax scan, then ingest into an engine with the repository's pack.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzBody(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let body = FuzzSupport.bytes(data, count)
    guard case .success(let lines) = TelemetryBody.lines(body) else { return 0 }
    let scan = TelemetryBody.scan(lines.bytes, lineNumbers: lines.lineNumbers)
    if let first = scan.first, first.line < 1 { fatalError("syntax error before the first line: \(first)") }
    var engine = Engine(plan: FuzzSupport.plan, inventory: FuzzSupport.inventory)
    let summary = TelemetryBody.ingest(&engine, bytes: lines.bytes, lineNumbers: lines.lineNumbers, keepAccepted: true)
    FuzzSupport.requireCounted(
        lines: summary.lines, accepted: summary.accepted, rejected: summary.rejected.values.reduce(0, +))
    for r in summary.rejections where r.line < 1 { fatalError("rejection before the first line: \(r.message)") }
    _ = engine.drainAlerts()
    return 0
}

exit(FuzzSupport.run(fuzzBody))
