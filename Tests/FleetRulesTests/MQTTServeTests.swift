import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `fleetrules serve --mqtt`: a real `serve` process subscribed to a real Mosquitto broker, fed by
/// `mosquitto_pub`.
@Suite(.serialized, .enabled(if: MosquittoBroker.available, "Mosquitto is not installed: run `make mqtt-deps`"))
struct MQTTServeTests {
    /// A pack whose 30-day window keeps every reading of these tests in the journal.
    static let longPack =
        ServeFixture.pack + """
              - alert: warm
                when: avg(temp, 30d) > 40
                severity: info

            """

    /// The counter or gauge `name` (with its labels, as written in the exposition) in `/metrics`.
    static func metric(_ server: ServeProcess, _ name: String) async throws -> Double {
        let text = try await server.get("/metrics").text
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1)) ?? -1
        }
        return 0
    }

    static func connected(_ server: ServeProcess) async throws -> Bool {
        let mqtt = try await server.get("/readyz").json["mqtt"] as? [String: Any]
        return mqtt?["state"] as? String == "connected"
    }

    static func readings(_ server: ServeProcess) async throws -> Int {
        try await server.get("/readyz").json["readings"] as? Int ?? -1
    }

    /// Polls `condition` every 100 ms for up to `seconds` (generous: the machine may be loaded).
    static func wait(_ seconds: Double = 180, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        return try await condition()
    }

    static func lines(_ count: Int, from minute: Int = 0) -> String {
        var out = ""
        for i in 0..<count {
            let device = i % 2 == 0 ? "d1" : "d2"
            out += ServeFixture.reading(minute + i / 2, device, 20 + Double(i % 7)) + "\n"
        }
        return out
    }

    /// The example fleet published one reading per message at QoS 1 gives the same report as
    /// `fleetrules run` over the same file, rejections included.
    @Test func theExampleFleetOverMQTTGivesTheReportOfRun() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let telemetry = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mqtt-fleet-\(UUID().uuidString).jsonl")
        let gz = CLI.repoRoot.appendingPathComponent("examples/fleet/telemetry.jsonl.gz").path
        let unzip = Process()
        unzip.executableURL = URL(fileURLWithPath: "/bin/sh")
        unzip.arguments = ["-c", "gzip -dc \"$0\" > \"$1\"", gz, telemetry.path]
        try unzip.run()
        unzip.waitUntilExit()
        let text = try String(contentsOf: telemetry, encoding: .utf8)
        let messages = text.split(separator: "\n", omittingEmptySubsequences: true).count
        let plain = try CLI.run([
            "run", "rules/", "--telemetry", telemetry.path, "--inventory", "examples/fleet/inventory.csv", "--format",
            "json",
        ])
        #expect(plain.status == 0, "\(plain.stderr)")

        let server = try ServeProcess([
            "--rules", "rules/", "--inventory", "examples/fleet/inventory.csv", "--mqtt", broker.url,
            "--mqtt-topic", "fleet/+/telemetry", "--mqtt-client-id", "parity-\(UUID().uuidString)",
        ])
        defer { server.stop() }
        #expect(try await Self.wait(60) { try await Self.connected(server) })
        #expect(try broker.publishLines(text, topic: "fleet/example/telemetry") == 0)
        let ingested = "fleetrules_mqtt_messages_total{outcome=\"ingested\"}"
        let all = try await Self.wait { try await Self.metric(server, ingested) == Double(messages) }
        let got = try await Self.metric(server, ingested)
        #expect(all, "\(got) of \(messages)")

        let served = try await server.get("/v1/report")
        #expect(served.status == 200)
        let a = try JSONSerialization.jsonObject(with: served.body) as? [String: Any]
        // Rejection examples name their origin: the file and line for `run`; "mqtt" and the line
        // within its message (always 1 here) for the service.
        var expected = try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any]
        var input = expected?["input"] as? [String: Any]
        let examples = (input?["examples"] as? [[String: Any]]) ?? []
        #expect(!examples.isEmpty)
        input?["examples"] = examples.map { e -> [String: Any] in
            var e = e
            e["file"] = "mqtt"
            e["line"] = 1
            return e
        }
        expected?["input"] = input
        // Compared as a Bool: a failure writes both reports out rather than rendering them here.
        let same = a.map { NSDictionary(dictionary: $0) } == expected.map { NSDictionary(dictionary: $0) }
        if !same {
            let dir = FileManager.default.temporaryDirectory
            try served.body.write(to: dir.appendingPathComponent("mqtt-parity-served.json"))
            try JSONSerialization.data(withJSONObject: expected ?? [:], options: [.prettyPrinted, .sortedKeys])
                .write(to: dir.appendingPathComponent("mqtt-parity-run.json"))
        }
        #expect(
            same, "the reports differ: see mqtt-parity-served.json and mqtt-parity-run.json in the temporary directory")
        let rejected = ((input?["rejected"] as? [String: Any]) ?? [:]).values.compactMap { $0 as? Int }.reduce(0, +)
        let mqttRejected = try await server.get("/metrics").text.split(separator: "\n")
            .filter { $0.hasPrefix("fleetrules_mqtt_rejected_total{") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
        #expect(Int(mqttRejected) == rejected || rejected == 0)
        #expect(server.stop() == 0)
        try? FileManager.default.removeItem(at: telemetry)
    }

    /// One object, an array, JSON Lines, a pretty-printed object, malformed and empty payloads;
    /// `{device}` in the topic fills the reading's device when the payload lacks it.
    @Test func payloadShapesPlaceholdersAndRejections() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let (rules, inventory) = try ServeFixture.files()
        let server = try ServeProcess([
            "--rules", rules, "--inventory", inventory, "--mqtt", broker.url,
            "--mqtt-topic", "fleet/{site}/{device}/telemetry", "--mqtt-topic", "gateways/+/bulk",
            "--mqtt-client-id", "shapes-\(UUID().uuidString)",
        ])
        defer { server.stop() }
        #expect(try await Self.wait(60) { try await Self.connected(server) })
        let r = ServeFixture.reading
        // The device comes from the topic.
        let noDevice = r(1, "d1", 20).replacingOccurrences(of: "\"device\":\"d1\",", with: "")
        try broker.publish(noDevice, topic: "fleet/s1/d1/telemetry")
        // The payload's own device wins over the topic's.
        try broker.publish(r(2, "d2", 21), topic: "fleet/s1/d1/telemetry")
        try broker.publish("[" + r(3, "d1", 22) + ",\n" + r(3, "d2", 23) + "]", topic: "gateways/g1/bulk")
        try broker.publish(r(4, "d1", 24) + "\n" + r(4, "d2", 25) + "\n", topic: "gateways/g1/bulk")
        try broker.publish(r(5, "d1", 26).replacingOccurrences(of: ",", with: ",\n  "), topic: "gateways/g1/bulk")
        try broker.publish("{\"ts\": oops}", topic: "gateways/g1/bulk")
        try broker.publish(
            r(6, "ghost", 20).replacingOccurrences(of: "\"device\":\"ghost\",", with: ""),
            topic: "fleet/s1/ghost/telemetry")
        try broker.publish(r(6, "d1", 999), topic: "gateways/g1/bulk")
        try broker.publish("", topic: "gateways/g1/bulk")
        #expect(
            try await Self.wait {
                try await Self.metric(server, "fleetrules_mqtt_messages_total{outcome=\"ingested\"}") == 9
            })
        #expect(try await Self.readings(server) == 7)
        #expect(try await Self.metric(server, "fleetrules_mqtt_readings_total") == 7)
        #expect(try await Self.metric(server, "fleetrules_mqtt_rejected_total{reason=\"malformed\"}") == 1)
        #expect(try await Self.metric(server, "fleetrules_mqtt_rejected_total{reason=\"unknown_device\"}") == 1)
        #expect(try await Self.metric(server, "fleetrules_mqtt_rejected_total{reason=\"out_of_range\"}") == 1)
        #expect(try await Self.metric(server, "fleetrules_readings_rejected_total{reason=\"malformed\"}") == 1)
        #expect(try await Self.metric(server, "fleetrules_mqtt_connected") == 1)
        let report = try await server.get("/v1/report").json
        let examples = ((report["input"] as? [String: Any])?["examples"] as? [[String: Any]]) ?? []
        #expect(examples.contains { $0["file"] as? String == "mqtt" && $0["reason"] as? String == "unknown_device" })
        let ready = try await server.get("/readyz").json["mqtt"] as? [String: Any]
        #expect(ready?["messages"] as? Int == 9)
        #expect(ready?["connections"] as? Int == 1)
        #expect(server.stop() == 0)
        #expect(server.log.contains("mqtt: subscribed"))
    }

    /// A 10 MB payload under the size limit is one malformed line; one over the limit is
    /// acknowledged unread and counted; the next message is ingested as usual.
    @Test func hugePayloadsAreCountedNotFatal() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let (rules, inventory) = try ServeFixture.files()
        let server = try ServeProcess([
            "--rules", rules, "--inventory", inventory, "--mqtt", broker.url, "--mqtt-topic", "t/{device}",
            "--max-body", "12000000", "--mqtt-client-id", "huge-\(UUID().uuidString)",
        ])
        defer { server.stop() }
        #expect(try await Self.wait(60) { try await Self.connected(server) })
        let ten = FileManager.default.temporaryDirectory.appendingPathComponent("mqtt-10mb-\(UUID().uuidString)")
        try Data(repeating: 0x78, count: 10 << 20).write(to: ten)
        let thirteen = FileManager.default.temporaryDirectory.appendingPathComponent("mqtt-13mb-\(UUID().uuidString)")
        try Data(repeating: 0x5B, count: 13 << 20).write(to: thirteen)
        defer {
            try? FileManager.default.removeItem(at: ten)
            try? FileManager.default.removeItem(at: thirteen)
        }
        #expect(try broker.publishFile(ten.path, topic: "t/d1") == 0)
        #expect(try broker.publishFile(thirteen.path, topic: "t/d1") == 0)
        #expect(try broker.publish(ServeFixture.reading(1, "d1", 20), topic: "t/d1") == 0)
        #expect(try await Self.wait { try await Self.readings(server) == 1 })
        #expect(try await Self.metric(server, "fleetrules_mqtt_rejected_total{reason=\"malformed\"}") == 1)
        #expect(try await Self.metric(server, "fleetrules_mqtt_messages_total{outcome=\"too_large\"}") == 1)
        #expect(try await Self.metric(server, "fleetrules_mqtt_connections_total") == 1)
        #expect(server.stop() == 0)
        #expect(server.log.contains("over the size limit"))
    }

    /// The broker stopped and started again while readings stream in: every message it accepted
    /// is in the engine exactly once.
    @Test func aBrokerRestartLosesAndDoublesNothing() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let (rules, inventory) = try ServeFixture.files(pack: Self.longPack)
        let server = try ServeProcess([
            "--rules", rules, "--inventory", inventory, "--mqtt", broker.url, "--mqtt-topic", "fleet/{device}",
            "--mqtt-client-id", "restart-\(UUID().uuidString)",
        ])
        defer { server.stop() }
        #expect(try await Self.wait(60) { try await Self.connected(server) })
        let first = Self.lines(6000)
        let second = Self.lines(6000, from: 3000)
        #expect(try broker.publishLines(first, topic: "fleet/x") == 0)
        // Mid-stream: the subscriber is still working through the first part.
        broker.stop()
        try await broker.start()
        #expect(try await Self.wait(60) { try await Self.metric(server, "fleetrules_mqtt_connected") == 1 })
        #expect(try broker.publishLines(second, topic: "fleet/x") == 0)
        #expect(try await Self.wait { try await Self.readings(server) >= 12000 })
        try await Task.sleep(nanoseconds: 1_000_000_000)
        #expect(try await Self.readings(server) == 12000)
        #expect(try await Self.metric(server, "fleetrules_mqtt_connections_total") >= 2)
        #expect(server.stop() == 0)
    }

    /// `serve` killed with SIGKILL mid-stream and started again with the same state directory
    /// (so the same client id): what it acknowledged is in its journal, what it had not is
    /// delivered again by the broker, which also kept what was published while it was down.
    @Test func killNineMidStreamThenRestartCountsEveryMessageOnce() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let (rules, inventory) = try ServeFixture.files(pack: Self.longPack)
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("mqtt-state-\(UUID().uuidString)")
            .path
        let arguments = [
            "--rules", rules, "--inventory", inventory, "--state-dir", state, "--mqtt", broker.url,
            "--mqtt-topic", "fleet/{device}",
        ]
        let total = 20000
        let file = try CLI.temporaryFile("lines.jsonl", Self.lines(total))
        var server = try ServeProcess(arguments)
        #expect(try await Self.wait(60) { try await Self.connected(server) })
        let publisher = try broker.publisherProcess(linesFile: file, topic: "fleet/x")
        defer { if publisher.isRunning { publisher.terminate() } }
        #expect(try await Self.wait { try await Self.readings(server) >= 2000 })
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        publisher.waitUntilExit()
        #expect(publisher.terminationStatus == 0)
        server = try ServeProcess(arguments)
        defer { server.stop() }
        #expect(try await Self.wait { try await Self.readings(server) >= total })
        try await Task.sleep(nanoseconds: 1_000_000_000)
        #expect(try await Self.readings(server) == total)
        #expect(server.stop() == 0)
        #expect(server.log.contains("session_present=true"))
    }

    /// A peer that answers the CONNECT with a malformed packet, and one that closes in the middle
    /// of a PUBLISH: the connection is dropped and retried, the service stays up.
    @Test func malformedPacketsAndAPeerClosingMidPacketAreSurvived() async throws {
        let connack: [UInt8] = [0x20, 0x02, 0x00, 0x00]
        let suback: [UInt8] = [0x90, 0x03, 0x00, 0x01, 0x01]
        // A remaining length of five bytes, which the standard forbids.
        let malformed = try RawTCPPeer(reply: connack + [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        defer { malformed.stop() }
        // A PUBLISH announcing 32 bytes of which 6 arrive.
        let cut = try RawTCPPeer(reply: connack + suback + [0x32, 0x20, 0x00, 0x03, 0x74, 0x2F, 0x78, 0x00])
        defer { cut.stop() }
        let (rules, inventory) = try ServeFixture.files()
        for (peer, expected) in [(malformed, "remaining length"), (cut, "closed the connection")] {
            let server = try ServeProcess([
                "--rules", rules, "--inventory", inventory, "--mqtt", "mqtt://127.0.0.1:\(peer.port)",
                "--mqtt-topic", "t/{device}",
            ])
            defer { server.stop() }
            #expect(try await Self.wait(60) { peer.accepted >= 3 })
            #expect(try await server.get("/healthz").status == 200)
            #expect(try await Self.readings(server) == 0)
            #expect(server.stop() == 0)
            #expect(server.log.contains(expected), "\(server.log.suffix(2000))")
        }
    }

    /// examples/mqtt: its broker configuration and publish script, against the server command its comment shows.
    @Test func theMQTTExampleRunsAsDocumented() async throws {
        let conf = try String(
            contentsOf: CLI.repoRoot.appendingPathComponent("examples/mqtt/mosquitto.conf"), encoding: .utf8)
        let broker = try await MosquittoBroker(configuration: conf)
        defer { broker.stop() }
        let server = try ServeProcess([
            "--rules", "rules/", "--inventory", "examples/fleet/inventory.csv", "--mqtt", broker.url,
            "--mqtt-topic", "fleet/{site}/{device}/telemetry", "--mqtt-topic", "gateways/+/bulk",
            "--mqtt-client-id", "example-\(UUID().uuidString)",
        ])
        defer { server.stop() }
        #expect(try await Self.wait(60) { try await Self.connected(server) })
        let publish = Process()
        publish.executableURL = URL(fileURLWithPath: "/bin/sh")
        publish.arguments = [
            CLI.repoRoot.appendingPathComponent("examples/mqtt/publish.sh").path, "127.0.0.1", "\(broker.port)",
        ]
        var environment = ProcessInfo.processInfo.environment
        if let pub = MosquittoBroker.publisher {
            environment["PATH"] =
                URL(fileURLWithPath: pub).deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "")
        }
        publish.environment = environment
        try publish.run()
        publish.waitUntilExit()
        #expect(publish.terminationStatus == 0)
        #expect(
            try await Self.wait {
                try await Self.metric(server, "fleetrules_mqtt_messages_total{outcome=\"ingested\"}") == 5
            })
        #expect(try await Self.readings(server) == 5)
        #expect(try await Self.metric(server, "fleetrules_mqtt_rejected_total{reason=\"unknown_device\"}") == 1)
        #expect(server.stop() == 0)
    }

    @Test func badMQTTOptionsAreUsageErrors() throws {
        let (rules, inventory) = try ServeFixture.files()
        for (extra, message) in [
            (["--mqtt", "http://x"], "mqtt://"), (["--mqtt", "mqtt://127.0.0.1:1"], "--mqtt-topic"),
            (["--mqtt", "mqtt://h", "--mqtt-topic", "a/{x"], "whole level"), (["--mqtt-topic", "a"], "--mqtt URL"),
        ] {
            let r = try CLI.run(["serve", "--rules", rules, "--inventory", inventory, "--port", "0"] + extra)
            #expect(r.status == 2 || r.status == 64, "\(extra)")
            #expect(r.stderr.contains(message), "\(r.stderr)")
        }
    }
}
