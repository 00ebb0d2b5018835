import FleetRulesMocks
import Foundation
import Testing

@testable import FleetRules
@testable import FleetRulesDelivery

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite struct RuntimeSilenceTests {
    static let now = 1_796_000_000.0

    static func parse(_ text: String) -> Result<RuntimeSilence, RuntimeSilence.Invalid> {
        do {
            let value = try JSONValue.parse(text)
            return .success(try RuntimeSilence.parse(value, now: now))
        } catch let e as RuntimeSilence.Invalid {
            return .failure(e)
        } catch {
            return .failure(RuntimeSilence.Invalid(message: "not JSON: \(error)"))
        }
    }

    static func message(_ text: String) -> String {
        if case .failure(let e) = parse(text) { return e.message }
        return "accepted"
    }

    @Test func alertmanagersShapeIsReadWithItsFourOperators() throws {
        let s = try Self.parse(
            """
            {"matchers":[{"name":"device","value":"d-00(1|2).*","isRegex":true},
                         {"name":"severity","value":"critical","isEqual":false},
                         {"name":"rule","value":"battery-low"},
                         {"name":"team","value":"net.*","isRegex":true,"isEqual":false}],
             "startsAt":"2020-01-01T00:00:00Z","endsAt":"2030-01-01T00:00:00Z","createdBy":"ana","comment":"swap"}
            """
        ).get()
        #expect(s.matchers.map(\.op) == [.regex, .notEqual, .equal, .notRegex])
        #expect(s.startsAt == Self.now, "a start in the past is now")
        let labels = ["device": "d-0012", "severity": "warning", "rule": "battery-low"]
        #expect(s.silences(labels, at: Self.now + 1))
        #expect(!s.silences(labels.merging(["severity": "critical"]) { $1 }, at: Self.now + 1))
        #expect(!s.silences(labels.merging(["device": "d-0031"]) { $1 }, at: Self.now + 1))
        #expect(!s.silences(labels.merging(["team": "network"]) { $1 }, at: Self.now + 1))
        #expect(s.state(at: Self.now) == .active)
        #expect(s.state(at: Timestamp.parse("2030-01-01T00:00:00Z") ?? 0) == .expired)
        let json = s.json(now: Self.now)
        #expect(json["status"]?["state"] == .string("active"))
        #expect(json["createdBy"] == .string("ana"))
    }

    @Test func aFutureStartIsPending() throws {
        let s = try Self.parse(
            #"{"matchers":[{"name":"rule","value":"x"}],"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z","createdBy":"a","comment":"c"}"#
        ).get()
        #expect(s.state(at: Self.now) == .pending)
        #expect(!s.silences(["rule": "x"], at: Self.now))
    }

    @Test func mistakesAreRefusedWithWhatIsWrong() {
        let end = #""endsAt":"2030-01-01T00:00:00Z","createdBy":"a","comment":"c""#
        #expect(Self.message(#"{"matchers":[],\#(end)}"#).contains("'matchers' must be a non-empty list"))
        #expect(
            Self.message(#"{"matchers":[{"name":"device","value":"d-(","isRegex":true}],\#(end)}"#)
                .contains("does not compile"))
        #expect(Self.message(#"{"matchers":[{"name":"1x","value":"a"}],\#(end)}"#).contains("is not a label name"))
        #expect(
            Self.message(#"{"matchers":[{"name":"rule","value":".*","isRegex":true}],\#(end)}"#)
                .contains("must not match the empty string"))
        #expect(
            Self.message(#"{"matchers":[{"name":"rule","value":"x"}],"createdBy":"a","comment":"c"}"#)
                == "'endsAt' is required")
        #expect(
            Self.message(
                #"{"matchers":[{"name":"rule","value":"x"}],"endsAt":"2020-01-01T00:00:00Z","createdBy":"a","comment":"c"}"#
            ).contains("must be after 'startsAt' and in the future"))
        #expect(
            Self.message(
                #"{"matchers":[{"name":"rule","value":"x"}],"endsAt":"tomorrow","createdBy":"a","comment":"c"}"#
            )
            .contains("not an RFC 3339 time"))
        #expect(
            Self.message(#"{"matchers":[{"name":"rule","value":"x"}],"endsAt":"2030-01-01T00:00:00Z","comment":"c"}"#)
                == "'createdBy' is required")
        #expect(
            Self.message(#"{"matchers":[{"name":"rule","value":"x"}],\#(end),"until":1}"#).contains("unknown field"))
        #expect(Self.message("[1]") == "expected a JSON object")
        #expect(
            Self.message(#"{"matchers":[{"name":"rule","value":"x","isRegex":"yes"}],\#(end)}"#)
                .contains("'isRegex' must be true or false"))
    }
}

