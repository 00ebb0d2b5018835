import ArgumentParser
import FleetRules
import FleetRulesDelivery
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
            FileHandle.standardError.write(Data((result.summary + "\n").utf8))
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

/// The policy paths of `plan`, `run` and `explain`.
struct PolicyPaths: ParsableArguments {
    @Argument(help: "Policy files or folders.")
    var paths: [String]

    /// The checked policy; diagnostics and exit 1 when it has errors.
    func load() -> (Policy, PolicyCheck) { PolicyInput.load(paths) }
}

/// `--inventory`, shared by `run`, `explain` and `serve`.
struct InventoryOption: ParsableArguments {
    @Option(help: "Inventory CSV (device,type,site,zone,gateway,reachable,firmware,criticality,power,…).")
    var inventory: String

    func load() -> Inventory { PolicyInput.inventory(inventory) }
}

/// `--gateways`, shared by `run` and `serve`.
struct GatewaysOption: ParsableArguments {
    @Option(help: "Gateways CSV for balance rules (gateway,site,capacity).")
    var gateways: String?

    /// The inventory with the gateways table, when one is given.
    func apply(to inventory: Inventory) -> Inventory {
        var inventory = inventory
        if let gateways { inventory.gateways = PolicyInput.gateways(gateways) }
        return inventory
    }
}

/// `--telemetry`, shared by `run` and `explain`.
struct TelemetryOption: ParsableArguments {
    @Option(name: .long, parsing: .upToNextOption, help: "Telemetry files (JSON Lines or CSV, .gz allowed).")
    var telemetry: [String]

    func validate() throws {
        if telemetry.isEmpty { throw ValidationError("give at least one --telemetry file") }
    }

    /// A named file that does not exist is a usage error (`-`, stdin, is not checked).
    func requireFiles() {
        for path in telemetry where path != "-" && !FileManager.default.fileExists(atPath: path) {
            Self.failUsage("\(path): no such telemetry file")
        }
    }
}

/// `--deliver` and `--outbox`, shared by `run` and `serve`.
struct DeliveryOptions: ParsableArguments {
    @Option(help: "Deliver the alerts as this delivery configuration routes them (docs/DELIVERY.md).")
    var deliver: String?

    @Option(
        help: "The outbox database for --deliver (default: the config's outbox path, else .fleetrules/outbox.sqlite).")
    var outbox: String?

    func validate() throws {
        if outbox != nil && deliver == nil { throw ValidationError("--outbox needs --deliver") }
    }

    /// The checked configuration (exit 1 with its diagnostics when it has errors), nil without --deliver.
    func config() -> DeliveryConfig? { deliver.map(DeliveryInput.load) }

    /// The outbox file: --outbox, else the configuration's, else the default.
    func outboxPath(_ config: DeliveryConfig) -> String {
        outbox ?? config.outbox.path ?? DeliveryInput.defaultOutbox
    }

    /// The pipeline over the outbox at `outboxPath`.
    func pipeline(_ config: DeliveryConfig) throws -> (pipeline: DeliveryPipeline, path: String) {
        let path = outboxPath(config)
        return (try DeliveryInput.pipeline(config, outbox: path), path)
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
            line =
                "\r[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
                + String(format: "%3.0f%%  %.0f MiB", f * 100, mb)
        }
        FileHandle.standardError.write(Data(line.utf8))
    }

    func done() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
