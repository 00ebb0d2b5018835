import CFuzzDriver
import FleetRules
import Foundation

/// What the fuzz targets share: the repository's own pack and inventory (the engine the
/// telemetry targets feed), and the promises every target checks on every input. A broken
/// promise stops the fuzzer like a crash does, with the input saved.
///
/// Tests/FleetRulesTests/FuzzRegressionTests.swift replays Fuzz/Regressions through the same
/// calls and checks the same promises without the sanitizer.
public enum FuzzSupport {
    /// The repository root: this file is Fuzz/Sources/FuzzSupport/FuzzSupport.swift.
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The pack in rules/, compiled once, with its reading-by-reading rules only (alert, limit,
    /// compliance). Forecast, drift, correlation, balance and group rules tick over the data's
    /// whole time span, which costs about 100 ms an input under the sanitizers: ten times fewer
    /// inputs.
    public static let plan: EvaluationPlan = {
        let rules = root.appendingPathComponent("rules").path
        guard let files = try? PolicyLoader.files(for: [rules]), var policy = PolicyLoader().check(files: files).policy
        else { fatalError("the fuzz harness needs the pack in \(rules) to check cleanly") }
        policy.rules.removeAll { rule in
            switch rule.body {
            case .alert, .limit, .compliance: false
            case .forecast, .drift, .correlation, .balance, .group: true
            }
        }
        return policy.compile()
    }()

    /// The example fleet's inventory, so seeded device names are known devices.
    public static let inventory: Inventory = {
        let path = root.appendingPathComponent("examples/fleet/inventory.csv").path
        guard let inventory = try? Inventory.load(path: path) else { fatalError("the fuzz harness needs \(path)") }
        return inventory
    }()

    /// Bad input is answered with located errors: an unusable result names at least one error,
    /// and every diagnostic points into `file` at a line and column that exist (or just past the end).
    public static func requireLocated(_ diagnostics: [Diagnostic], in file: String, source: [UInt8], usable: Bool) {
        if !usable && !diagnostics.contains(where: { $0.severity == .error }) {
            fatalError("input refused without an error diagnostic")
        }
        // YAML breaks lines at LF, CR, CR LF, NEL (C2 85), LS and PS (E2 80 A8/A9): an upper bound.
        let lines = source.count { $0 == 0x0A || $0 == 0x0D || $0 == 0x85 || $0 == 0xA8 || $0 == 0xA9 } + 1
        for d in diagnostics {
            let p = d.range.start
            guard d.range.file == file, p.line >= 1, p.line <= lines + 1, p.column >= 1 else {
                fatalError("diagnostic not located in the input: \(d.headline)")
            }
        }
    }

    /// Telemetry is never silently dropped: every line is a reading or a counted rejection.
    public static func requireCounted(lines: Int, accepted: Int, rejected: Int) {
        guard accepted + rejected == lines else {
            fatalError("\(lines) lines, but \(accepted) accepted and \(rejected) rejected")
        }
    }
}

extension FuzzSupport {
    /// One input: libFuzzer's bytes.
    public typealias Target = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// Hands the process to libFuzzer with `target` as the function under test; returns its exit
    /// status. A target's main.swift calls this: SwiftPM makes each executable's top-level code
    /// the process's `main`, so libFuzzer's own `main` never runs. (Each target also exports its
    /// function as `LLVMFuzzerTestOneInput`, which that unused `main` refers to.)
    public static func run(_ target: Target) -> CInt {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        return LLVMFuzzerRunDriver(&argc, &argv, target)
    }

    /// The bytes of one input.
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ count: Int) -> [UInt8] {
        guard let data, count > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: count))
    }
}
