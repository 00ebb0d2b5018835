import ArgumentParser
import FleetRules
import FleetRulesDelivery
import FleetRulesMocks
import Foundation

func stderr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

enum DeliveryInput {
    static let defaultOutbox = ".fleetrules/outbox.sqlite"

    /// The checked config, or exit 1 with the diagnostics.
    static func load(_ path: String) -> DeliveryConfig {
        let check = DeliveryLoader.check(path: path)
        guard let config = check.config else {
            let renderer = DiagnosticRenderer(sources: [path: check.source], color: false)
            FileHandle.standardError.write(Data((renderer.text(check.diagnostics) + "\n").utf8))
            stderr("error: \(path) has errors; nothing delivered")
            Foundation.exit(1)
        }
        return config
    }

    static func outbox(_ path: String) -> Outbox {
        do {
            return try Outbox(path: path)
        } catch {
            stderr("error: cannot open the outbox \(path): \(error)")
            Foundation.exit(1)
        }
    }

    /// Opens the outbox at `path` for `config`, or exits 1 saying why it cannot.
    static func pipeline(_ config: DeliveryConfig, outbox path: String) throws -> DeliveryPipeline {
        do {
            return try DeliveryPipeline(config: config, outboxPath: path)
        } catch {
            stderr("error: cannot open the outbox \(path): \(error)")
            throw ExitCode(1)
        }
    }
}

struct WebhookReceiverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook-receiver",
        abstract: "A small webhook receiver that verifies signatures and stores what it got (demos, tests).",
        discussion: """
            Accepts POSTs on any path, verifies the Standard Webhooks headers (webhook-id,
            webhook-timestamp, webhook-signature) with --secret, answers 401 to bad signatures,
            and appends each accepted message to --store as a JSON line. GET /received lists the
            ids. --inject answers the first requests with the given faults, in order.

            Example:
              fleetrules webhook-receiver --port 8080 --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw \\
                  --store received.jsonl --inject 500,429,timeout
            """)

    @Option(help: "Port on 127.0.0.1 (0 picks a free one; the chosen port is printed).")
    var port: Int = 8080

    @Option(help: "The signing secret (whsec_… base64, or plain text).")
    var secret: String

    @Option(help: "Append accepted messages to this JSON Lines file.")
    var store: String?

    @Option(help: "Faults for the first requests, comma-separated: an HTTP status or `timeout`.")
    var inject: String?

    @Option(help: "Wait this long before answering each request, e.g. 20ms.")
    var delay: String = "0s"

    @Option(help: "How long an injected timeout holds the request.")
    var hold: String = "5s"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        if let inject, inject.split(separator: ",").contains(where: { Injection(String($0)) == nil }) {
            throw ValidationError("--inject takes HTTP statuses and `timeout`, e.g. 500,429,timeout")
        }
        if DurationText.seconds(delay) == nil && delay != "0s" {
            throw ValidationError("--delay must be a duration such as 20ms")
        }
        if DurationText.seconds(hold) == nil { throw ValidationError("--hold must be a duration such as 5s") }
    }

    func run() async throws {
        let receiver = WebhookReceiver(
            secret: secret, storePath: store,
            inject: (inject ?? "").split(separator: ",").compactMap { Injection(String($0)) },
            delay: delay == "0s" ? 0 : DurationText.seconds(delay) ?? 0, holdSeconds: DurationText.seconds(hold) ?? 5)
        try await receiver.run(port: port)
    }
}

struct SMSGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sms-gateway",
        abstract: "A mock SMS provider with an HTTP API, persisting what it received (demos, tests).",
        discussion: """
            POST /messages {to, text, encoding, segments, reference} sends; GET /messages lists;
            GET /receipts gives delivery receipts; POST /inbound {from, text} simulates a reply
            from a phone (e.g. "ACK 4821"); GET /inbound?after=N lists replies after sequence N.

            Example:
              fleetrules sms-gateway --port 8090 --store sms.jsonl
              curl -d '{"from":"+4915112345678","text":"ACK 4821"}' http://127.0.0.1:8090/inbound
            """)

    @Option(help: "Port on 127.0.0.1 (0 picks a free one; the chosen port is printed).")
    var port: Int = 8090

    @Option(help: "Persist messages and replies to this JSON Lines file (reloaded on start).")
    var store: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
    }

    func run() async throws {
        let gateway = SMSGateway(storePath: store)
        try await gateway.run(port: port)
    }
}

struct OutboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "Inspect and repair the delivery outbox: list, retry dead letters, purge, deliver.",
        subcommands: [List.self, Retry.self, Purge.self, Deliver.self])

    struct Location: ParsableArguments {
        @Option(help: "The outbox database.")
        var outbox: String = DeliveryInput.defaultOutbox

        func open() -> Outbox {
            if !FileManager.default.fileExists(atPath: outbox) { Self.failUsage("\(outbox): no outbox here") }
            return DeliveryInput.outbox(outbox)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List outbox messages (all, or one status).")
        @OptionGroup var location: Location
        @Option(help: "Only this status: pending, waiting, delivered, dead or cancelled.")
        var status: String?
        @Option(help: "text or json")
        var format: String = "text"

        func run() throws {
            var filter: OutboxMessage.Status?
            if let status {
                guard let s = OutboxMessage.Status(rawValue: status) else {
                    Self.failUsage(
                        "--status must be one of \(OutboxMessage.Status.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                filter = s
            }
            let box = location.open()
            let messages = try box.list(status: filter)
            if format == "json" {
                print(JSONValue.array(messages.map { $0.json() }).serialized(pretty: true))
                return
            }
            for m in messages {
                let error = m.lastError.map { "  \($0)" } ?? ""
                print(
                    "\(m.id)  \(m.status.rawValue)  \(m.channel.rawValue) \(m.receiver) → \(m.target)  attempts \(m.attempts)\(error)"
                )
            }
            let counts = try box.counts()
            print(OutboxMessage.Status.allCases.map { "\(counts[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", "))
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give dead letters (or one of them) a fresh retry budget.")
        @OptionGroup var location: Location
        @Option(help: "Only this message id.")
        var id: String?

        func run() throws {
            let n = try location.open().retry(id: id, now: Date().timeIntervalSince1970)
            print("\(n) message\(n == 1 ? "" : "s") back to pending")
        }
    }

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete delivered and cancelled messages (and dead ones with --dead).")
        @OptionGroup var location: Location
        @Flag(help: "Also delete dead letters.")
        var dead = false

        func run() throws {
            let n = try location.open().purge(dead: dead)
            print("purged \(n) message\(n == 1 ? "" : "s")")
        }
    }

    struct Deliver: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send what the outbox holds (after a retry, say) and exit.")
        @OptionGroup var location: Location
        @Option(help: "The delivery configuration (receivers' URLs and secrets).")
        var delivery: String
        @Option(help: "Stop waiting for retries and escalations after this long.")
        var timeout: String = "2m"

        func run() async throws {
            let config = DeliveryInput.load(delivery)
            let pipeline = DeliveryPipeline(config: config, outbox: location.open())
            let seconds = DurationText.seconds(timeout) ?? 120
            let drained = try await pipeline.drain(within: seconds)
            stderr(drained.description)
            if drained.pending > 0 { throw ExitCode(1) }
        }
    }
}
