import FleetRules
import Foundation
import FuzzSupport

/// A condition (`when:`) two ways: the expression parser alone on the raw text, then parsed and
/// type-checked inside a pack that declares metrics, a list and a macro to refer to.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzExpression(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = FuzzSupport.bytes(data, count)
    let text = String(decoding: bytes, as: UTF8.self)

    var bag = DiagnosticBag()
    let node = YAMLNode(.scalar(text, .plain), range: SourceRange(file: "expr", line: 1, column: 1))
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let parsed = ExpressionParser.parse(text, locator: ScalarLocator(node: node, sourceLines: lines), diagnostics: &bag)
    if parsed == nil && !bag.hasErrors { fatalError("expression refused without an error diagnostic") }

    let pack = ConditionPack.source(condition: text)
    let check = PolicyLoader().check(sources: [(file: "pack.yaml", bytes: pack)])
    FuzzSupport.requireLocated(check.diagnostics, in: "pack.yaml", source: pack, usable: check.policy != nil)
    _ = DiagnosticRenderer(sources: check.sources).text(check.diagnostics)
    return 0
}

exit(FuzzSupport.run(fuzzExpression))
