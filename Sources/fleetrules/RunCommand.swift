import ArgumentParser
import FleetRules
import Foundation

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Replay telemetry through the rules in event time and write the report.",
        discussion: """
            Telemetry is JSON Lines (one flat object per line) or CSV with a header; `-` reads
            stdin and `.gz` files are decompressed. Several files are merged in event time.
            Bad lines are counted per reason in the report's `input` section; --strict makes
            any rejection fail the run (exit 1).

            Example:
              fleetrules run rules/ --telemetry examples/fleet/telemetry.jsonl.gz \\
                  --inventory examples/fleet/inventory.csv --out report.json
            """
    )

    @Argument(help: "Policy files or folders.")
    var paths: [String]

    @Option(name: .long, parsing: .upToNextOption, help: "Telemetry files (JSON Lines or CSV, .gz allowed, - for stdin).")
    var telemetry: [String]

    @Option(help: "Inventory CSV (device,type,site,zone,gateway,reachable,firmware,criticality,power,…).")
    var inventory: String

    @Option(help: "Write the report here instead of stdout.")
    var out: String?

    @Option(help: "Report format: json, table, csv, ical or html (default: table on a terminal, else json).")
    var format: ReportFormat?

    @OptionGroup(title: "Maintenance schedule")
    var schedule: ScheduleFlags

    @Option(help: "How far out of order readings may arrive, e.g. 5m.")
    var lateness: String = "5m"

    @Flag(help: "Keep a daily forecast per device in the report's `forecasts` (for scoring and trend plots).")
    var forecastHistory = false

    @Flag(help: "Exit 1 when any input was rejected.")
    var strict = false

    func validate() throws {
        if telemetry.isEmpty { throw ValidationError("give at least one --telemetry file") }
        guard let l = DurationText.seconds(lateness), l >= 0 else {
            throw ValidationError("--lateness must be a duration such as 5m")
        }
    }

    func run() throws {
        for path in telemetry where path != "-" && !FileManager.default.fileExists(atPath: path) {
            Self.failUsage("\(path): no such telemetry file")
        }
        let (policy, _) = PolicyInput.load(paths)
        let plan = policy.compile(lateness: DurationText.seconds(lateness) ?? 300)
        let inv = PolicyInput.inventory(inventory)
        var engine = Engine(plan: plan, inventory: inv)
        engine.forecastHistory = forecastHistory
        let bar = ProgressBar()
        do {
            try Replay.run(&engine, files: telemetry, progress: bar.update)
        } catch {
            bar.done()
            FileHandle.standardError.write(Data("error: \(CheckCommand.describe(error))\n".utf8))
            throw ExitCode(1)
        }
        bar.done()
        let report = engine.report(schedule: schedule.options(policy: plan.policy.schedule))
        let chosen = format ?? (out == nil && isatty(STDOUT_FILENO) == 1 ? .table : .json)
        guard ReportFormat.write(report, as: chosen, to: out) else { throw ExitCode(1) }
        if let out {
            FileHandle.standardError.write(
                Data("wrote \(out): \(report.alerts.count) alerts, \(report.input.readings) readings, \(report.input.rejectedTotal) rejected\n".utf8))
        }
        if strict && report.input.rejectedTotal > 0 {
            FileHandle.standardError.write(Data("error: \(report.input.rejectedTotal) readings rejected (--strict)\n".utf8))
            throw ExitCode(1)
        }
    }
}
