import ArgumentParser
import FleetRules
import FleetRulesDelivery
import Foundation

struct RunCommand: AsyncParsableCommand {
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

    @Option(help: "Gateways CSV for balance rules (gateway,site,capacity).")
    var gateways: String?

    @Option(help: "Write the report here instead of stdout.")
    var out: String?

    @Option(help: "Report format: json, table, csv, ical or html (default: table on a terminal, else json).")
    var format: ReportFormat?

    @OptionGroup(title: "Maintenance schedule")
    var schedule: ScheduleFlags

    @OptionGroup var lateness: LatenessOption

    @Flag(help: "Keep a daily forecast per device in the report's `forecasts` (for scoring and trend plots).")
    var forecastHistory = false

    @Flag(help: "Exit 1 when any input was rejected.")
    var strict = false

    @Option(help: "Deliver the alerts as this delivery configuration routes them (docs/DELIVERY.md).")
    var deliver: String?

    @Option(help: "The outbox database for --deliver (default: the config's outbox path, else .fleetrules/outbox.sqlite).")
    var outbox: String?

    @Option(help: "With --deliver: stop waiting for retries and escalations after this long.")
    var deliverTimeout: String = "2m"

    func validate() throws {
        if telemetry.isEmpty { throw ValidationError("give at least one --telemetry file") }
        if DurationText.seconds(deliverTimeout) == nil { throw ValidationError("--deliver-timeout must be a duration such as 2m") }
        if outbox != nil && deliver == nil { throw ValidationError("--outbox needs --deliver") }
    }

    func run() async throws {
        for path in telemetry where path != "-" && !FileManager.default.fileExists(atPath: path) {
            Self.failUsage("\(path): no such telemetry file")
        }
        let delivery = deliver.map(DeliveryInput.load)
        let (policy, _) = PolicyInput.load(paths)
        let plan = policy.compile(lateness: lateness.seconds)
        var inv = PolicyInput.inventory(inventory)
        if let gateways { inv.gateways = PolicyInput.gateways(gateways) }
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
        if let delivery {
            try await Self.deliver(engine.drainAlerts(), inventory: inv, config: delivery, outbox: outbox, timeout: deliverTimeout)
        }
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

    /// Routes the run's alerts into the outbox, then delivers until done or the timeout.
    static func deliver(
        _ events: [AlertEvent], inventory: Inventory, config: DeliveryConfig, outbox: String?, timeout: String
    ) async throws {
        let path = outbox ?? config.outbox.path ?? DeliveryInput.defaultOutbox
        let pipeline = try DeliveryInput.pipeline(config, outbox: path)
        let added = try pipeline.route(events, inventory: inventory, final: true)
        let st = pipeline.stats
        stderr(
            "delivery: \(st.events) alert changes, \(st.silenced) silenced, \(st.inhibited) inhibited, "
                + "\(st.notifications) notifications; \(added) new outbox messages in \(path)")
        let seconds = DurationText.seconds(timeout) ?? 120
        let drained = try await pipeline.drain(within: seconds)
        stderr("delivery: \(drained)")
    }
}
