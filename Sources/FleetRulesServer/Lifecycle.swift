import FleetRules
import FleetRulesDelivery
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

extension FleetRulesServer {
    /// Serves until SIGTERM or SIGINT, as one swift-service-lifecycle `ServiceGroup`:
    /// - the HTTP server (stopped first: it stops accepting, lets in-flight requests finish
    ///   and writes the journal out),
    /// - SIGHUP reloads of the rules from disk,
    /// - with `delivery`, the sender loop (stopped last: it routes the groups still open and
    ///   sends what the outbox holds for at most its `flushWithin` seconds).
    ///
    /// - with `mqtt`, the MQTT subscriber (stopped before the HTTP server, so nothing is
    ///   acknowledged to the broker after the journal's last checkpoint).
    ///
    /// `onListening` gets the bound port (useful with port 0). A server that fails (it cannot
    /// bind, say) shuts the rest down the same way, then its error is thrown.
    func run(
        delivery: DeliveryService?, mqtt: MQTTIngest? = nil, onListening: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws {
        let restored = await host.restoredReadings
        if restored > 0 { logger.info("state restored", metadata: ["readings": "\(restored)"]) }
        // Trapped before the server listens, so a SIGHUP right after `listening on` is not fatal.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        var services: [any Service] = []
        if let delivery {
            // Attached before the server listens, so no ingest's alerts pass delivery by.
            await delivery.attach()
            services.append(delivery)
        }
        services.append(ReloadOnHangup(signals: hangups, host: host, logger: logger))
        services.append(HTTPService(server: self, onListening: onListening))
        // Services stop in the reverse order: the subscriber first.
        if let mqtt { services.append(MQTTIngestService(ingest: mqtt)) }
        var configuration = ServiceGroupConfiguration(
            services: services.map {
                .init(
                    service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                    failureTerminationBehavior: .gracefullyShutdownGroup)
            },
            logger: logger)
        configuration.gracefulShutdownSignals = [.sigterm, .sigint]
        try await ServiceGroup(configuration: configuration).run()
    }
}

/// The HTTP server as a service; at graceful shutdown it finishes the requests in flight, then
/// checkpoints the journal.
struct HTTPService: Service, CustomStringConvertible {
    let server: FleetRulesServer
    let onListening: @Sendable (Int) -> Void

    var description: String { "http" }

    func run() async throws {
        try await server.application(onListening: onListening).run()
        try await server.host.checkpoint()
        server.logger.info("stopped")
    }
}

/// MQTT ingest as a service: subscribes and ingests until graceful shutdown.
struct MQTTIngestService: Service, CustomStringConvertible {
    let ingest: MQTTIngest

    var description: String { "mqtt" }

    func run() async throws {
        await cancelWhenGracefulShutdown { await ingest.run() }
    }
}

/// SIGHUP → reload the rules from disk; a rejected or unreadable pack leaves the running version.
struct ReloadOnHangup: Service, CustomStringConvertible {
    let signals: UnixSignalsSequence
    let host: EngineHost
    let logger: Logger

    var description: String { "sighup-reload" }

    func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            switch await host.reloadFromDisk(origin: "sighup") {
            case .reloaded(let version, _, _):
                logger.info("reloaded on SIGHUP", metadata: ["version": "\(version)"])
            case .rejected(let check):
                logger.error(
                    "SIGHUP reload rejected; the running version stays", metadata: ["errors": "\(check.errorCount)"])
            case .unreadable(let message):
                logger.error("SIGHUP reload failed: \(message)")
            case .noPreviousVersion:
                break
            }
        }
    }
}

/// Every ingest's alert changes are routed into the durable outbox at once; the pipeline's
/// sender loop delivers it while the service runs. At graceful shutdown (after the HTTP server
/// has stopped, so no ingest is in flight) the groups still open are routed and the outbox gets
/// `flushWithin` seconds to go out.
struct DeliveryService: Service, CustomStringConvertible {
    let pipeline: DeliveryPipeline
    /// The inventory alerts are routed with.
    let inventory: Inventory
    /// Seconds the outbox may keep sending at shutdown.
    let flushWithin: Double
    let host: EngineHost
    let logger: Logger

    var description: String { "delivery" }

    /// Hands the journal's replayed alerts and then every ingest's alert changes to the pipeline.
    func attach() async {
        let pipeline = self.pipeline
        let inventory = self.inventory
        let logger = self.logger
        // The journal's replay re-raised the alerts of before the restart: a restored routing
        // state has them already; without one they are routed again (to the same ids).
        let replayed = await host.takeRestoredAlerts()
        if pipeline.restored {
            logger.info("delivery state restored", metadata: ["replayed_alert_changes": "\(replayed.count)"])
        } else if !replayed.isEmpty {
            do {
                try pipeline.route(replayed, inventory: inventory)
            } catch {
                logger.error("delivery: cannot write the outbox", metadata: ["error": "\(error)"])
            }
        }
        await host.setAlertHandler { events, time in
            do {
                try pipeline.routeLive(events, eventTime: time, inventory: inventory)
            } catch {
                logger.error("delivery: cannot write the outbox", metadata: ["error": "\(error)"])
            }
        }
    }

    func run() async throws {
        let pipeline = self.pipeline
        let inventory = self.inventory
        let logger = self.logger
        let host = self.host
        await pipeline.sendContinuously(
            stop: { Task.isShuttingDownGracefully },
            afterRound: { pending in await host.setOutboxDepth(pending) },
            onError: { error in logger.error("delivery failed", metadata: ["error": "\(error)"]) })
        await host.setAlertHandler(nil)
        do {
            let drained = try await pipeline.finish(inventory: inventory, within: flushWithin)
            logger.info(
                "delivery flushed at shutdown",
                metadata: ["delivered": "\(drained.summary.delivered)", "pending": "\(drained.pending)"])
        } catch {
            logger.error("delivery flush failed", metadata: ["error": "\(error)"])
        }
    }
}
