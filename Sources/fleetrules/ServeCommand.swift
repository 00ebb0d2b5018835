import ArgumentParser
import FleetRules
import FleetRulesDelivery
import FleetRulesServer
import Foundation
import Logging

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the engine as an HTTP service: ingest telemetry, query alerts, reload rules.",
        discussion: """
            Prints `listening on HOST:PORT` on stdout once it accepts connections (--port 0 picks
            a free port). Logs go to stderr, one line per request with its request id.
            SIGHUP reloads the rules from --rules; SIGTERM or SIGINT stops gracefully. See
            docs/SERVER.md and docs/openapi.json.

            Example:
              fleetrules serve --rules rules/ --inventory examples/fleet/inventory.csv --port 8080

            Live ingest from an MQTT broker (QoS 1, persistent session; docs/SERVER.md):
              fleetrules serve --rules rules/ --inventory examples/fleet/inventory.csv --state-dir .fleetrules/state \
                --mqtt mqtt://127.0.0.1:1883 --mqtt-topic 'fleet/{site}/{device}/telemetry'
            """
    )

    @Option(name: .long, parsing: .upToNextOption, help: "Policy files or folders.")
    var rules: [String]

    @OptionGroup var inventory: InventoryOption

    @OptionGroup var gateways: GatewaysOption

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port).")
    var port: Int = 8080

    @Option(help: "Directory for the readings journal, so windows and pending `for` timers survive a restart.")
    var stateDir: String?

    @Option(help: "File holding the bearer token required by the write endpoints.")
    var tokenFile: String?

    @OptionGroup var delivery: DeliveryOptions

    @Option(
        help: """
            When the journal and the delivery state are fsynced: always (before an ingest is \
            answered or PUBACKed), batch (at most once a second) or none.
            """)
    var journalSync: String = "batch"

    @Option(help: "At shutdown, keep delivering what the outbox holds for at most this long.")
    var deliverFlush: String = "10s"

    @Option(help: "Largest request body accepted, in bytes (larger ones get 413).")
    var maxBody: Int = 16 << 20

    @Option(help: "Most bytes of recent readings kept for reloads and restarts.")
    var journalMax: Int = 256 << 20

    @Option(
        help: """
            Close a connection on which no request starts within this time, or whose request \
            does not arrive whole within it.
            """)
    var idleTimeout: String = "60s"

    @Option(
        help: """
            Connections served at once; more are answered 503 (default: what `ulimit -n` leaves \
            after a reserve for files, \(ConnectionLimits.defaultMaxConnections()) here).
            """)
    var maxConnections: Int?

    @OptionGroup var lateness: LatenessOption

    @OptionGroup(title: "MQTT ingest") var mqtt: MQTTServeOptions

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    @Option(help: "Log format: text (key=value) or json (one object per line).")
    var logFormat: ServeConfiguration.LogFormat = .text

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard maxBody > 0, journalMax > 0 else {
            throw ValidationError("--max-body and --journal-max must be positive")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown --log-level '\(logLevel)'")
        }
        if DurationText.seconds(deliverFlush) == nil {
            throw ValidationError("--deliver-flush must be a duration such as 10s")
        }
        guard let idle = DurationText.seconds(idleTimeout), idle >= 0.001, idle <= 86_400 else {
            throw ValidationError("--idle-timeout must be a duration from 1ms to 1d, such as 60s")
        }
        if let maxConnections, maxConnections < 1 { throw ValidationError("--max-connections must be positive") }
        if SyncMode(rawValue: journalSync) == nil {
            throw ValidationError("--journal-sync must be always, batch or none")
        }
    }

    func run() async throws {
        var configuration = ServeConfiguration(rulePaths: rules, inventory: gateways.apply(to: inventory.load()))
        configuration.server.host = host
        configuration.server.port = port
        configuration.server.maxBodyBytes = maxBody
        configuration.server.idleTimeout = .milliseconds(
            Int64(((DurationText.seconds(idleTimeout) ?? 60) * 1000).rounded()))
        if let maxConnections { configuration.server.maxConnections = maxConnections }
        configuration.tokenFile = tokenFile
        configuration.stateDirectory = stateDir
        configuration.journalMaxBytes = journalMax
        configuration.journalSync = SyncMode(rawValue: journalSync) ?? .batch
        configuration.lateness = lateness.seconds
        configuration.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        configuration.logFormat = logFormat
        configuration.delivery = delivery.config().map {
            ServeConfiguration.Delivery(
                config: $0,
                // With --state-dir and no other outbox, the outbox lives in the state directory.
                outboxPath: delivery.outbox ?? $0.outbox.path ?? stateDir.map { "\($0)/outbox.sqlite" }
                    ?? DeliveryInput.defaultOutbox, flushWithin: DurationText.seconds(deliverFlush) ?? 10)
        }
        configuration.mqtt = mqtt.settings()
        do {
            try await FleetRulesService.run(configuration) { host, port in
                FileHandle.standardOutput.write(Data("listening on \(host):\(port)\n".utf8))
            }
        } catch {
            switch error {
            case .usage(let message):
                Self.failUsage(message)
            case .policy(let check):
                let renderer = DiagnosticRenderer(sources: check.sources, color: isatty(STDERR_FILENO) == 1)
                FileHandle.standardError.write(Data(renderer.text(check.diagnostics).utf8))
                FileHandle.standardError.write(Data((check.summary + "\n").utf8))
            case .start(let error):
                stderr("error: \(CheckCommand.describe(error))")
            case .outbox(let path, let error):
                stderr("error: cannot open the outbox \(path): \(error)")
            case .serve(let error):
                stderr("error: \(error)")
            }
            throw ExitCode(1)
        }
    }
}

extension ServeConfiguration.LogFormat: ExpressibleByArgument {}
