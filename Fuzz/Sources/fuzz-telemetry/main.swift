import FleetRules
import Foundation
import FuzzSupport

/// A telemetry file through `fleetrules run`'s decoder and engine (the repository's pack and the
/// example inventory), then the report. Input whose first non-blank byte is `{` is JSON Lines,
/// anything else CSV with a header, so one corpus mutates across both formats.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzTelemetry(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = FuzzSupport.bytes(data, count)
    let format = TelemetryInput.format(of: bytes)
    var engine = Engine(plan: FuzzSupport.plan, inventory: FuzzSupport.inventory)
    Replay.feed(&engine, bytes: bytes, format: format, origin: "fuzz")
    engine.finish()
    let stats = engine.stats
    FuzzSupport.requireCounted(
        lines: TelemetryInput.records(in: bytes, format: format), accepted: stats.readings,
        rejected: stats.rejected.values.reduce(0, +))
    _ = engine.report().json().serialized()
    return 0
}

exit(FuzzSupport.run(fuzzTelemetry))
