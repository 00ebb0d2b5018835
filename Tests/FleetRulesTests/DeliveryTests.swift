import FleetRulesMocks
import Foundation
import Testing

@testable import FleetRules
@testable import FleetRulesDelivery

// MARK: configuration

@Suite struct DeliveryConfigTests {
    static func check(_ text: String) -> DeliveryCheck {
        DeliveryLoader.check(bytes: Array(text.utf8), file: "d.yaml")
    }

    @Test func theExampleConfigChecksClean() throws {
        let r = DeliveryLoader.check(path: CLI.repoRoot.appendingPathComponent("examples/delivery.yaml").path)
        #expect(r.diagnostics.isEmpty, "\(r.diagnostics.map(\.headline))")
        let config = try #require(r.config)
        #expect(config.receivers.map(\.name) == ["ops-webhook", "field-sms"])
        #expect(config.route.routes.count == 2)
        #expect(config.route.routes[0].continue)
        #expect(config.route.routes[0].groupWait == 30)  // inherited from the root
        #expect(config.inhibit.first?.equal == ["gateway"])
    }

    @Test func mistakesAreLocated() {
        let r = Self.check(
            """
            delivery: 1
            receivers:
              - name: ops
                webhook: { url: "hooks.example/x", secret: abc }
              - name: sms
                sms:
                  gateway: http://127.0.0.1:1
                  contacts:
                    - { name: a, phone: "0151 1234567", escalate_after: 5 }
            route:
              receiver: opps
              group_wiat: 30s
            """)
        let heads = r.diagnostics.map(\.headline)
        #expect(r.config == nil)
        #expect(
            heads.contains("d.yaml:4:21: error[E0602]: webhook url 'hooks.example/x' is not an absolute http(s) URL"))
        #expect(heads.contains("d.yaml:4:48: warning[W0605]: the signing secret of 'ops' is 3 bytes"))
        #expect(heads.contains("d.yaml:9:29: error[E0603]: phone '0151 1234567' is not in E.164 form"))
        #expect(heads.contains("d.yaml:9:61: error[E0112]: escalate_after '5' has no unit"))
        #expect(heads.contains("d.yaml:11:13: error[E0601]: unknown receiver 'opps'"))
        #expect(heads.contains("d.yaml:12:3: error[E0103]: unknown key 'group_wiat' in the root route"))
    }

    @Test func aSecretCanComeFromTheEnvironment() throws {
        let text = """
            delivery: 1
            receivers:
              - name: ops
                webhook: { url: "http://127.0.0.1:1/h", secret_env: HOOK_SECRET }
            route: { receiver: ops }
            """
        let set = DeliveryLoader.check(
            bytes: Array(text.utf8), file: "d.yaml", environment: ["HOOK_SECRET": DeliveryFixture.secret])
        guard case .webhook(let w)? = try #require(set.config).receivers.first?.channel else {
            Issue.record("no webhook receiver")
            return
        }
        #expect(w.secret == DeliveryFixture.secret)
        let unset = DeliveryLoader.check(bytes: Array(text.utf8), file: "d.yaml", environment: [:])
        #expect(unset.config == nil)
        #expect(
            unset.diagnostics.map(\.headline) == [
                "d.yaml:4:57: error[E0110]: environment variable 'HOOK_SECRET' is not set"
            ])
    }

    @Test func aReceiverNoRouteReachesIsAWarning() {
        let r = Self.check(
            """
            delivery: 1
            receivers:
              - name: ops
                webhook: { url: "http://127.0.0.1:1/h", secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }
              - name: spare
                webhook: { url: "http://127.0.0.1:1/s", secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }
            route: { receiver: ops }
            """)
        #expect(r.config != nil)
        #expect(
            r.diagnostics.map(\.headline) == [
                "d.yaml:5:5: warning[W0604]: receiver 'spare' is never reached by any route"
            ])
    }
}

// MARK: SMS encoding

@Suite struct SMSEncodingTests {
    @Test func gsm7FitsOneMessageUpTo160Septets() {
        let e = SMSEncoding.encode(String(repeating: "a", count: 160))
        #expect(e.alphabet == .gsm7 && e.segments.count == 1 && e.units == 160)
        let f = SMSEncoding.encode(String(repeating: "a", count: 161))
        // 161 septets: 153 + 8.
        #expect(f.segments.map(\.count) == [153, 8])
    }

    @Test func extensionCharactersTakeTwoSeptetsAndStayWhole() {
        // 80 euro signs = 160 septets: one message.
        #expect(SMSEncoding.encode(String(repeating: "€", count: 80)).segments.count == 1)
        // 152 a's then "{": 154 septets → the escape pair may not straddle 153, so "{" moves on.
        let e = SMSEncoding.encode(String(repeating: "a", count: 152) + "{" + String(repeating: "b", count: 10))
        #expect(e.alphabet == .gsm7)
        #expect(e.units == 164)
        #expect(e.segments.map(\.count) == [152, 11])
    }

