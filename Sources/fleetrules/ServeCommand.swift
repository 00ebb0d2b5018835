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

            Silences and acknowledgements at run time (docs/SERVER.md): `fleetrules silence
            add|query|expire --server URL`, POST /v1/alerts/{id}/ack.

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
    var logFormat: LogFormat = .text

    enum LogFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

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
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = logFormat == .json
        LoggingSystem.bootstrap { label in
            if json { return JSONLogHandler(label: label, level: level) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "fleetrules")
        var config = FleetRulesServer.Configuration()
        config.host = host
        config.port = port
        config.maxBodyBytes = maxBody
        config.idleTimeout = .milliseconds(Int64(((DurationText.seconds(idleTimeout) ?? 60) * 1000).rounded()))
        if let maxConnections {
            config.maxConnections = maxConnections
            let budget = ConnectionLimits.socketBudget()
            if maxConnections + ConnectionLimits.overflow(maxConnections: maxConnections) > budget {
                logger.warning(
                    """
                    --max-connections is over what the descriptor limit leaves for sockets: accepting may \
                    fail (EMFILE) and files may fail to open; raise `ulimit -n` or lower --max-connections
                    """,
                    metadata: ["descriptor_limit": "\(ConnectionLimits.descriptorLimit())", "sockets": "\(budget)"])
            }
        }
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                Self.failUsage("\(tokenFile): cannot read the token file")
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if token.isEmpty { Self.failUsage("\(tokenFile): the token file is empty") }
            config.token = token
        }
        let inv = gateways.apply(to: inventory.load())
        let sync = SyncMode(rawValue: journalSync) ?? .batch
        var stateURL: URL?
        if let stateDir {
            do {
                try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
            } catch {
                Self.failUsage("\(stateDir): cannot create the state directory: \(error.localizedDescription)")
            }
            stateURL = URL(fileURLWithPath: stateDir)
        }
        let registry = FleetRulesServer.bootstrapMetrics()
        let settings = EngineHost.Settings(
            rulePaths: rules, inventory: inv, lateness: lateness.seconds, stateDir: stateURL,
            journalMaxBytes: journalMax, journalSync: sync)
        let host: EngineHost
        do {
            host = try EngineHost.start(settings: settings, logger: logger)
        } catch EngineHost.StartError.policy(let check) {
            let renderer = DiagnosticRenderer(sources: check.sources, color: isatty(STDERR_FILENO) == 1)
            FileHandle.standardError.write(Data(renderer.text(check.diagnostics).utf8))
            FileHandle.standardError.write(Data((check.summary + "\n").utf8))
            throw ExitCode(1)
        } catch {
            FileHandle.standardError.write(Data("error: \(CheckCommand.describe(error))\n".utf8))
            throw ExitCode(1)
        }
        var serveDelivery: ServeDelivery?
        let deliveryConfig = delivery.config()
        // Silences, acknowledgements and the routing state live in the outbox's database; with
        // --state-dir and no other outbox, that is outbox.sqlite in the state directory.
        let inState = stateDir.map { "\($0)/outbox.sqlite" }
        let controlsPath =
            deliveryConfig.map { delivery.outbox ?? $0.outbox.path ?? inState ?? DeliveryInput.defaultOutbox }
            ?? inState
        do {
            let controls = try DeliveryControls(path: controlsPath, sync: sync)
            config.controls = controls
            if let deliveryConfig, let controlsPath {
                let pipeline = try DeliveryPipeline(
                    config: deliveryConfig, outbox: try Outbox(path: controlsPath, sync: sync),
                    controls: controls, keepState: stateDir != nil)
                serveDelivery = ServeDelivery(
                    pipeline: pipeline, inventory: inv, flushWithin: DurationText.seconds(deliverFlush) ?? 10)
            }
        } catch {
            Self.failUsage("cannot open the delivery state \(controlsPath ?? ""): \(error)")
        }
        let ingest = mqtt.ingest(host: host, stateDir: stateURL, maxPayload: maxBody, logger: logger)
        if let status = ingest?.status { config.readiness = { status.readiness() } }
        let server = FleetRulesServer(configuration: config, host: host, registry: registry, logger: logger)
        let bind = config.host
        do {
            try await server.run(delivery: serveDelivery, mqtt: ingest) { port in
                FileHandle.standardOutput.write(Data("listening on \(bind):\(port)\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
