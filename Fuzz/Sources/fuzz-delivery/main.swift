import FleetRules
import FleetRulesDeliveryConfig
import Foundation
import FuzzSupport

/// A delivery configuration through `fleetrules check --delivery`'s path: YAML loader, then
/// receivers, routes, silences, inhibit rules and outbox settings, every problem located.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzDelivery(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = FuzzSupport.bytes(data, count)
    let check = DeliveryLoader.check(
        bytes: bytes, file: "delivery.yaml", environment: ["HOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
    FuzzSupport.requireLocated(check.diagnostics, in: "delivery.yaml", source: bytes, usable: check.config != nil)
    _ = DiagnosticRenderer(sources: ["delivery.yaml": check.source]).text(check.diagnostics)
    return 0
}

exit(FuzzSupport.run(fuzzDelivery))
