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
        guard path == "-" || FileManager.default.fileExists(atPath: path) else {
            FleetRulesCommand.failUsage("\(path): no such inventory file")
        }
        do {
            let inventory = try Inventory.load(path: path)
            for (line, reason) in inventory.rejected.prefix(10) {
                FileHandle.standardError.write(Data("warning: \(path):\(line): inventory row skipped: \(reason)\n".utf8))
            }
            return inventory
        } catch {
            FleetRulesCommand.failUsage("\(error)")
        }
    }
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

extension PolicyInput {
    /// Reads the gateways CSV of balance rules; a missing or unreadable file is a usage error.
    static func gateways(_ path: String) -> GatewayTable {
        guard FileManager.default.fileExists(atPath: path) else {
            FleetRulesCommand.failUsage("\(path): no such gateways file")
        }
        do {
            let table = try GatewayTable.load(path: path)
            for (line, reason) in table.rejected.prefix(10) {
                FileHandle.standardError.write(Data("warning: \(path):\(line): gateways row skipped: \(reason)\n".utf8))
            }
            return table
        } catch {
            FleetRulesCommand.failUsage("\(error)")
        }
    }
}