    @Test func anEmojiForcesUCS2() {
        let text = "Gateway down 🔥"
        let e = SMSEncoding.encode(text)
        #expect(e.alphabet == .ucs2)
        #expect(e.units == 15)  // 13 characters + a surrogate pair
        #expect(e.segments == [text])
        // 66 letters + an emoji = 68 units: fits 70; 70 letters + emoji = 72 units → 67 + 5, and
        // 66 letters + emoji at the boundary: the pair never splits.
        #expect(SMSEncoding.encode(String(repeating: "x", count: 66) + "😀").segments.count == 1)
        let split = SMSEncoding.encode(String(repeating: "x", count: 66) + "😀" + String(repeating: "y", count: 10))
        #expect(split.segments.count == 2)
        #expect(split.segments[0] == String(repeating: "x", count: 66))
        #expect(split.segments[1].hasPrefix("😀"))
    }

    @Test func ucs2LongTextsSplitAt67() {
        let e = SMSEncoding.encode("Ж" + String(repeating: "a", count: 140))
        #expect(e.alphabet == .ucs2)
        #expect(e.segments.map { $0.utf16.count } == [67, 67, 7])
    }
}

// MARK: signatures

@Suite struct WebhookSignatureTests {
    @Test func signsAndVerifiesLikeStandardWebhooks() {
        // The Standard Webhooks reference example.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        let body = Array(#"{"test": 2432232314}"#.utf8)
        let sig = WebhookSignature.sign(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body, secret: secret)
        #expect(sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        let ok = WebhookSignature.verify(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330", signature: "v1,bad v1,\(sig.dropFirst(3))",
            body: body, secret: secret, now: 1_614_265_331)
        #expect(ok == .valid)
        #expect(
            WebhookSignature.verify(
                id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330", signature: sig, body: body + [32],
                secret: secret, now: 1_614_265_331) == .badSignature)
        #expect(
            WebhookSignature.verify(
                id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330", signature: sig, body: body, secret: secret,
                now: 1_614_265_330 + 3600) == .staleTimestamp)
    }

    @Test func answersAreClassifiedForRetry() {
        #expect(outcome(status: 204, retryAfter: nil) == .delivered)
        #expect(outcome(status: 503, retryAfter: "7") == .retry(reason: "HTTP 503", after: 7))
        #expect(outcome(status: 429, retryAfter: nil) == .retry(reason: "HTTP 429", after: nil))
        #expect(outcome(status: 408, retryAfter: nil) == .retry(reason: "HTTP 408", after: nil))
        #expect(outcome(status: 404, retryAfter: "5") == .refused(reason: "HTTP 404"))
        #expect(outcome(status: 301, retryAfter: nil) == .refused(reason: "HTTP 301"))
        #expect(parseRetryAfter("99999") == 3600)
        #expect(parseRetryAfter("soon") == nil)
        // An HTTP date in the past means "now".
        #expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT") == 0)
    }

    @Test func backoffGrowsWithJitterAndCaps() {
        let b = Backoff(initial: 1, maximum: 30)
        #expect(b.delay(afterAttempt: 1, random: 0) == 0.5)
        #expect(b.delay(afterAttempt: 1, random: 0.999) < 1)
        #expect(b.delay(afterAttempt: 4, random: 0) == 4)
        #expect(b.delay(afterAttempt: 20, random: 1) == 30)
    }
}

// MARK: routing

@Suite struct AlertRouterTests {
    static let config = """
        delivery: 1
        receivers:
          - name: ops
            webhook: { url: "http://127.0.0.1:1/h", secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }
          - name: pager
            webhook: { url: "http://127.0.0.1:1/p", secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }
        route:
          receiver: ops
          group_by: [site]
          group_wait: 30s
          group_interval: 5m
          repeat_interval: 1h
          routes:
            - match: { severity: critical }
              receiver: pager
              continue: true
            - match: { severity: [warning, critical] }
              receiver: ops
        silences:
          - match: { rule: noisy }
            ends: 2026-03-01T12:00:00Z
        inhibit:
          - source: { rule: gw-down }
            target: { rule: dev-silent }
            equal: [gateway]
        """

    static let t0 = 1_772_323_200.0  // 2026-03-01T00:00:00Z

    static func event(
        _ rule: String, _ device: String, _ change: AlertEvent.Change, at t: Double, severity: AlertSeverity = .warning
    ) -> AlertEvent {
        AlertEvent(
            change: change, time: t,
            episode: AlertEpisode(
                rule: rule, kind: .alert, pack: "p", device: device, severity: severity, since: t,
                until: change == .resolved ? t : nil, value: nil, summary: "\(rule) on \(device)", labels: [:],
                evidence: [], maintenance: nil))
    }

