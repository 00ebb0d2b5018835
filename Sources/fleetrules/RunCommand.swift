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

    @OptionGroup var policy: PolicyPaths

    @OptionGroup var telemetry: TelemetryOption

    @OptionGroup var inventory: InventoryOption

    @OptionGroup var gateways: GatewaysOption

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

    @OptionGroup var delivery: DeliveryOptions

    @Option(help: "With --deliver: stop waiting for retries and escalations after this long.")
    var deliverTimeout: String = "2m"

    func validate() throws {
        if DurationText.seconds(deliverTimeout) == nil {
            throw ValidationError("--deliver-timeout must be a duration such as 2m")
        }
    }

    func run() async throws {
        telemetry.requireFiles()
        let deliveryConfig = delivery.config()
        let (policy, _) = self.policy.load()
        let plan = policy.compile(lateness: lateness.seconds)
        let inv = gateways.apply(to: inventory.load())
        var engine = Engine(plan: plan, inventory: inv)
        engine.forecastHistory = forecastHistory
        let bar = ProgressBar()
        do {
            try Replay.run(&engine, files: telemetry.telemetry, progress: bar.update)
        } catch {
            bar.done()
            FileHandle.standardError.write(Data("error: \(CheckCommand.describe(error))\n".utf8))
            throw ExitCode(1)
        }
        bar.done()
        if let deliveryConfig {
            try await deliver(engine.drainAlerts(), inventory: inv, config: deliveryConfig)
        }
        let report = engine.report(schedule: schedule.options(policy: plan.policy.schedule))
        let chosen = format ?? (out == nil && isatty(STDOUT_FILENO) == 1 ? .table : .json)
        guard ReportFormat.write(report, as: chosen, to: out) else { throw ExitCode(1) }
        if let out {
            FileHandle.standardError.write(
                Data(
                    "wrote \(out): \(report.alerts.count) alerts, \(report.input.readings) readings, \(report.input.rejectedTotal) rejected\n"
                        .utf8))
        }
        if strict && report.input.rejectedTotal > 0 {
            FileHandle.standardError.write(
                Data("error: \(report.input.rejectedTotal) readings rejected (--strict)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// Routes the run's alerts into the outbox, then delivers until done or the timeout.
    func deliver(_ events: [AlertEvent], inventory: Inventory, config: DeliveryConfig) async throws {
        let (pipeline, path) = try delivery.pipeline(config)
        let added = try pipeline.route(events, inventory: inventory, final: true)
        let st = pipeline.stats
        stderr(
            "delivery: \(st.events) alert changes, \(st.silenced) silenced, \(st.inhibited) inhibited, \(st.muted) muted, "
                + "\(st.notifications) notifications; \(added) new outbox messages in \(path)")
        let seconds = DurationText.seconds(deliverTimeout) ?? 120
        let drained = try await pipeline.drain(within: seconds)
        stderr("delivery: \(drained)")
    }
}