@Suite struct RouterControlsTests {
    /// A silence made at run time leaves the alert out of the group's notifications; when it
    /// expires, the group is sent again at its next group_interval with the alert in it.
    @Test func silencedAlertsComeBackWhenTheSilenceExpires() throws {
        let config = try #require(DeliveryConfigTests.check(AlertRouterTests.config).config)
        let controls = try DeliveryControls(path: nil)
        var r = AlertRouter(config: config)
        r.controls = controls
        r.wallNow = RuntimeSilenceTests.now
        let silence = try RuntimeSilence.parse(
            try JSONValue.parse(
                #"{"matchers":[{"name":"device","value":"d2"}],"endsAt":"2030-01-01T00:00:00Z","createdBy":"a","comment":"c"}"#
            ), now: r.wallNow)
        let id = try controls.put(silence)
        let t = AlertRouterTests.t0
        var out = r.process(
            [AlertRouterTests.event("hot", "d1", .fired, at: t), AlertRouterTests.event("hot", "d2", .fired, at: t)],
            inventory: AlertRouterTests.inventory)
        out += r.advance(to: t + 30)
        #expect(out.count == 1)
        #expect(out.first?.alerts.map { $0.labels["device"] } == ["d1"])
        #expect(r.stats.suppressed == 1)
        // Expired: d2 comes back at the group's next interval (5m), not before.
        _ = try controls.expire(id, now: r.wallNow + 1)
        r.wallNow += 2
        r.recheck(at: t + 60)
        #expect(r.advance(to: t + 60).isEmpty)
        let back = r.advance(to: t + 30 + 300)
        #expect(back.count == 1)
        #expect(back.first?.alerts.compactMap { $0.labels["device"] }.sorted() == ["d1", "d2"])
    }

    /// An acknowledged alert is left out of repeats; its resolve still goes out; the next
    /// episode of the same rule and device has a new id and is not acknowledged.
    @Test func acknowledgedAlertsStopRepeatingUntilANewEpisode() throws {
        let config = try #require(DeliveryConfigTests.check(AlertRouterTests.config).config)
        let controls = try DeliveryControls(path: nil)
        var r = AlertRouter(config: config)
        r.controls = controls
        let t = AlertRouterTests.t0
        let fired = AlertRouterTests.event("hot", "d1", .fired, at: t)
        var out = r.process([fired], inventory: AlertRouterTests.inventory) + r.advance(to: t + 30)
        #expect(out.count == 1)
        let alert = DeliveryAlert(fired, inventory: AlertRouterTests.inventory)
        try controls.acknowledge(Acknowledgement(alertID: alert.alertID, by: "ana", comment: "on it", at: 0))
        out = r.advance(to: t + 30 + 3 * 3600)
        #expect(out.isEmpty, "no repeats of an acknowledged alert")
        let resolved = AlertRouterTests.event("hot", "d1", .resolved, at: t + 4 * 3600)
        var closing = resolved
        closing.episode.since = t
        out = r.process([closing], inventory: AlertRouterTests.inventory) + r.advance(to: t + 5 * 3600)
        #expect(out.count == 1 && out.first?.status == .resolved, "the resolve of an acknowledged alert goes out")
        let again = AlertRouterTests.event("hot", "d1", .fired, at: t + 6 * 3600)
        out = r.process([again], inventory: AlertRouterTests.inventory) + r.advance(to: t + 7 * 3600)
        let refired = DeliveryAlert(again, inventory: AlertRouterTests.inventory)
        #expect(refired.alertID != alert.alertID)
        #expect(out.first?.alerts.map(\.alertID) == [refired.alertID])
    }
}