    static let inventory: Inventory = {
        (try? Inventory(
            columns: ["device", "type", "site", "zone", "gateway"],
            rows: [
                ["d1", "s", "a", "z", "gw1"], ["d2", "s", "a", "z", "gw1"], ["d3", "s", "b", "z", "gw2"],
                ["gw1", "gateway", "a", "z", "gw1"],
            ])) ?? Inventory()
    }()

    func router() throws -> AlertRouter {
        AlertRouter(config: try #require(DeliveryConfigTests.check(Self.config).config))
    }

    @Test func groupsWaitThenFlushOncePerInterval() throws {
        var r = try router()
        let t = Self.t0
        var out = r.process(
            [
                Self.event("hot", "d1", .fired, at: t), Self.event("hot", "d2", .fired, at: t + 10),
                Self.event("hot", "d3", .fired, at: t + 20),
            ], inventory: Self.inventory)
        #expect(out.isEmpty)  // still in group_wait
        out = r.process([Self.event("cold", "d1", .fired, at: t + 40)], inventory: Self.inventory)
        // Site a flushed at t+30 with d1 and d2; site b at t+50 is not due yet.
        #expect(out.count == 1)
        #expect(out[0].alerts.map { $0.labels["device"] } == ["d1", "d2"])
        #expect(out[0].time == t + 30)
        // The change at t+40 waits for group_interval (t+30+300); a resolve at t+100 joins it.
        out = r.process([Self.event("hot", "d1", .resolved, at: t + 100)], inventory: Self.inventory)
        #expect(out.map(\.time) == [t + 50])
        out = r.process([Self.event("hot", "d3", .resolved, at: t + 400)], inventory: Self.inventory)
        #expect(out.map(\.time) == [t + 330])
        #expect(out[0].alerts.count == 3)
        #expect(out[0].alerts.first { $0.labels["device"] == "d1" && $0.rule == "hot" }?.status == .resolved)
        let rest = r.finish()
        // Site b: d3 resolved, flushed at max(t+400, t+50+300).
        #expect(rest.map(\.time) == [t + 400])
        #expect(rest[0].status == .resolved)
    }

    @Test func repeatsWhileFiringAndKeysAreStable() throws {
        var a = try router()
        var b = try router()
        let events = [Self.event("hot", "d1", .fired, at: Self.t0)]
        let later = [Self.event("other", "d3", .fired, at: Self.t0 + 3 * 3600)]
        let first = a.process(events, inventory: Self.inventory) + a.process(later, inventory: Self.inventory)
        let second = b.process(events, inventory: Self.inventory) + b.process(later, inventory: Self.inventory)
        // Flush at +30s, then repeats at +1h30s and +2h30s.
        #expect(first.map { $0.time - Self.t0 } == [30, 3630, 7230])
        #expect(first.map(\.id) == second.map(\.id))
        #expect(Set(first.map(\.id)).count == 3)
    }

    @Test func continueSendsCriticalToBothReceivers() throws {
        var r = try router()
        var out = r.process(
            [Self.event("fire", "d1", .fired, at: Self.t0, severity: .critical)], inventory: Self.inventory)
        out += r.finish()
        #expect(Set(out.map(\.receiver)) == ["ops", "pager"])
        // An info alert matches no child: the root's receiver gets it.
        var q = try router()
        out = q.process([Self.event("note", "d1", .fired, at: Self.t0, severity: .info)], inventory: Self.inventory)
        out += q.finish()
        #expect(out.map(\.receiver) == ["ops"])
        #expect(out.first?.groupKey == "ops/r/site=a")
    }

    @Test func aResolveReachesEveryGroupHoldingTheAlert() throws {
        var r = try router()
        let t = Self.t0
        var out = r.process(
            [
                Self.event("temp", "d1", .fired, at: t),  // warning: ops
                Self.event("temp", "d1", .updated, at: t + 60, severity: .critical),  // now also pager
                Self.event("noisy", "d3", .fired, at: t + 11 * 3600),  // silenced at fire time…
            ], inventory: Self.inventory)
        // …and its resolve after the silence ended is not news either.
        out += r.process(
            [
                Self.event("temp", "d1", .resolved, at: t + 600, severity: .critical),
                Self.event("noisy", "d3", .resolved, at: t + 13 * 3600),
            ], inventory: Self.inventory)
        out += r.finish()
        let resolvedAt = Set(out.filter { $0.status == .resolved }.map(\.receiver))
        #expect(resolvedAt == ["ops", "pager"])
        #expect(!out.flatMap(\.alerts).contains { $0.rule == "noisy" })
        // Nothing left firing: no repeats however far event time moves.
        #expect(r.advance(to: t + 30 * 86400).isEmpty)
    }

    @Test func silencesAndInhibitionDropAlerts() throws {
        var r = try router()
        let t = Self.t0
        var out = r.process(
            [
                Self.event("noisy", "d1", .fired, at: t),  // silenced until 12:00
                Self.event("gw-down", "gw1", .fired, at: t),
                Self.event("dev-silent", "d1", .fired, at: t + 60),  // behind gw1: inhibited
                Self.event("dev-silent", "d3", .fired, at: t + 60),  // behind gw2: notified
                Self.event("noisy", "d2", .fired, at: t + 13 * 3600),  // after the silence
            ], inventory: Self.inventory)
        out += r.finish()
        let devices = Set(out.flatMap(\.alerts).map { "\($0.rule)/\($0.labels["device"] ?? "")" })
        #expect(devices.contains("gw-down/gw1"))
        #expect(devices.contains("dev-silent/d3"))
        #expect(devices.contains("noisy/d2"))
        #expect(!devices.contains("dev-silent/d1"))
        #expect(!devices.contains("noisy/d1"))
        #expect(r.stats.silenced == 1 && r.stats.inhibited == 1)
    }

    @Test func smsPagesSummariseABatch() {
        let alerts = (0..<5).map { i in
            DeliveryAlert(
                key: "k\(i)", status: .firing,
                labels: ["rule": i < 3 ? "battery" : "drift", "severity": "critical", "site": "plant-b"], since: 0,
                until: nil, summary: "s")
        }
        #expect(Planner.summary(alerts, ackCode: "4821") == "5 critical at plant-b: 3 battery, 2 drift; reply ACK 4821")
        #expect(SMSSink.ackCode(in: "ack 4821 on my way") == "4821")
        #expect(SMSSink.ackCode(in: "ok") == nil)
    }
}

// MARK: processes: the real binaries on 127.0.0.1

/// A `fleetrules` server started on a free port, killed when the test is done.
final class Served: @unchecked Sendable {
    let process: Process
    let port: Int
    var base: String { "http://127.0.0.1:\(port)" }

