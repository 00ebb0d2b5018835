import FleetRules
import FleetRulesDelivery
import FleetRulesMQTT
import Foundation
import Logging

/// Everything `fleetrules serve` starts from: the rules and inventory, the HTTP server's
/// settings, the files it reads and writes, logging, and the optional delivery and MQTT ingest.
/// `FleetRulesService.run` turns it into a running service.
public struct ServeConfiguration: Sendable {
    public enum LogFormat: String, Sendable, CaseIterable {
        /// key=value lines on stderr.
        case text
        /// One JSON object per line on stderr.
        case json
    }

    /// Alert delivery: the checked configuration, the outbox file, and how long the outbox may
    /// keep sending at shutdown (seconds).
    public struct Delivery: Sendable {
        public var config: DeliveryConfig
        public var outboxPath: String
        public var flushWithin: Double

        public init(config: DeliveryConfig, outboxPath: String, flushWithin: Double) {
            self.config = config
            self.outboxPath = outboxPath
            self.flushWithin = flushWithin
        }
    }

    /// Live ingest from a broker; `maxPayload` is the server's `maxBodyBytes`.
    public struct MQTT: Sendable {
        public var endpoint: MQTTEndpoint
        public var topics: [TopicTemplate]
        /// nil: derived from the state directory, stable across restarts.
        public var clientID: String?
        /// A file holding the broker password, read at start (instead of the URL's).
        public var passwordFile: String?
        public var tls = MQTTTransport.TLS()
        public var keepAlive: UInt16 = 30

        public init(endpoint: MQTTEndpoint, topics: [TopicTemplate]) {
            self.endpoint = endpoint
            self.topics = topics
        }
    }

    public var rulePaths: [String]
    public var inventory: Inventory
    /// The HTTP server; its `token` comes from `tokenFile`.
    public var server = FleetRulesServer.Configuration()
    /// A file holding the bearer token of the write endpoints.
    public var tokenFile: String?
    /// The readings journal's directory, created when missing (nil: no journal on disk).
    public var stateDirectory: String?
    public var journalMaxBytes = 256 << 20
    /// When the journal and the delivery database are flushed to disk (docs/SERVER.md).
    public var journalSync: SyncMode = .batch
    /// How far out of order readings may arrive, in seconds.
    public var lateness = 300.0
    public var logLevel: Logger.Level = .info
    public var logFormat: LogFormat = .text
    public var delivery: Delivery?
    public var mqtt: MQTT?

    public init(rulePaths: [String], inventory: Inventory) {
        self.rulePaths = rulePaths
        self.inventory = inventory
    }
}

/// Why `FleetRulesService.run` did not start or stopped.
public enum ServeFailure: Error {
    /// A file or folder the configuration names cannot be used.
    case usage(String)
    /// The rules have errors.
    case policy(PolicyCheck)
    /// The engine could not start (its rules or journal could not be read).
    case start(any Error)
    /// The outbox cannot be opened.
    case outbox(path: String, any Error)
    /// A service failed while running (the server cannot bind, say); the rest were shut down.
    case serve(any Error)
}