/// Helpers for the tests against a real `serve`.
enum ServeControl {
    static func reading(_ minute: Int, _ device: String, _ battery: Double) -> String {
        let t = 1_772_323_200 + minute * 60  // 2026-03-01T00:00:00Z
        return "{\"ts\":\"\(Timestamp.format(Double(t)))\",\"device\":\"\(device)\",\"battery_pct\":\(battery)}"
    }

    static func readings(_ minute: Int, _ values: [String: Double]) -> String {
        values.sorted { $0.key < $1.key }.map { reading(minute, $0.key, $0.value) }.joined(separator: "\n") + "\n"
    }

    /// Polls until `condition` holds or `seconds` pass; returns whether it held.
    static func wait(_ seconds: Double = 60, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        return try await condition()
    }

    /// The webhook bodies the receiver stored, in arrival order.
    static func received(_ store: String) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: store, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let row = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let body = row["body"] as? String
            else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        }
    }

    /// The group keys of the notifications received.
    static func groups(_ store: String) -> [String] { received(store).compactMap { $0["group_key"] as? String } }

    static func alerts(_ serve: ServeProcess) async throws -> [[String: Any]] {
        try await serve.get("/v1/alerts").json["alerts"] as? [[String: Any]] ?? []
    }

    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetrules-state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    static func webhookConfig(_ receiver: Served, extra: String = "") -> String {
        """
        delivery: 1
        outbox:
          backoff: { initial: 100ms, max: 1s }
        receivers:
          - name: ops
            webhook: { url: "\(receiver.base)/hooks", secret: \(DeliveryFixture.secret), timeout: 5s }
        route:
          receiver: ops
          group_by: [rule, device]
          group_wait: 0s
          group_interval: 1m
          repeat_interval: 10m
        \(extra)
        """
    }
}