    init(_ arguments: [String]) throws {
        process = Process()
        process.executableURL = CLI.binary
        process.arguments = arguments + ["--port", "0"]
        process.currentDirectoryURL = CLI.repoRoot
        process.standardError = FileHandle.nullDevice
        guard let listening = try CLI.startListening(process).port else {
            process.terminate()
            throw CocoaError(.fileReadUnknown)
        }
        port = listening
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    func getJSON(_ path: String) async throws -> Any {
        let r = try await MockClient.get(base + path)
        return try JSONSerialization.jsonObject(with: Data(r.body))
    }
}

enum DeliveryFixture {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    /// A pack and telemetry with three alerts: d1 battery-empty (critical, paging) and
    /// battery-low, d2 battery-low.
    static func smallFleet() throws -> (pack: String, telemetry: String, inventory: String) {
        let pack = try CLI.temporaryFile(
            "p.yaml",
            """
            fleetrules: 1
            pack: p
            metrics:
              battery_pct: { unit: percent, range: [0, 100] }
            rules:
              - alert: battery-empty
                when: last(battery_pct) < 5
                severity: critical
                labels: { page: on-call }
                summary: "{{device}} battery at {{value}}"
              - alert: battery-low
                when: last(battery_pct) < 20
                severity: warning
                summary: "{{device}} battery low"
            """)
        let inventory = try CLI.temporaryFile(
            "inv.csv", "device,type,site,zone,gateway\nd1,s,plant-a,z,gw1\nd2,s,plant-a,z,gw1\n")
        let telemetry = try CLI.temporaryFile(
            "t.jsonl",
            """
            {"ts":"2026-03-01T00:00:00Z","device":"d1","battery_pct":50}
            {"ts":"2026-03-01T00:00:00Z","device":"d2","battery_pct":50}
            {"ts":"2026-03-01T00:10:00Z","device":"d1","battery_pct":3}
            {"ts":"2026-03-01T00:10:00Z","device":"d2","battery_pct":15}
            {"ts":"2026-03-01T00:20:00Z","device":"d1","battery_pct":3}
            {"ts":"2026-03-01T00:20:00Z","device":"d2","battery_pct":15}

            """)
        return (pack, telemetry, inventory)
    }

