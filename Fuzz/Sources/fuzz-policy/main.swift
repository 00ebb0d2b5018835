import FleetRules
import Foundation
import FuzzSupport

/// A policy file through `fleetrules check`'s own path: YAML loader, declarations, expression
/// parser and checker, rule decoders, then the printed diagnostics and, when it checks
/// cleanly, the compiled plan.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzPolicy(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = FuzzSupport.bytes(data, count)
    let check = PolicyLoader().check(sources: [(file: "fuzz.yaml", bytes: bytes)])
    FuzzSupport.requireLocated(check.diagnostics, in: "fuzz.yaml", source: bytes, usable: check.policy != nil)
    _ = DiagnosticRenderer(sources: check.sources).text(check.diagnostics)
    if let policy = check.policy { _ = policy.compile() }
    return 0
}

exit(FuzzSupport.run(fuzzPolicy))