@Suite(.serialized) struct ServeSilenceTests {
    /// A silence posted over HTTP (a regex and a negative matcher) stops the notifications of
    /// the alerts it selects while they are still evaluated and reported as silenced; it
    /// survives a kill -9 and restart; `fleetrules silence expire` resumes them.
    @Test func aSilenceStopsNotificationsSurvivesARestartAndItsExpiryResumesThem() async throws {
        let store = try CLI.temporaryFile("received.jsonl", "")
        try FileManager.default.removeItem(atPath: store)
        let receiver = try Served(["webhook-receiver", "--secret", DeliveryFixture.secret, "--store", store])
        defer { receiver.stop() }
        let (pack, _, inventory) = try DeliveryFixture.smallFleet()
        let config = try CLI.temporaryFile("d.yaml", ServeControl.webhookConfig(receiver))
        let state = try ServeControl.temporaryDirectory()
        let tokenFile = try CLI.temporaryFile("token", "s3cret\n")
        let args = [
            "--rules", pack, "--inventory", inventory, "--deliver", config, "--state-dir", state, "--token-file",
            tokenFile, "--lateness", "0s",
        ]
        var serve = try ServeProcess(args)
        defer { serve.stop() }
        let server = "http://127.0.0.1:\(serve.port)"

        // Every battery-low except d1's critical page: a regex and a negative matcher.
        let add = try CLI.run([
            "silence", "add", "device=~d[0-9]", "severity!=critical", "rule=~battery-.*", "--duration", "2h",
            "--comment", "replacing the packs", "--author", "ana", "--server", server, "--token-file", tokenFile,
        ])
        #expect(add.status == 0, "\(add.stderr)")
        let id = add.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!id.isEmpty)
        let refused = try await serve.request(
            "POST", "/v1/silences", body: Data(#"{"matchers":[{"name":"rule","value":"x"}]}"#.utf8), token: "s3cret",
            contentType: "application/json")
        #expect(refused.status == 400 && refused.json["error"] as? String == "invalid_silence", "\(refused.text)")
        let anonymous = try CLI.run(["silence", "add", "rule=x", "--comment", "c", "--server", server])
        #expect(anonymous.status == 1 && anonymous.stderr.contains("401"), "\(anonymous.stderr)")

        var ingest = try await serve.post(
            "/v1/telemetry",
            ServeControl.readings(0, ["d1": 50, "d2": 50]) + ServeControl.readings(10, ["d1": 3, "d2": 15]),
            token: "s3cret")
        #expect(ingest.status == 200, "\(ingest.text)")
        #expect(try await ServeControl.wait { ServeControl.groups(store).count >= 1 })
        // Only battery-empty: d1's battery-low and d2's are silenced, but evaluated and reported.
        let alerts = try await ServeControl.alerts(serve)
        #expect(alerts.count == 3)
        let silenced = alerts.filter { ($0["silenced_by"] as? [String]) == [id] }
        #expect(silenced.compactMap { $0["rule"] as? String } == ["battery-low", "battery-low"])
        let report = try await serve.get("/v1/report").json["alerts"] as? [[String: Any]] ?? []
        #expect(report.filter { $0["silenced_by"] != nil }.count == 2)
        let query = try CLI.run(["silence", "query", "--server", server, "--format", "json"])
        let listed = try #require(try JSONSerialization.jsonObject(with: Data(query.stdout.utf8)) as? [[String: Any]])
        #expect(listed.first?["id"] as? String == id)
        #expect((listed.first?["status"] as? [String: Any])?["state"] as? String == "active")

        // kill -9 and restart on the same state: the silence and the routing state are kept,
        // so the repeats due as the fleet's time goes on leave the silenced alerts out.
        kill(serve.process.processIdentifier, SIGKILL)
        serve.process.waitUntilExit()
        serve = try ServeProcess(args)
        let restarted = "http://127.0.0.1:\(serve.port)"
        let single = try await serve.get("/v1/silences/\(id)")
        #expect(single.status == 200 && single.json["comment"] as? String == "replacing the packs")
        ingest = try await serve.post(
            "/v1/telemetry", ServeControl.readings(25, ["d1": 3, "d2": 15]), token: "s3cret")
        #expect(ingest.status == 200)
        // The repeat of battery-empty (10m) arrives; a battery-low one must not.
        #expect(try await ServeControl.wait { ServeControl.groups(store).count >= 2 })
        #expect(
            ServeControl.groups(store).allSatisfy { $0.contains("rule=battery-empty") }, "\(ServeControl.groups(store))"
        )

