import ArgumentParser
import FleetRules
import Foundation

/// Loads a policy for commands that need a clean one (plan, run); prints diagnostics and exits 1 otherwise.
enum PolicyInput {
    static func load(_ paths: [String]) -> (Policy, PolicyCheck) {
        let files: [String]
        do {
            files = try PolicyLoader.files(for: paths)
        } catch {
            FleetRulesCommand.failUsage(error.description)
        }
        let result = PolicyLoader().check(files: files)
        guard let policy = result.policy else {
            let renderer = DiagnosticRenderer(sources: result.sources, color: isatty(STDERR_FILENO) == 1)
            FileHandle.standardError.write(Data(renderer.text(result.diagnostics).utf8))
            FileHandle.standardError.write(Data((CheckCommand.summary(result) + "\n").utf8))
            Foundation.exit(1)
        }
        return (policy, result)
    }

    static func inventory(_ path: String?) -> Inventory {
        guard let path else { return Inventory() }
        return table(path, "inventory", stdin: true, load: Inventory.load(path:), rejected: \.rejected)
    }

    /// Reads the gateways CSV of balance rules; a missing or unreadable file is a usage error.
    static func gateways(_ path: String) -> GatewayTable {
        table(path, "gateways", stdin: false, load: GatewayTable.load(path:), rejected: \.rejected)
    }

    /// Loads a CSV table; a missing or unreadable file is a usage error, and the first skipped
    /// rows are warned about on stderr with their line numbers.
    private static func table<T>(
        _ path: String, _ kind: String, stdin: Bool, load: (String) throws -> T,
        rejected: KeyPath<T, [(line: Int, reason: String)]>
    ) -> T {
        guard (stdin && path == "-") || FileManager.default.fileExists(atPath: path) else {
            FleetRulesCommand.failUsage("\(path): no such \(kind) file")
        }
        do {
            let table = try load(path)
            for (line, reason) in table[keyPath: rejected].prefix(10) {
                FileHandle.standardError.write(Data("warning: \(path):\(line): \(kind) row skipped: \(reason)\n".utf8))
            }
            return table
        } catch {
            FleetRulesCommand.failUsage("\(error)")
        }
    }
}

/// `--lateness`, shared by `run`, `explain` and `serve`.
struct LatenessOption: ParsableArguments {
    @Option(help: "How far out of order readings may arrive, e.g. 5m.")
    var lateness: String = "5m"

    func validate() throws {
        guard let l = DurationText.seconds(lateness), l >= 0 else {
            throw ValidationError("--lateness must be a duration such as 5m")
        }
    }

    /// The validated value in seconds.
    var seconds: Double { DurationText.seconds(lateness) ?? 300 }
}

/// A progress bar on stderr, shown only on a terminal and only after the input has taken a while.
final class ProgressBar {
    private let start = Date()
    private var shown = false
    private let enabled = isatty(STDERR_FILENO) == 1

    func update(_ read: Int64, _ total: Int64?) {
        guard enabled, Date().timeIntervalSince(start) > 2 else { return }
        shown = true
        let mb = Double(read) / 1_048_576
        var line = String(format: "\r%.0f MiB", mb)
        if let total, total > 0 {
            let f = min(1, Double(read) / Double(total))
            let width = 30
            let filled = Int(f * Double(width))
            line = "\r[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
                + String(format: "%3.0f%%  %.0f MiB", f * 100, mb)
        }
        FileHandle.standardError.write(Data(line.utf8))
    }

    func done() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