    static func config(
        webhook: String?, sms: String?, timeout: String = "1s", escalate: String = "2s", extra: String = ""
    )
        -> String
    {
        var receivers = ""
        if let webhook {
            receivers += """
                  - name: ops
                    webhook: { url: "\(webhook)/hooks", secret: \(secret), timeout: \(timeout) }

                """
        }
        if let sms {
            receivers += """
                  - name: field
                    sms:
                      gateway: "\(sms)"
                      batch_window: 1h
                      contacts:
                        - { name: ana, phone: "+4915112345678", escalate_after: \(escalate) }
                        - { name: ben, phone: "+4915187654321" }

                """
        }
        return """
            delivery: 1
            outbox:
              max_attempts: 5
              backoff: { initial: 100ms, max: 2s }
            receivers:
            \(receivers)route:
              receiver: \(webhook != nil ? "ops" : "field")
              group_by: [rule, device]
              group_wait: 0s
            \(extra)
            """
    }
}

@Suite(.serialized) struct DeliveryProcessTests {
    @Test func webhookRetriesInjectedFaultsAndSignaturesVerify() async throws {
        let store = try CLI.temporaryFile("received.jsonl", "")
        try FileManager.default.removeItem(atPath: store)
        let receiver = try Served([
            "webhook-receiver", "--secret", DeliveryFixture.secret, "--store", store, "--inject", "500,429,timeout",
            "--hold",
            "3s",
        ])
        defer { receiver.stop() }
        let fleet = try DeliveryFixture.smallFleet()
        let config = try CLI.temporaryFile("d.yaml", DeliveryFixture.config(webhook: receiver.base, sms: nil))
        let outbox = config + ".sqlite"
        let r = try CLI.run([
            "run", fleet.pack, "--telemetry", fleet.telemetry, "--inventory", fleet.inventory, "--out",
            config + ".report",
            "--deliver", config, "--outbox", outbox, "--deliver-timeout", "60s",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("delivered 3 in"), "\(r.stderr)")
        #expect(r.stderr.contains("3 retries, 0 dead"), "\(r.stderr)")
        let summary = try #require(try await receiver.getJSON("/received") as? [String: Any])
        #expect(summary["unique"] as? Int == 3)
        #expect(summary["rejected"] as? Int == 0)
        // Both notifications are in the outbox as delivered, with the receiver's ids.
        let list = try CLI.run(["outbox", "list", "--outbox", outbox, "--format", "json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 3)
        #expect(rows.allSatisfy { $0["status"] as? String == "delivered" })
        #expect(Set(rows.compactMap { $0["id"] as? String }) == Set((summary["ids"] as? [String]) ?? []))
        #expect(rows.map { $0["attempts"] as? Int ?? 0 }.reduce(0, +) == 6)  // 3 successes + 3 injected faults
        // A forged signature is refused.
        let forged = try await MockClient.post(receiver.base + "/hooks", json: "{}")
        #expect(forged.status == 401)
    }

    @Test func clientErrorsAreDeadLettersThatRetryRevives() async throws {
        let receiver = try Served(["webhook-receiver", "--secret", DeliveryFixture.secret, "--inject", "400,400,400"])
        defer { receiver.stop() }
        let fleet = try DeliveryFixture.smallFleet()
        let config = try CLI.temporaryFile("d.yaml", DeliveryFixture.config(webhook: receiver.base, sms: nil))
        let outbox = config + ".sqlite"
        let r = try CLI.run([
            "run", fleet.pack, "--telemetry", fleet.telemetry, "--inventory", fleet.inventory, "--out",
            config + ".report",
            "--deliver", config, "--outbox", outbox,
        ])
        #expect(r.stderr.contains("delivered 0 in") && r.stderr.contains("3 dead"), "\(r.stderr)")
        let dead = try CLI.run(["outbox", "list", "--outbox", outbox, "--status", "dead"])
        #expect(dead.stdout.contains("HTTP 400 (not retried)"))
        #expect(dead.stdout.contains("3 dead"))
        #expect(try CLI.run(["outbox", "retry", "--outbox", outbox]).stdout.contains("3 messages back to pending"))
        let again = try CLI.run(["outbox", "deliver", "--outbox", outbox, "--delivery", config])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("delivered 3 in"))
        #expect(try CLI.run(["outbox", "purge", "--outbox", outbox]).stdout.contains("purged 3 messages"))
    }

    @Test func smsEscalatesWithoutACKAndStopsWithACK() async throws {
        let gateway = try Served(["sms-gateway"])
        defer { gateway.stop() }
        let fleet = try DeliveryFixture.smallFleet()
        // Only the paging alert: warnings are silenced.
        let extra = """
            silences:
              - match: { severity: warning }
                ends: 2030-01-01T00:00:00Z
            """
        // No ACK: ana is paged, then ben after 1s.
        let config = try CLI.temporaryFile(
            "d.yaml", DeliveryFixture.config(webhook: nil, sms: gateway.base, escalate: "1s", extra: extra))
        let r = try CLI.run([
            "run", fleet.pack, "--telemetry", fleet.telemetry, "--inventory", fleet.inventory, "--out",
            config + ".report",
            "--deliver", config, "--outbox", config + ".sqlite",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        var messages = try #require(try await gateway.getJSON("/messages") as? [[String: Any]])
        #expect(messages.map { $0["to"] as? String } == ["+4915112345678", "+4915187654321"])
        let text = messages.first?["text"] as? String ?? ""
        #expect(text.hasPrefix("critical at plant-a: d1 battery at 3"), "\(text)")
        #expect(messages.first?["encoding"] as? String == "gsm7")

        // With ACK: a second page with a long escalation (no cost: the run ends at the ACK); the test answers as ana.
        // The escalation and the waits are minutes long, so a loaded machine that delays this test's
        // polling cannot let ben be paged before the test has read ana's page.
        let config2 = try CLI.temporaryFile(
            "d.yaml", DeliveryFixture.config(webhook: nil, sms: gateway.base, escalate: "10m", extra: extra))
        let run = Process()
        run.executableURL = CLI.binary
        run.currentDirectoryURL = CLI.repoRoot
        run.arguments = [
            "run", fleet.pack, "--telemetry", fleet.telemetry, "--inventory", fleet.inventory, "--out",
            config2 + ".report",
            "--deliver", config2, "--outbox", config2 + ".sqlite", "--deliver-timeout", "15m",
        ]
        run.standardOutput = FileHandle.nullDevice
        run.standardError = FileHandle.nullDevice
        try run.run()
        let before = messages.count
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            messages = try #require(try await gateway.getJSON("/messages") as? [[String: Any]])
            if messages.count > before { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let paged = try #require(messages.last)
        #expect(paged["to"] as? String == "+4915112345678")
        let code = try #require((paged["text"] as? String).flatMap { SMSSink.ackCode(in: $0) })
        let ack = try await MockClient.post(
            gateway.base + "/inbound", json: #"{"from":"+4915112345678","text":"ack \#(code)"}"#)
        #expect(ack.status == 202)
        run.waitUntilExit()
        #expect(run.terminationStatus == 0)
        messages = try #require(try await gateway.getJSON("/messages") as? [[String: Any]])
        #expect(messages.count == before + 1, "ben must not be paged after ana's ACK")
        let list = try CLI.run(["outbox", "list", "--outbox", config2 + ".sqlite"])
        #expect(list.stdout.contains("cancelled") && list.stdout.contains("acknowledged by +4915112345678"))
    }

    /// The crash test: SIGKILL the delivering process mid-batch, restart it, and check that
    /// every notification arrived at least once and none was lost.
    @Test func killedMidBatchLosesNothing() async throws {
        let store = try CLI.temporaryFile("received.jsonl", "")
        try FileManager.default.removeItem(atPath: store)
        let receiver = try Served([
            "webhook-receiver", "--secret", DeliveryFixture.secret, "--store", store, "--delay", "100ms",
        ])
        defer { receiver.stop() }
        let config = try CLI.temporaryFile(
            "d.yaml", DeliveryFixture.config(webhook: receiver.base, sms: nil, timeout: "5s"))
        let outbox = config + ".sqlite"
        let args = [
            "run", "rules/", "--telemetry", "examples/fleet/telemetry.jsonl.gz", "--inventory",
            "examples/fleet/inventory.csv", "--out", config + ".report", "--deliver", config, "--outbox", outbox,
        ]
        let first = Process()
        first.executableURL = CLI.binary
        first.currentDirectoryURL = CLI.repoRoot
        first.arguments = args
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        // Wait until a few notifications arrived, then kill -9.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let s = try #require(try await receiver.getJSON("/received") as? [String: Any])
            if (s["received"] as? Int ?? 0) >= 5 { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal)
        let afterKill = try #require(try await receiver.getJSON("/received") as? [String: Any])
        let listed = try CLI.run(["outbox", "list", "--outbox", outbox, "--format", "json"])
        let rowsBefore = try #require(
            try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        let pendingBefore = rowsBefore.filter { $0["status"] as? String == "pending" }.count
        #expect(pendingBefore > 0, "the kill must land mid-batch")
        #expect((afterKill["unique"] as? Int ?? 0) < rowsBefore.count)

        let second = try CLI.run(args)
        #expect(second.status == 0, "\(second.stderr)")
        let listedAfter = try CLI.run(["outbox", "list", "--outbox", outbox, "--format", "json"])
        let rows = try #require(
            try JSONSerialization.jsonObject(with: Data(listedAfter.stdout.utf8)) as? [[String: Any]])
        #expect(rows.allSatisfy { $0["status"] as? String == "delivered" })
        let ids = Set(rows.compactMap { $0["id"] as? String })
        let summary = try #require(try await receiver.getJSON("/received") as? [String: Any])
        let got = Set((summary["ids"] as? [String]) ?? [])
        #expect(ids.isSubset(of: got), "missing at the receiver: \(ids.subtracting(got).count)")
        #expect(got.isSubset(of: ids))
        #expect(summary["rejected"] as? Int == 0)

        // None lost at routing either: a clean run into a fresh outbox writes the same ids.
        let clean = try CLI.temporaryFile("clean.yaml", DeliveryFixture.config(webhook: "http://127.0.0.1:9", sms: nil))
        let dry = try CLI.run([
            "run", "rules/", "--telemetry", "examples/fleet/telemetry.jsonl.gz", "--inventory",
            "examples/fleet/inventory.csv",
            "--out", clean + ".report", "--deliver", clean, "--outbox", clean + ".sqlite", "--deliver-timeout", "0s",
        ])
        #expect(dry.status == 0)
        let cleanRows = try CLI.run(["outbox", "list", "--outbox", clean + ".sqlite", "--format", "json"])
        let cleanIDs = Set(
            ((try JSONSerialization.jsonObject(with: Data(cleanRows.stdout.utf8)) as? [[String: Any]]) ?? []).compactMap
            {
                $0["id"] as? String
            })
        #expect(cleanIDs == ids)
    }

    @Test func theGatewayPersistsAcrossRestarts() async throws {
        let store = try CLI.temporaryFile("sms.jsonl", "")
        let first = try Served(["sms-gateway", "--store", store])
        let sent = try await MockClient.post(
            first.base + "/messages", json: #"{"to":"+4915112345678","text":"hi 🔥","reference":"r1"}"#)
        #expect(sent.status == 202)
        let bad = try await MockClient.post(first.base + "/messages", json: #"{"to":"0151","text":"x"}"#)
        #expect(bad.status == 422)
        #expect(
            try await MockClient.post(first.base + "/inbound", json: #"{"from":"+4915112345678","text":"ACK 1234"}"#)
                .status == 202)
        first.stop()
        let second = try Served(["sms-gateway", "--store", store])
        defer { second.stop() }
        let messages = try #require(try await second.getJSON("/messages") as? [[String: Any]])
        #expect(messages.count == 1)
        #expect(messages.first?["encoding"] as? String == "ucs2")  // worked out by the gateway when not given
        let receipts = try #require(try await second.getJSON("/receipts") as? [[String: Any]])
        #expect(receipts.first?["reference"] as? String == "r1")
        #expect(receipts.first?["status"] as? String == "delivered")
        let replies = try #require(try await second.getJSON("/inbound?after=0") as? [[String: Any]])
        #expect(replies.first?["text"] as? String == "ACK 1234")
        #expect(try #require(try await second.getJSON("/inbound?after=1") as? [[String: Any]]).isEmpty)
    }

    @Test func checkAcceptsADeliveryFile() throws {
        let ok = try CLI.run(["check", "--delivery", "examples/delivery.yaml"])
        #expect(ok.status == 0, "\(ok.stdout)")
        #expect(ok.stdout.contains("0 errors, 0 warnings"))
        let bad = try CLI.temporaryFile("d.yaml", "delivery: 1\nreceivers: []\nroute: { receiver: nobody }\n")
        let r = try CLI.run(["check", "rules/", "--delivery", bad])
        #expect(r.status == 1)
        #expect(r.stdout.contains("d.yaml:3:20: error[E0601]: unknown receiver 'nobody'"))
    }
}

@Suite(.serialized) struct DeliveryPipelineTests {
    @Test func routingIsWrittenBeforeSendingAndIdempotent() throws {
        let config = try #require(
            DeliveryConfigTests.check(DeliveryFixture.config(webhook: "http://127.0.0.1:9", sms: nil)).config)
        let path = try CLI.temporaryFile("o.sqlite", "")
        try FileManager.default.removeItem(atPath: path)
        let events = [
            AlertRouterTests.event("hot", "d1", .fired, at: AlertRouterTests.t0),
            AlertRouterTests.event("hot", "d2", .fired, at: AlertRouterTests.t0 + 5),
            AlertRouterTests.event("hot", "d1", .resolved, at: AlertRouterTests.t0 + 600),
        ]
        let first = try DeliveryPipeline(config: config, outboxPath: path)
        #expect(try first.route(events, inventory: AlertRouterTests.inventory, final: true) == 3)
        #expect(try first.outbox.counts() == [.pending: 3])
        // The same alerts routed again (a restart after a crash) add nothing.
        let again = try DeliveryPipeline(config: config, outboxPath: path)
        #expect(try again.route(events, inventory: AlertRouterTests.inventory, final: true) == 0)
        let resolved = try again.outbox.list().filter { $0.payload.contains(#""status":"resolved""#) }
        #expect(resolved.count == 1)
    }

    @Test func advanceFlushesGroupsAsEventTimePasses() throws {
        let config = try #require(
            DeliveryConfigTests.check(DeliveryFixture.config(webhook: "http://127.0.0.1:9", sms: nil)).config)
        let path = try CLI.temporaryFile("o.sqlite", "")
        try FileManager.default.removeItem(atPath: path)
        let pipeline = try DeliveryPipeline(config: config, outboxPath: path)
        let t = AlertRouterTests.t0
        // group_wait 0s: the group is due at t, but only once event time reaches t.
        #expect(try pipeline.route([AlertRouterTests.event("hot", "d1", .fired, at: t)], inventory: nil) == 0)
        #expect(try pipeline.advance(to: t - 1) == 0)
        #expect(try pipeline.advance(to: t) == 1)
        // Still firing: the default repeat_interval (4h) re-sends it.
        #expect(try pipeline.advance(to: t + 4 * 3600) == 1)
        #expect(try pipeline.outbox.list().count == 2)
    }

    /// `finish` (the end of a run, a service's shutdown) routes the groups still open, then
    /// drains; what the time left could not send stays pending and is counted.
    @Test func finishRoutesWhatIsStillOpenAndCountsWhatIsLeft() async throws {
        let config = try #require(
            DeliveryConfigTests.check(DeliveryFixture.config(webhook: "http://127.0.0.1:9", sms: nil)).config)
        let path = try CLI.temporaryFile("o.sqlite", "")
        try FileManager.default.removeItem(atPath: path)
        let pipeline = try DeliveryPipeline(config: config, outboxPath: path)
        let t = AlertRouterTests.t0
        #expect(try pipeline.route([AlertRouterTests.event("hot", "d1", .fired, at: t)], inventory: nil) == 0)
        let drained = try await pipeline.finish(inventory: nil, within: 0)
        #expect(drained.summary.attempts == 0)
        #expect(drained.pending == 1)
        #expect(drained.description.hasPrefix("delivered 0 in "))
        #expect(drained.description.hasSuffix(", 0 retries, 0 dead, 0 acknowledged, 1 pending"))
    }

    /// A live service's sender delivers what is routed while it runs, reports the outbox depth
    /// after each round, and returns once told to stop.
    @Test func theLiveSenderDeliversUntilStopped() async throws {
        let receiver = try Served(["webhook-receiver", "--secret", DeliveryFixture.secret])
        defer { receiver.stop() }
        let config = try #require(
            DeliveryConfigTests.check(DeliveryFixture.config(webhook: receiver.base, sms: nil)).config)
        let path = try CLI.temporaryFile("o.sqlite", "")
        try FileManager.default.removeItem(atPath: path)
        let pipeline = try DeliveryPipeline(config: config, outboxPath: path)
        let t = AlertRouterTests.t0
        try pipeline.routeLive([AlertRouterTests.event("hot", "d1", .fired, at: t)], eventTime: t, inventory: nil)
        #expect(try pipeline.pendingCount() == 1)
        let depths = DepthLog()
        await pipeline.sendContinuously(
            pause: .milliseconds(10), stop: { depths.last == 0 }, afterRound: { depths.append($0) })
        #expect(depths.last == 0)
        #expect(try pipeline.outbox.counts()[.delivered] == 1)
        let summary = try #require(try await receiver.getJSON("/received") as? [String: Any])
        #expect(summary["received"] as? Int == 1, "\(summary)")
    }

    @Test func smsIsPacedPerContact() async throws {
        let gateway = try Served(["sms-gateway"])
        defer { gateway.stop() }
        let text = DeliveryFixture.config(webhook: nil, sms: gateway.base)
            .replacingOccurrences(of: "batch_window: 1h", with: "batch_window: 1h\n      max_per_hour: 1")
        let config = try #require(DeliveryConfigTests.check(text).config)
        let path = try CLI.temporaryFile("o.sqlite", "")
        try FileManager.default.removeItem(atPath: path)
        let outbox = try Outbox(path: path)
        let now = Date().timeIntervalSince1970
        try outbox.enqueue(
            (1...2).map {
                OutboxMessage(
                    id: "m\($0)", receiver: "field", channel: .sms, target: "+4915112345678", payload: "page \($0)",
                    page: "p\($0)", nextAttempt: now, created: now, eventTime: now)
            })
        // The deferred message falls due only after the deadline, so the sender stops at once.
        let summary = try await Dispatcher(config: config, outbox: outbox).run(until: now + 600)
        #expect(summary.delivered == 1)
        #expect(summary.pendingLeft)
        let waiting = try outbox.list(status: .pending)
        #expect(waiting.count == 1)
        // Deferred to an hour after the first send, without spending an attempt.
        #expect((waiting.first?.nextAttempt ?? 0) > now + 3500)
        #expect(waiting.first?.attempts == 0)
        let messages = try #require(try await gateway.getJSON("/messages") as? [[String: Any]])
        #expect(messages.count == 1)
    }
}

/// The outbox depths a live sender reported, read from its stop condition.
final class DepthLog: @unchecked Sendable {
    private let lock = NSLock()
    private var depths: [Int] = []
    func append(_ depth: Int) { lock.withLock { depths.append(depth) } }
    var last: Int? { lock.withLock { depths.last } }
}