        // Expired: both battery-low groups are notified at their next group interval.
        let expire = try CLI.run(["silence", "expire", id, "--server", restarted, "--token-file", tokenFile])
        #expect(expire.status == 0, "\(expire.stderr)")
        let expired = try await serve.get("/v1/silences/\(id)")
        #expect((expired.json["status"] as? [String: Any])?["state"] as? String == "expired")
        ingest = try await serve.post("/v1/telemetry", ServeControl.readings(27, ["d1": 3, "d2": 15]), token: "s3cret")
        #expect(
            try await ServeControl.wait {
                ServeControl.groups(store).filter { $0.contains("rule=battery-low") }.count == 2
            }, "\(ServeControl.groups(store))")
        #expect((try await ServeControl.alerts(serve)).allSatisfy { $0["silenced_by"] == nil })
        #expect(try await serve.get("/v1/silences/nope").status == 404)
    }

    /// An acknowledged webhook alert stops repeating while the others go on; a resolved then
    /// refiring alert is a new episode with a new id, notified and not acknowledged.
    @Test func anAcknowledgedAlertStopsRepeatingAndANewEpisodeIsNotAcknowledged() async throws {
        let store = try CLI.temporaryFile("received.jsonl", "")
        try FileManager.default.removeItem(atPath: store)
        let receiver = try Served(["webhook-receiver", "--secret", DeliveryFixture.secret, "--store", store])
        defer { receiver.stop() }
        let (pack, _, inventory) = try DeliveryFixture.smallFleet()
        let config = try CLI.temporaryFile("d.yaml", ServeControl.webhookConfig(receiver))
        let state = try ServeControl.temporaryDirectory()
        let args = [
            "--rules", pack, "--inventory", inventory, "--deliver", config, "--state-dir", state, "--lateness", "0s",
        ]
        var serve = try ServeProcess(args)
        defer { serve.stop() }
        let d2 = "ops/r/rule=battery-low,device=d2"
        _ = try await serve.post("/v1/telemetry", ServeControl.readings(0, ["d1": 15, "d2": 15]))
        _ = try await serve.post("/v1/telemetry", ServeControl.readings(1, ["d1": 15, "d2": 15]))
        #expect(try await ServeControl.wait { Set(ServeControl.groups(store)).count == 2 })
        let target = try #require(
            try await ServeControl.alerts(serve).first { $0["device"] as? String == "d2" }?["id"] as? String)
        let unknown = try await serve.post("/v1/alerts/a_000/ack", #"{"by":"ana"}"#)
        #expect(unknown.status == 404)
        let noOne = try await serve.post("/v1/alerts/\(target)/ack", #"{"comment":"x"}"#)
        #expect(noOne.status == 400)
        let ack = try await serve.post("/v1/alerts/\(target)/ack", #"{"by":"ana","comment":"driving there"}"#)
        #expect(ack.status == 200, "\(ack.text)")
        let shown = try await ServeControl.alerts(serve).first { $0["id"] as? String == target }
        #expect((shown?["acknowledged"] as? [String: Any])?["by"] as? String == "ana")

        // Kept across a restart; repeats (every 10m of fleet time) go on for d1 only.
        serve.stop()
        serve = try ServeProcess(args)
        for minute in [12, 24, 36] {
            _ = try await serve.post("/v1/telemetry", ServeControl.readings(minute, ["d1": 15, "d2": 15]))
        }
        #expect(try await ServeControl.wait { ServeControl.groups(store).count >= 5 }, "\(ServeControl.groups(store))")
        #expect(ServeControl.groups(store).filter { $0 == d2 }.count == 1, "\(ServeControl.groups(store))")
        let acked = try await ServeControl.alerts(serve).first { $0["id"] as? String == target }
        #expect((acked?["acknowledged"] as? [String: Any])?["comment"] as? String == "driving there")

        // Resolved (the resolve is sent), then firing again: a new id, notified, not acknowledged.
        _ = try await serve.post("/v1/telemetry", ServeControl.readings(40, ["d1": 15, "d2": 60]))
        _ = try await serve.post("/v1/telemetry", ServeControl.readings(50, ["d1": 15, "d2": 15]))
        let d2Episodes = try await ServeControl.alerts(serve).filter { $0["device"] as? String == "d2" }
        let refired = try #require(d2Episodes.first { $0["until"] is NSNull })
        #expect(refired["id"] as? String != target)
        #expect(refired["acknowledged"] == nil)
        #expect(try await ServeControl.wait { ServeControl.groups(store).filter { $0 == d2 }.count >= 3 })
        // The latest of the group's notifications by event time (two may arrive in either order).
        let last = ServeControl.received(store).filter { $0["group_key"] as? String == d2 }
            .max { ($0["time"] as? String ?? "") < ($1["time"] as? String ?? "") }
        #expect((last?["alerts"] as? [[String: Any]])?.first?["status"] as? String == "firing")
        // The resolved episode takes no acknowledgement (after the restart the engine dates it from
        // the journal's readings, so it may no longer be found under the id delivery used: 404).
        let late = try await serve.post("/v1/alerts/\(target)/ack", #"{"by":"ana"}"#)
        #expect(late.status == 409 || late.status == 404, "\(late.text)")
    }

    /// The SMS mock's `ACK` reply to a page sent by serve acknowledges the page's alert (shown
    /// in /v1/alerts) and cancels the escalation to the next contact.
    @Test func anSMSAckAcknowledgesThePagedAlertAndStopsTheEscalation() async throws {
        let gateway = try Served(["sms-gateway"])
        defer { gateway.stop() }
        let (pack, _, inventory) = try DeliveryFixture.smallFleet()
        let extra = """
            silences:
              - match: { severity: warning }
                ends: 2030-01-01T00:00:00Z
            """
        // The escalation is an hour: only an ACK can settle ben's step within the test.
        let config = try CLI.temporaryFile(
            "d.yaml", DeliveryFixture.config(webhook: nil, sms: gateway.base, escalate: "1h", extra: extra))
        let state = try ServeControl.temporaryDirectory()
        let serve = try ServeProcess([
            "--rules", pack, "--inventory", inventory, "--deliver", config, "--state-dir", state,
        ])
        defer { serve.stop() }
        // The page closes when its batch window (1h of fleet time) has passed.
        _ = try await serve.post("/v1/telemetry", ServeControl.readings(0, ["d1": 3]))
        _ = try await serve.post("/v1/telemetry", ServeControl.readings(61, ["d1": 3]))
        var messages: [[String: Any]] = []
        #expect(
            try await ServeControl.wait {
                messages = try #require(try await gateway.getJSON("/messages") as? [[String: Any]])
                return !messages.isEmpty
            })
        let page = try #require(messages.first)
        #expect(page["to"] as? String == "+4915112345678")
        let code = try #require((page["text"] as? String).flatMap { SMSSink.ackCode(in: $0) })
        let reply = try await MockClient.post(
            gateway.base + "/inbound", json: #"{"from":"+4915112345678","text":"ACK \#(code)"}"#)
        #expect(reply.status == 202)
        #expect(
            try await ServeControl.wait {
                let a = try await ServeControl.alerts(serve).first { $0["rule"] as? String == "battery-empty" }
                return (a?["acknowledged"] as? [String: Any])?["by"] as? String == "+4915112345678"
            })
        let list = try CLI.run(["outbox", "list", "--outbox", state + "/outbox.sqlite", "--format", "json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        let ben = rows.first { $0["target"] as? String == "+4915187654321" }
        #expect(ben?["status"] as? String == "cancelled", "\(rows)")
        let why = (ben?["last_error"] as? String) ?? ""
        #expect(why.contains("acknowledged by +4915112345678"), "\(why)")
        messages = try #require(try await gateway.getJSON("/messages") as? [[String: Any]])
        #expect(messages.count == 1)
    }

    /// kill -9 of serve while it delivers, then a restart on the same state directory: every
    /// notification in the outbox reaches the receiver, a notification sent again carries the
    /// same idempotency key, and the restart routes nothing twice.
    @Test func aKilledServeLosesNothingAndResendsUnderTheSameKeys() async throws {
        let store = try CLI.temporaryFile("received.jsonl", "")
        try FileManager.default.removeItem(atPath: store)
        let receiver = try Served([
            "webhook-receiver", "--secret", DeliveryFixture.secret, "--store", store, "--delay", "40ms",
        ])
        defer { receiver.stop() }
        let (pack, _, _) = try DeliveryFixture.smallFleet()
        let devices = (1...150).map { String(format: "d%03d", $0) }
        let inventory = try CLI.temporaryFile(
            "inv.csv", "device,type,site,zone,gateway\n" + devices.map { "\($0),s,plant-a,z,gw1\n" }.joined())
        let config = try CLI.temporaryFile("d.yaml", ServeControl.webhookConfig(receiver))
        let state = try ServeControl.temporaryDirectory()
        let args = [
            "--rules", pack, "--inventory", inventory, "--deliver", config, "--state-dir", state, "--journal-sync",
            "always", "--lateness", "0s",
        ]
        let first = try ServeProcess(args)
        let body =
            ServeControl.readings(0, Dictionary(uniqueKeysWithValues: devices.map { ($0, 50.0) }))
            + ServeControl.readings(10, Dictionary(uniqueKeysWithValues: devices.map { ($0, 3.0) }))
        let ingest = try await first.post("/v1/telemetry", body)
        #expect(ingest.status == 200)
        #expect(
            try await ServeControl.wait(120) {
                (try await receiver.getJSON("/received") as? [String: Any])?["received"] as? Int ?? 0 >= 5
            })
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        let outbox = state + "/outbox.sqlite"
        func rows() throws -> [[String: Any]] {
            let list = try CLI.run(["outbox", "list", "--outbox", outbox, "--format", "json"])
            return try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]] ?? []
        }
        let before = try rows()
        #expect(before.count == 300, "two alerts per device, one group each")
        #expect(before.contains { $0["status"] as? String == "pending" }, "the kill must land mid-delivery")

        let second = try ServeProcess(args)
        defer { second.stop() }
        #expect(
            try await ServeControl.wait(180) {
                try rows().allSatisfy { $0["status"] as? String == "delivered" }
            })
        let after = try rows()
        #expect(Set(after.compactMap { $0["id"] as? String }) == Set(before.compactMap { $0["id"] as? String }))
        // Count what arrived by idempotency key: every key at least once, nothing else; a key
        // seen twice is a message sent again after the kill, under its key.
        var counts: [String: Int] = [:]
        for message in ServeControl.received(store) { counts[message["id"] as? String ?? "", default: 0] += 1 }
        let ids = Set(after.compactMap { $0["id"] as? String })
        #expect(Set(counts.keys) == ids)
        let summary = try #require(try await receiver.getJSON("/received") as? [String: Any])
        #expect(summary["unique"] as? Int == ids.count)
        #expect(summary["received"] as? Int == counts.values.reduce(0, +))
        #expect(summary["rejected"] as? Int == 0)
        #expect(second.log.contains("delivery state restored"), "\(second.log)")
    }
}

