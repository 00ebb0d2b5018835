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

    @OptionGroup var policy: PolicyPaths

    @Option(help: "The device id.")
    var device: String

    @Option(help: "Event time to explain (RFC 3339); default: the end of the data.")
    var at: String?

    @OptionGroup var telemetry: TelemetryOption

    @OptionGroup var inventory: InventoryOption

    @OptionGroup var lateness: LatenessOption

    @Option(help: "Output: text or json.")
    var format: Format = .text

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    func validate() throws {
        if telemetry.telemetry.contains("-") { throw ValidationError("explain reads telemetry files, not stdin") }
        if let at, Timestamp.parse(at) == nil {
            throw ValidationError("--at must be an RFC 3339 timestamp such as 2026-03-03T12:00:00Z")
        }
    }

    func run() throws {
        telemetry.requireFiles()
        let (loaded, _) = policy.load()
        let plan = loaded.compile(lateness: lateness.seconds)
        guard plan.operators.contains(where: { $0.rule.id == rule }) else {
            let hint =
                Suggestion.closest(to: rule, in: plan.operators.map(\.rule.id)).map { "; did you mean '\($0)'?" } ?? ""
            Self.failUsage("no rule '\(rule)' in \(policy.paths.joined(separator: " "))\(hint)")
        }
        let inv = inventory.load()
        guard inv.deviceIndex[device] != nil else {
            Self.failUsage("device '\(device)' is not in \(inventory.inventory)")
        }
        var engine = Engine(plan: plan, inventory: inv)
        let time = at.flatMap(Timestamp.parse)
        do {
            if let time {
                try Replay.run(&engine, files: telemetry.telemetry, until: time)
            } else {
                try Replay.run(&engine, files: telemetry.telemetry)
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
