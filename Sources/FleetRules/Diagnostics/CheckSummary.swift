import Foundation

extension PolicyCheck {
    /// The check as JSON, the one shape `fleetrules check --format json` prints and the
    /// server's validate and reload endpoints answer: `{ok, files, rules, errors, warnings,
    /// diagnostics}`, where `ok` means no errors (warnings may be listed).
    public func json() -> JSONValue {
        .object([
            ("ok", .bool(!hasErrors)),
            ("files", .array(files.map { .string($0) })),
            ("rules", .number(Double(ruleCount))),
            ("errors", .number(Double(errorCount))),
            ("warnings", .number(Double(warningCount))),
            ("diagnostics", .array(diagnostics.map(DiagnosticRenderer.json))),
        ])
    }

    /// The closing line of the text output: `check ok: 3 files, 12 rules, 0 errors, 1 warning`.
    public var summary: String {
        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        let status = hasErrors ? "failed" : "ok"
        return "check \(status): \(plural(files.count, "file")), \(plural(ruleCount, "rule")), "
            + "\(plural(errorCount, "error")), \(plural(warningCount, "warning"))"
    }
}