@Suite(.serialized) struct ServeAlertmanagerTests {
    /// serve in front of a real Alertmanager: a silenced alert is never posted while the
    /// silence holds, the others are, and a firing group is posted again on the wall clock
    /// (resend_interval) without new readings; expiring the silence posts the silenced one.
    @Test func silencedAlertsStayOutOfAlertmanagerAndFiringOnesArePostedAgain() async throws {
        let am = try await RealAlertmanager()
        defer { am.stop() }
        let (pack, _, inventory) = try DeliveryFixture.smallFleet()
        let config = try CLI.temporaryFile(
            "d.yaml",
            """
            delivery: 1
            outbox:
              backoff: { initial: 100ms, max: 1s }
            receivers:
              - name: am
                alertmanager: { url: "\(am.base)", resend_interval: 2s }
            route:
              receiver: am
              group_by: [rule, device]
              group_wait: 0s
              group_interval: 1m
            """)
        let state = try ServeControl.temporaryDirectory()
        let serve = try ServeProcess([
            "--rules", pack, "--inventory", inventory, "--deliver", config, "--state-dir", state, "--lateness", "0s",
        ])
        defer { serve.stop() }
        let silence = try await serve.post(
            "/v1/silences",
            #"{"matchers":[{"name":"device","value":"d2"}],"endsAt":"2099-01-01T00:00:00Z","createdBy":"ana","comment":"swap"}"#
        )
        #expect(silence.status == 200, "\(silence.text)")
        let id = try #require(silence.json["silenceID"] as? String)
        _ = try await serve.post("/v1/telemetry", ServeControl.readings(0, ["d1": 15, "d2": 15]))
        func devices() async throws -> [String] {
            try await am.alerts().compactMap { ($0["labels"] as? [String: Any])?["device"] as? String }.sorted()
        }
        #expect(try await ServeControl.wait { try await devices() == ["d1"] })
        // Posted again on the wall clock with no new readings: more than one delivered post of d1's group.
        let outbox = state + "/outbox.sqlite"
        #expect(
            try await ServeControl.wait {
                let list = try CLI.run(["outbox", "list", "--outbox", outbox, "--format", "json"])
                let rows = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]] ?? []
                return rows.filter { $0["status"] as? String == "delivered" }.count >= 2
            })
        #expect(try await devices() == ["d1"])
        let expired = try await serve.request("DELETE", "/v1/silences/\(id)")
        #expect(expired.status == 200)
        _ = try await serve.post("/v1/telemetry", ServeControl.readings(2, ["d1": 15, "d2": 15]))
        #expect(try await ServeControl.wait { try await devices() == ["d1", "d2"] })
    }
}