/// The process behind `fleetrules serve`.
public enum FleetRulesService {
    /// Sets up logging (stderr, once per process) and metrics, reads the token and password
    /// files, creates the state directory, starts the engine host and its delivery and MQTT
    /// ingest, and serves until SIGTERM or SIGINT (`FleetRulesServer.run`). `onListening` gets
    /// the address and the bound port once the server accepts connections.
    public static func run(
        _ configuration: ServeConfiguration, onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void
    ) async throws(ServeFailure) {
        bootstrapLogging(level: configuration.logLevel, format: configuration.logFormat)
        let logger = Logger(label: "fleetrules")
        var server = configuration.server
        warnAboutDescriptors(maxConnections: server.maxConnections, logger: logger)
        if let tokenFile = configuration.tokenFile { server.token = try token(from: tokenFile) }
        var stateURL: URL?
        if let path = configuration.stateDirectory { stateURL = try stateDirectory(path) }
        let registry = FleetRulesServer.bootstrapMetrics()
        let settings = EngineHost.Settings(
            rulePaths: configuration.rulePaths, inventory: configuration.inventory, lateness: configuration.lateness,
            stateDir: stateURL, journalMaxBytes: configuration.journalMaxBytes, journalSync: configuration.journalSync)
        let host: EngineHost
        do {
            host = try EngineHost.start(settings: settings, logger: logger)
        } catch EngineHost.StartError.policy(let check) {
            throw .policy(check)
        } catch {
            throw .start(error)
        }
        // Silences, acknowledgements and the routing state live in the outbox's database; with
        // a state directory and no delivery, that is outbox.sqlite in the state directory.
        let sync = configuration.journalSync
        let controlsPath =
            configuration.delivery?.outboxPath ?? configuration.stateDirectory.map { "\($0)/outbox.sqlite" }
        var delivery: DeliveryService?
        do {
            let controls = try DeliveryControls(path: controlsPath, sync: sync)
            server.controls = controls
            if let d = configuration.delivery {
                delivery = DeliveryService(
                    pipeline: try DeliveryPipeline(
                        config: d.config, outbox: try Outbox(path: d.outboxPath, sync: sync), controls: controls,
                        keepState: configuration.stateDirectory != nil),
                    inventory: configuration.inventory, flushWithin: d.flushWithin, host: host, logger: logger)
            }
        } catch {
            throw .outbox(path: controlsPath ?? "", error)
        }
        var ingest: MQTTIngest?
        if let mqtt = configuration.mqtt {
            ingest = MQTTIngest(
                settings: try ingestSettings(mqtt, stateDir: stateURL, maxPayload: server.maxBodyBytes), host: host,
                logger: logger)
        }
        if let status = ingest?.status { server.readiness = { status.readiness() } }
        let service = FleetRulesServer(configuration: server, host: host, registry: registry, logger: logger)
        let bind = server.host
        do {
            try await service.run(delivery: delivery, mqtt: ingest) { port in onListening(bind, port) }
        } catch {
            throw .serve(error)
        }
    }

    /// Logs go to stderr as key=value text or JSON lines, at `level` and above.
    static func bootstrapLogging(level: Logger.Level, format: ServeConfiguration.LogFormat) {
        LoggingSystem.bootstrap { label in
            if format == .json { return JSONLogHandler(label: label, level: level) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// More connections than the descriptor limit leaves sockets for: fewer are served.
    static func warnAboutDescriptors(maxConnections: Int, logger: Logger) {
        let budget = ConnectionLimits.socketBudget()
        guard maxConnections + ConnectionLimits.overflow(maxConnections: maxConnections) > budget else { return }
        logger.warning(
            """
            --max-connections is over what the descriptor limit leaves for sockets: at most \
            max_connections are served at once; raise `ulimit -n` to serve more
            """,
            metadata: [
                "descriptor_limit": "\(ConnectionLimits.descriptorLimit())", "sockets": "\(budget)",
                "max_connections": "\(ConnectionLimits.servedConnections(maxConnections: maxConnections))",
            ])
    }

    /// The bearer token: the file's text without surrounding white space.
    static func token(from path: String) throws(ServeFailure) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .usage("\(path): cannot read the token file")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if token.isEmpty { throw .usage("\(path): the token file is empty") }
        return token
    }

    /// The state directory, created when missing.
    static func stateDirectory(_ path: String) throws(ServeFailure) -> URL {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .usage("\(path): cannot create the state directory: \(error.localizedDescription)")
        }
        return URL(fileURLWithPath: path)
    }

    /// The subscriber's settings, with the password file read and the default client id.
    static func ingestSettings(_ mqtt: ServeConfiguration.MQTT, stateDir: URL?, maxPayload: Int) throws(ServeFailure)
        -> MQTTIngest.Settings
    {
        var endpoint = mqtt.endpoint
        if let passwordFile = mqtt.passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw .usage("\(passwordFile): cannot read the MQTT password file")
            }
            endpoint.password = text.trimmingCharacters(in: .newlines)
        }
        var settings = MQTTIngest.Settings(
            endpoint: endpoint, topics: mqtt.topics,
            clientID: mqtt.clientID ?? MQTTIngest.defaultClientID(stateDir: stateDir))
        settings.tls = mqtt.tls
        settings.keepAlive = mqtt.keepAlive
        settings.maxPayload = maxPayload
        return settings
    }
}
