import ArgumentParser
import FleetRules
import Foundation

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show why a rule fired or stayed silent for one device at one time.",
        discussion: """
            Replays the telemetry up to --at (default: the end of the data) like `run`, then
            prints every sub-expression of the rule's `where`, `when` and `clear` with its value
            for the device, the parts that kept the condition false, how long the `for` has
            been pending, and the rule's open findings with their evidence.

            Example:
              fleetrules explain battery-low rules/ --device ts-0001 --at 2026-03-03T12:00:00Z \\
                  --telemetry examples/fleet/telemetry.jsonl.gz --inventory examples/fleet/inventory.csv
            """
    )

    @Argument(help: "The rule id.")
    var rule: String

    @Argument(help: "Policy files or folders.")
    var paths: [String]

    @Option(help: "The device id.")
    var device: String

    @Option(help: "Event time to explain (RFC 3339); default: the end of the data.")
    var at: String?

    @Option(name: .long, parsing: .upToNextOption, help: "Telemetry files (JSON Lines or CSV, .gz allowed).")
    var telemetry: [String]

    @Option(help: "Inventory CSV.")
    var inventory: String

    @OptionGroup var lateness: LatenessOption

    @Option(help: "Output: text or json.")
    var format: Format = .text

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    func validate() throws {
        if telemetry.isEmpty { throw ValidationError("give at least one --telemetry file") }
        if telemetry.contains("-") { throw ValidationError("explain reads telemetry files, not stdin") }
        if let at, Timestamp.parse(at) == nil {
            throw ValidationError("--at must be an RFC 3339 timestamp such as 2026-03-03T12:00:00Z")
        }
    }

    func run() throws {
        for path in telemetry where !FileManager.default.fileExists(atPath: path) {
            Self.failUsage("\(path): no such telemetry file")
        }
        let (policy, _) = PolicyInput.load(paths)
        let plan = policy.compile(lateness: lateness.seconds)
        guard plan.operators.contains(where: { $0.rule.id == rule }) else {
            let hint = Suggestion.closest(to: rule, in: plan.operators.map(\.rule.id)).map { "; did you mean '\($0)'?" } ?? ""
            Self.failUsage("no rule '\(rule)' in \(paths.joined(separator: " "))\(hint)")
        }
        let inv = PolicyInput.inventory(inventory)
        guard inv.deviceIndex[device] != nil else { Self.failUsage("device '\(device)' is not in \(inventory)") }
        var engine = Engine(plan: plan, inventory: inv)
        let time = at.flatMap(Timestamp.parse)
        do {
            if let time {
                try Replay.run(&engine, files: telemetry, until: time)
            } else {
                try Replay.run(&engine, files: telemetry)
            }
        } catch {
            FileHandle.standardError.write(Data("error: \(CheckCommand.describe(error))\n".utf8))
            throw ExitCode(1)
        }
        do {
            let explanation = try engine.explain(rule: rule, device: device, at: time)
            switch format {
            case .text: print(explanation.text(), terminator: "")
            case .json: print(explanation.json().serialized(pretty: true))
            }
        } catch {
            Self.failUsage(error.description)
        }
    }
}
