import Foundation
import Testing

/// The `mqtt:` receiver: notifications published to a real Mosquitto broker through the outbox.
@Suite(.serialized, .enabled(if: MosquittoBroker.available, "Mosquitto is not installed: run `make mqtt-deps`"))
struct MQTTDeliveryTests {
    static func config(url: String, extra: String = "") -> String {
        """
        delivery: 1
        outbox:
          max_attempts: 50
          backoff: { initial: 100ms, max: 1s }
        receivers:
          - name: alerts-bus
            mqtt:
              url: \(url)
              topic: "fleet/alerts/{site}/{rule}"
              qos: 1
              retain: false
        \(extra)route:
          receiver: alerts-bus
          group_by: [rule, device]
          group_wait: 0s

        """
    }

    /// Every notification arrives once, on the topic its labels name, with the webhook body;
    /// the outbox lists them as delivered on the `mqtt` channel.
    @Test func notificationsArePublishedThroughTheOutbox() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let session = "alerts-\(UUID().uuidString)"
        try broker.openSession(session, filter: "fleet/alerts/#")
        let fleet = try DeliveryFixture.smallFleet()
        let config = try CLI.temporaryFile("d.yaml", Self.config(url: broker.url))
        let outbox = config + ".sqlite"
        #expect(try CLI.run(["check", fleet.pack, "--delivery", config]).status == 0)
        let r = try CLI.run([
            "run", fleet.pack, "--telemetry", fleet.telemetry, "--inventory", fleet.inventory, "--out",
            config + ".report",
            "--deliver", config, "--outbox", outbox, "--deliver-timeout", "60s",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("delivered 3 in"), "\(r.stderr)")
        let received = try broker.collect(session, filter: "fleet/alerts/#", count: 3)
        #expect(received.count == 3)
        var ids: Set<String> = []
        for line in received {
            let parts = line.split(separator: " ", maxSplits: 1)
            let topic = String(parts.first ?? "")
            let body = try #require(
                try JSONSerialization.jsonObject(with: Data((parts.last ?? "").utf8)) as? [String: Any])
            let rule =
                ((body["alerts"] as? [[String: Any]])?.first?["labels"] as? [String: Any])?["rule"] as? String ?? "?"
            #expect(topic == "fleet/alerts/plant-a/\(rule)", "\(line)")
            #expect(body["receiver"] as? String == "alerts-bus")
            if let id = body["id"] as? String { ids.insert(id) }
        }
        let list = try CLI.run(["outbox", "list", "--outbox", outbox, "--format", "json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 3)
        #expect(rows.allSatisfy { $0["status"] as? String == "delivered" && $0["channel"] as? String == "mqtt" })
        #expect(Set(rows.compactMap { $0["id"] as? String }) == ids)
    }

    /// With the broker down the notifications stay pending and are retried; once it is up they
    /// are delivered, none lost.
    @Test func aBrokerThatIsDownIsRetriedUntilItIsUp() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let session = "alerts-\(UUID().uuidString)"
        try broker.openSession(session, filter: "fleet/alerts/#")
        broker.stop()
        let fleet = try DeliveryFixture.smallFleet()
        let config = try CLI.temporaryFile("d.yaml", Self.config(url: broker.url))
        let outbox = config + ".sqlite"
        let r = try CLI.run([
            "run", fleet.pack, "--telemetry", fleet.telemetry, "--inventory", fleet.inventory, "--out",
            config + ".report",
            "--deliver", config, "--outbox", outbox, "--deliver-timeout", "2s",
        ])
        #expect(r.stderr.contains("delivered 0 in"), "\(r.stderr)")
        let pending = try CLI.run(["outbox", "list", "--outbox", outbox, "--status", "pending"])
        #expect(pending.stdout.contains("3 pending"), "\(pending.stdout)")
        try await broker.start()
        let again = try CLI.run(["outbox", "deliver", "--outbox", outbox, "--delivery", config])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("delivered 3 in"), "\(again.stderr)")
        let received = try broker.collect(session, filter: "fleet/alerts/#", count: 3)
        #expect(received.count == 3)
    }

    @Test func checkDeliveryLocatesBadMQTTReceivers() throws {
        let fleet = try DeliveryFixture.smallFleet()
        for (receiver, message) in [
            ("url: http://127.0.0.1:1883\n      topic: a/b", "is not an mqtt:// or mqtts:// broker URL"),
            ("url: mqtt://127.0.0.1:1883\n      topic: a/+/b", "has a wildcard"),
            ("url: mqtt://127.0.0.1:1883\n      topic: a/x{site}", "not a whole level"),
            ("url: mqtt://127.0.0.1:1883\n      topic: a\n      qos: 2", "qos must be 0 or 1"),
            ("url: mqtt://127.0.0.1:1883", "topic"),
        ] {
            let yaml = """
                delivery: 1
                receivers:
                  - name: bus
                    mqtt:
                      \(receiver)
                route:
                  receiver: bus

                """
            let config = try CLI.temporaryFile("d.yaml", yaml)
            let r = try CLI.run(["check", fleet.pack, "--delivery", config])
            #expect(r.status != 0, "\(receiver)")
            #expect(r.stderr.contains(message) || r.stdout.contains(message), "\(r.stderr)\(r.stdout)")
            #expect(r.stderr.contains("d.yaml:") || r.stdout.contains("d.yaml:"), "\(r.stderr)")
        }
    }
}
