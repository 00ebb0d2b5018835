import FleetRulesMocks
import Foundation
import Testing

@testable import FleetRules
@testable import FleetRulesDelivery
@testable import FleetRulesDeliveryConfig

#if canImport(Glibc)
    import Glibc
#endif

// MARK: matchers

@Suite struct MatcherTests {
    typealias M = DeliveryConfig.Matcher

    static func m(_ name: String, _ op: M.Operator, _ value: String) throws -> M {
        try #require(M(name: name, op: op, value: value))
    }

    @Test func equalAndNotEqualReadAMissingLabelAsEmpty() throws {
        let labels = ["rule": "battery-low", "site": "plant-a"]
        #expect(try Self.m("rule", .equal, "battery-low").matches(labels))
        #expect(try !Self.m("rule", .equal, "battery").matches(labels))
        #expect(try Self.m("rule", .notEqual, "battery").matches(labels))
        #expect(try !Self.m("rule", .notEqual, "battery-low").matches(labels))
        // A label the alert lacks is "": `team!="network"` holds, `team=""` selects its absence.
        #expect(try Self.m("team", .notEqual, "network").matches(labels))
        #expect(try Self.m("team", .equal, "").matches(labels))
        #expect(try !Self.m("site", .equal, "").matches(labels))
        // The `match:` form needs the label present.
        #expect(M(label: "rule", values: ["x", "battery-low"]).matches(labels))
        #expect(!M(label: "team", values: [""]).matches(labels))
    }

    @Test func regexesAreAnchoredAtBothEnds() throws {
        let d1 = ["device": "d-1"]
        let d10 = ["device": "d-10"]
        let re = try Self.m("device", .regex, "d-1")
        #expect(re.matches(d1))
        #expect(!re.matches(d10))
        #expect(!(try Self.m("device", .regex, "-1")).matches(d1))
        #expect(try Self.m("device", .regex, "d-1.*").matches(d10))
        // Alternation stays inside the anchors: not `^a|b$`.
        let alt = try Self.m("severity", .regex, "warning|critical")
        #expect(alt.matches(["severity": "critical"]))
        #expect(!alt.matches(["severity": "critical-ish"]))
        #expect(!alt.matches(["severity": "pre-warning"]))
        #expect(try Self.m("team", .regex, "").matches(d1))  // a missing label matches ""
        #expect(try Self.m("team", .regex, ".*").matches(d1))
    }

    @Test func negativeRegexes() throws {
        let nr = try Self.m("device", .notRegex, "d-1")
        #expect(!nr.matches(["device": "d-1"]))
        #expect(nr.matches(["device": "d-10"]))
        #expect(nr.matches([:]))
        #expect(!(try Self.m("team", .notRegex, ".*")).matches([:]))
    }

    @Test func operatorsFollowIsRegexAndIsEqual() {
        #expect(M.Operator(isRegex: false, isEqual: true) == .equal)
        #expect(M.Operator(isRegex: false, isEqual: false) == .notEqual)
        #expect(M.Operator(isRegex: true, isEqual: true) == .regex)
        #expect(M.Operator(isRegex: true, isEqual: false) == .notRegex)
        #expect(M(name: "a", op: .regex, value: "(") == nil)
        #expect(M(name: "a", op: .equal, value: "(") != nil)
    }

    static func parsed(_ text: String) -> String {
        guard let p = MatcherText.parse(text) else { return "nil" }
        return "\(p.name) \(p.op.rawValue) \(p.value)"
    }

    @Test func theTextFormParses() throws {
        #expect(Self.parsed(#"severity=~"warning|critical""#) == "severity =~ warning|critical")
        #expect(Self.parsed(#"team != "net""#) == "team != net")
        #expect(Self.parsed(#"x!~"a\"b""#) == #"x !~ a"b"#)
        #expect(Self.parsed("rule=battery-low") == "rule = battery-low")
        #expect(Self.parsed("rule") == "nil")
        #expect(Self.parsed(#"rule="open"#) == "nil")
        #expect(Self.parsed(#"="x""#) == "nil")
        #expect(Self.parsed(#"a="x" b"#) == "nil")
        #expect(try Self.m("x", .regex, "a|b").description == #"x=~"a|b""#)
    }

    @Test func silencesRoutesAndInhibitionUseThem() throws {
        let check = DeliveryConfigTests.check(
            """
            delivery: 1
            receivers:
              - name: ops
                webhook: { url: "http://127.0.0.1:1/h", secret: \(DeliveryFixture.secret) }
              - name: net
                webhook: { url: "http://127.0.0.1:1/n", secret: \(DeliveryFixture.secret) }
            route:
              receiver: ops
              group_by: [rule, device]
              group_wait: 0s
              routes:
                - matchers: ['rule=~"gw-.*"', 'severity!="info"']
                  receiver: net
            silences:
              - matchers:
                  - { name: device, value: "d[12]", isRegex: true }
                  - { name: rule, value: hot, isEqual: false }
                ends: 2030-01-01T00:00:00Z
              - match: { rule: noisy }
                ends: 2030-01-01T00:00:00Z
            inhibit:
              - source_matchers: ['rule="gw-down"']
                target_matchers: ['rule!~"gw-.*"']
                equal: [gateway]
            """)
        #expect(check.diagnostics.isEmpty, "\(check.diagnostics.map(\.headline))")
        let config = try #require(check.config)
        var router = AlertRouter(config: config)
        let t = AlertRouterTests.t0
        let inv = AlertRouterTests.inventory
        let out =
            router.process(
                [
                    AlertRouterTests.event("cold", "d1", .fired, at: t),  // silenced: d1, not hot
                    AlertRouterTests.event("hot", "d1", .fired, at: t),  // d1 but hot: delivered
                    AlertRouterTests.event("cold", "d3", .fired, at: t),  // d3: delivered
                    AlertRouterTests.event("noisy", "d3", .fired, at: t),  // the `match:` silence
                    AlertRouterTests.event("gw-slow", "d3", .fired, at: t),  // to net
                    AlertRouterTests.event("gw-fast", "d3", .fired, at: t, severity: .info),  // info: stays with ops
                    AlertRouterTests.event("gw-slow", "d1", .fired, at: t),  // silenced: d1, not hot
                ], inventory: inv) + router.finish()
        #expect(router.stats.silenced == 3)
        let sent = out.map { "\($0.receiver):\($0.alerts.map { "\($0.rule)@\($0.labels["device"] ?? "")" }.joined())" }
            .sorted()
        #expect(sent == ["net:gw-slow@d3", "ops:cold@d3", "ops:gw-fast@d3", "ops:hot@d1"])

        var inhibiting = AlertRouter(config: config)
        let inhibited =
            inhibiting.process(
                [
                    AlertRouterTests.event("gw-down", "gw1", .fired, at: t),
                    AlertRouterTests.event("dev-silent", "d3", .fired, at: t + 1),  // gateway gw2: not inhibited
                    AlertRouterTests.event("gw-slow", "d3", .fired, at: t + 1),  // a gw- rule: not a target
                ], inventory: inv) + inhibiting.finish()
        #expect(inhibiting.stats.inhibited == 0)
        #expect(inhibited.count == 3)
        var gw1 = AlertRouter(config: config)
        _ = gw1.process(
            [
                AlertRouterTests.event("gw-down", "gw1", .fired, at: t),
                AlertRouterTests.event("hot", "d2", .fired, at: t + 1),  // behind gw1, not silenced (hot)
            ], inventory: inv)
        #expect(gw1.stats.silenced == 0)
        #expect(gw1.stats.inhibited == 1)
    }

    @Test func badMatchersAreLocatedErrors() {
        let r = DeliveryConfigTests.check(
            """
            delivery: 1
            receivers:
              - name: ops
                webhook: { url: "http://127.0.0.1:1/h", secret: \(DeliveryFixture.secret) }
            route:
              receiver: ops
              routes:
                - matchers: ['severity=~"(warning"']
                  receiver: ops
                - matchers: ['severity<>"x"', '1abc="x"']
                  receiver: ops
            silences:
              - matchers: [{ name: device, value: "d-[0-9", isRegex: true }]
                ends: 2030-01-01T00:00:00Z
              - matchers: [{ name: device, value: x, isRegx: true }]
                ends: 2030-01-01T00:00:00Z
              - ends: 2030-01-01T00:00:00Z
            """)
        let heads = r.diagnostics.map(\.headline)
        #expect(r.config == nil)
        #expect(
            heads.contains(
                "d.yaml:8:18: error[E0606]: the regular expression '(warning' of label 'severity' does not compile"),
            "\(heads)")
        #expect(heads.contains(#"d.yaml:10:18: error[E0606]: invalid matcher 'severity<>"x"' in matchers"#), "\(heads)")
        #expect(
            heads.contains(#"d.yaml:10:35: error[E0606]: invalid label name '1abc' in matcher '1abc="x"'"#), "\(heads)")
        #expect(
            heads.contains(
                "d.yaml:13:39: error[E0606]: the regular expression 'd-[0-9' of label 'device' does not compile"),
            "\(heads)")
        #expect(heads.contains("d.yaml:15:42: error[E0103]: unknown key 'isRegx' in a matcher"), "\(heads)")
        #expect(heads.contains("d.yaml:17:5: error[E0105]: a silence needs `matchers` or `match`"), "\(heads)")
        let regex = r.diagnostics.first { $0.code == .invalidMatcher }
        #expect(regex?.hint?.contains("anchored") == true)
    }
}

// MARK: the Alertmanager receiver

@Suite struct AlertmanagerPayloadTests {
    static let config = """
        delivery: 1
        receivers:
          - name: am
            alertmanager: { url: "http://127.0.0.1:9093/", external_url: "http://fleet.example:8080" }
        route:
          receiver: am
          group_by: [rule, device]
          group_wait: 0s
          repeat_interval: 4h
        """

    @Test func theReceiverIsChecked() throws {
        let r = DeliveryConfigTests.check(Self.config)
        #expect(r.diagnostics.isEmpty, "\(r.diagnostics.map(\.headline))")
        guard case .alertmanager(let am)? = try #require(r.config).receivers.first?.channel else {
            Issue.record("no alertmanager receiver")
            return
        }
        #expect(am.alertsURL == "http://127.0.0.1:9093/api/v2/alerts")
        #expect(am.resendInterval == 60)
        #expect(am.timeout == 10)
        #expect(am.externalURL == "http://fleet.example:8080")
        let bad = DeliveryConfigTests.check(
            """
            delivery: 1
            receivers:
              - name: am
                alertmanager: { url: "127.0.0.1:9093", resend_interval: soon }
                webhook: { url: "http://127.0.0.1:1/h", secret: \(DeliveryFixture.secret) }
              - name: am2
                alertmanager: { url: "http://127.0.0.1:9093", resend: 1m }
            route: { receiver: am }
            """)
        let heads = bad.diagnostics.map(\.headline)
        #expect(
            heads.contains("d.yaml:5:5: error[E0110]: receiver 'am' has both `alertmanager` and `webhook`"), "\(heads)")
        #expect(heads.contains("d.yaml:7:51: error[E0103]: unknown key 'resend' in alertmanager of 'am2'"), "\(heads)")
        let url = DeliveryConfigTests.check(
            """
            delivery: 1
            receivers:
              - name: am
                alertmanager: { url: "127.0.0.1:9093", resend_interval: soon }
            route: { receiver: am }
            """
        ).diagnostics.map(\.headline)
        #expect(
            url.contains("d.yaml:4:26: error[E0602]: alertmanager url '127.0.0.1:9093' is not an absolute http(s) URL"),
            "\(url)")
        #expect(url.contains("d.yaml:4:61: error[E0112]: invalid duration 'soon' in resend_interval"), "\(url)")
    }

    static func episode(_ change: AlertEvent.Change, at t: Double, since: Double) -> AlertEvent {
        AlertEvent(
            change: change, time: t,
            episode: AlertEpisode(
                rule: "battery-low", kind: .alert, pack: "p", device: "d1", severity: .warning, since: since,
                until: change == .resolved ? t : nil, value: 14, summary: "d1 battery at 14%",
                labels: ["team": "field-service", "on call": "yes", "empty": ""],
                evidence: [("threshold", .number(20)), ("state", .string("low")), ("points", .array([.number(1)]))],
                maintenance: nil))
    }

    @Test func thePayloadHasAlertmanagersShape() throws {
        let config = try #require(DeliveryConfigTests.check(Self.config).config)
        var router = AlertRouter(config: config)
        let t = AlertRouterTests.t0
        var planner = Planner(config: config)
        let notifications =
            router.process(
                [Self.episode(.fired, at: t, since: t), Self.episode(.resolved, at: t + 600, since: t)],
                inventory: AlertRouterTests.inventory) + router.finish()
        let messages = planner.plan(notifications, now: 0)
        // Sent at t, re-sent every minute (resend_interval) until the resolve at t+10m, which
        // goes out a group_interval (5m) after the last post.
        #expect(messages.map(\.eventTime) == (0...10).map { t + Double($0) * 60 } + [t + 900])
        #expect(
            messages.allSatisfy { $0.channel == .alertmanager && $0.target == "http://127.0.0.1:9093/api/v2/alerts" })
        #expect(messages.allSatisfy { $0.page == "am/r/rule=battery-low,device=d1" })
        let inv = AlertRouterTests.inventory
        let id = DeliveryAlert(Self.episode(.fired, at: t, since: t), inventory: inv).alertID
        #expect(
            messages[0].payload
                == #"[{"labels":{"alertname":"battery-low","device":"d1","gateway":"gw1","kind":"alert","on_call":"yes","#
                + #""pack":"p","rule":"battery-low","severity":"warning","site":"a","team":"field-service"},"#
                + #""annotations":{"alert_id":"\#(id)","state":"low","summary":"d1 battery at 14%","threshold":"20","value":"14"},"#
                + #""startsAt":"2026-03-01T00:00:00Z","generatorURL":"http://fleet.example:8080/v1/devices/d1"}]"#)
        #expect(messages.dropLast().allSatisfy { $0.payload == messages[0].payload })
        #expect(
            try #require(messages.last).payload.contains(
                #""startsAt":"2026-03-01T00:00:00Z","endsAt":"2026-03-01T00:10:00Z""#))
        // The stable id: the same episode on any run, a new one for a new start.
        #expect(id.hasPrefix("a_") && id.count == 26)
        #expect(DeliveryAlert(Self.episode(.resolved, at: t + 600, since: t), inventory: inv).alertID == id)
        #expect(DeliveryAlert(Self.episode(.fired, at: t + 900, since: t + 900), inventory: inv).alertID != id)
        #expect(AlertmanagerPayload.labelName("9lives") == "_9lives")
        #expect(AlertmanagerPayload.labelName("a-b.c") == "a_b_c")
    }

    @Test func firingGroupsAreResentEveryResendInterval() throws {
        let text = Self.config.replacingOccurrences(of: "external_url", with: "resend_interval: 2m, external_url")
        let config = try #require(DeliveryConfigTests.check(text).config)
        var router = AlertRouter(config: config)
        let t = AlertRouterTests.t0
        var out = router.process([Self.episode(.fired, at: t, since: t)], inventory: nil)
        out += router.advance(to: t + 599)
        // At t, then every 2 minutes (not every 4h, the route's repeat_interval).
        #expect(out.map { $0.time - t } == [0, 120, 240, 360, 480])
        // A webhook route keeps its repeat_interval.
        var hooks = AlertRouter(
            config: try #require(
                DeliveryConfigTests.check(DeliveryFixture.config(webhook: "http://127.0.0.1:1", sms: nil)).config))
        var sent = hooks.process([Self.episode(.fired, at: t, since: t)], inventory: nil)
        sent += hooks.advance(to: t + 3600)
        #expect(sent.count == 1)
    }

    /// Group findings (a gateway of a balance rule) are told apart by what they are about.
    @Test func findingsAboutGatewaysStayApart() {
        func finding(_ gateway: String) -> AlertEvent {
            AlertEvent(
                change: .fired, time: 0,
                episode: AlertEpisode(
                    rule: "gateway-load", kind: .balance, pack: "p", device: "", severity: .warning, since: 0,
                    until: nil,
                    value: nil, summary: gateway, labels: [:],
                    evidence: [("group", .string("a")), ("gateway", .string(gateway))],
                    maintenance: nil, site: "a"))
        }
        let a = DeliveryAlert(finding("gw1"), inventory: nil)
        let b = DeliveryAlert(finding("gw2"), inventory: nil)
        #expect(a.key != b.key)
        #expect(a.labels["gateway"] == "gw1" && a.labels["group"] == "a")
        #expect(a.alertID != b.alertID)
    }
}

// MARK: a real Alertmanager on 127.0.0.1

/// `prometheus-alertmanager` started on a free loopback port with a generated configuration
/// (clustering off, storage in a temporary folder), stopped by `stop()`.
final class RealAlertmanager: @unchecked Sendable {
    static let binary = "/usr/bin/prometheus-alertmanager"
    let process: TestProcess
    let port: Int
    let directory: URL
    var base: String { "http://127.0.0.1:\(port)" }

    init() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw Failure("\(Self.binary) is missing: `make deps` installs the Debian package prometheus-alertmanager")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("am-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("alertmanager.yml")
        try """
        route:
          receiver: nowhere
          group_wait: 1s
        receivers:
          - name: nowhere
        """.write(to: config, atomically: true, encoding: .utf8)
        port = try Loopback.freePort()
        process = try TestProcess(
            Self.binary,
            [
                "--config.file=\(config.path)", "--storage.path=\(directory.appendingPathComponent("data").path)",
                "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address=", "--log.level=warn",
            ],
            output: directory.appendingPathComponent("alertmanager.log"))
        let ready = base + "/-/ready"
        do {
            try await process.waitUntilReady { (try? await MockClient.get(ready))?.status == 200 }
        } catch {
            stop()
            throw error
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    func stop() {
        process.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// `GET /api/v2/alerts`: the alerts Alertmanager has active (or silenced, inhibited), not the resolved.
    func alerts() async throws -> [[String: Any]] {
        let r = try await MockClient.get(base + "/api/v2/alerts")
        guard r.status == 200, let list = try JSONSerialization.jsonObject(with: Data(r.body)) as? [[String: Any]]
        else {
            throw Failure("GET /api/v2/alerts answered \(r.status)")
        }
        return list
    }
}

@Suite(.serialized) struct AlertmanagerProcessTests {
    static func deliveryConfig(_ am: RealAlertmanager, extra: String = "") -> String {
        """
        delivery: 1
        outbox:
          max_attempts: 5
          backoff: { initial: 100ms, max: 2s }
        receivers:
          - name: am
            alertmanager: { url: "\(am.base)", resend_interval: 12h, external_url: "http://127.0.0.1:8080" }
        route:
          receiver: am
          group_by: [rule, device]
          group_wait: 0s
          repeat_interval: 24h
        \(extra)
        """
    }

    /// The example fleet replayed with `run --deliver`: Alertmanager ends with exactly the
    /// alerts the run's report has open, with their labels, and none of the resolved ones.
    @Test func theExampleFleetsFiringAlertsAreActive() async throws {
        let am = try await RealAlertmanager()
        defer { am.stop() }
        let config = try CLI.temporaryFile("d.yaml", Self.deliveryConfig(am))
        let report = config + ".report.json"
        let r = try CLI.run([
            "run", "rules/", "--telemetry", "examples/fleet/telemetry.jsonl.gz", "--inventory",
            "examples/fleet/inventory.csv",
            "--format", "json", "--out", report, "--deliver", config, "--outbox", config + ".sqlite",
            "--deliver-timeout", "60s",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("0 dead") && r.stderr.contains(" 0 pending"), "\(r.stderr)")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any])
        let alerts = try #require(json["alerts"] as? [[String: Any]])
        // An alert is its rule, device and site, and for a finding about a gateway or a zone, that.
        func identity(rule: String, device: String, site: String, subject: String) -> String {
            "\(rule)|\(device)|\(site)|\(device.isEmpty ? subject : "")"
        }
        var open: Set<String> = []
        var closed: Set<String> = []
        for a in alerts {
            let evidence = a["evidence"] as? [String: Any] ?? [:]
            let id = identity(
                rule: a["rule"] as? String ?? "", device: a["device"] as? String ?? "",
                site: a["site"] as? String ?? "",
                subject: [evidence["gateway"], evidence["zone"]].compactMap { $0 as? String }.joined(separator: "/"))
            if a["until"] is NSNull { open.insert(id) } else { closed.insert(id) }
        }
        #expect(open.count == alerts.filter { $0["until"] is NSNull }.count)  // the identity tells them apart
        #expect(open.count > 30 && !closed.subtracting(open).isEmpty)
        let active = try await am.alerts()
        var seen: Set<String> = []
        for a in active {
            let labels = try #require(a["labels"] as? [String: String])
            let annotations = try #require(a["annotations"] as? [String: String])
            let status = try #require(a["status"] as? [String: Any])
            #expect(status["state"] as? String == "active" || status["state"] as? String == "unprocessed")
            #expect(labels["alertname"] == labels["rule"])
            for name in ["pack", "kind", "severity", "site"] { #expect(labels[name] != nil, "\(labels)") }
            #expect(annotations["alert_id"]?.hasPrefix("a_") == true)
            if let device = labels["device"] {
                #expect(a["generatorURL"] as? String == "http://127.0.0.1:8080/v1/devices/\(device)")
                #expect(labels["gateway"] != nil)
            }
            seen.insert(
                identity(
                    rule: labels["alertname"] ?? "", device: labels["device"] ?? "", site: labels["site"] ?? "",
                    subject: [labels["gateway"], labels["zone"]].compactMap { $0 }.joined(separator: "/")))
        }
        #expect(active.count == open.count)
        #expect(seen.isDisjoint(with: closed.subtracting(open)))
        #expect(seen == open, "only in Alertmanager: \(seen.subtracting(open)); missing: \(open.subtracting(seen))")
        // The rule's own labels arrive too (the example pack's `team`).
        #expect(active.contains { ($0["labels"] as? [String: String])?["team"] != nil })
    }

    /// Through the embedding API: a firing alert becomes active, and its delivered resolve
    /// makes it resolved, also when both posts wait in the outbox together.
    @Test func aDeliveredResolveResolvesTheAlert() async throws {
        let am = try await RealAlertmanager()
        defer { am.stop() }
        let config = try #require(DeliveryConfigTests.check(Self.deliveryConfig(am)).config)
        let path = try CLI.temporaryFile("o.sqlite", "")
        try FileManager.default.removeItem(atPath: path)
        let pipeline = try DeliveryPipeline(config: config, outboxPath: path)
        let t = AlertRouterTests.t0
        let inv = AlertRouterTests.inventory
        try pipeline.route(
            [AlertRouterTests.event("hot", "d1", .fired, at: t), AlertRouterTests.event("hot", "d2", .fired, at: t)],
            inventory: inv)
        try pipeline.advance(to: t)
        var summary = try await pipeline.deliver(until: Date().timeIntervalSince1970 + 30)
        #expect(summary.delivered == 2 && !summary.pendingLeft)
        var active = try await am.alerts()
        #expect(Set(active.compactMap { ($0["labels"] as? [String: String])?["device"] }) == ["d1", "d2"])
        // d1 resolves; d3 fires and resolves before anything is sent: its posts go in order.
        try pipeline.route(
            [
                AlertRouterTests.event("hot", "d1", .resolved, at: t + 600),
                AlertRouterTests.event("hot", "d3", .fired, at: t + 600),
                AlertRouterTests.event("hot", "d3", .resolved, at: t + 1200),
            ], inventory: inv, final: true)
        #expect(try pipeline.outbox.counts()[.pending] == 3)
        summary = try await pipeline.deliver(until: Date().timeIntervalSince1970 + 30)
        #expect(summary.delivered == 3 && summary.dead == 0)
        active = try await am.alerts()
        #expect(Set(active.compactMap { ($0["labels"] as? [String: String])?["device"] }) == ["d2"])
        let d2 = try #require(active.first)
        #expect(d2["startsAt"] as? String == "2026-03-01T00:00:00.000Z")
    }

    /// Alertmanager refuses what it cannot accept with 400: a dead letter, not retried.
    @Test func anAlertAlertmanagerRefusesIsADeadLetter() async throws {
        let am = try await RealAlertmanager()
        defer { am.stop() }
        let config = try #require(DeliveryConfigTests.check(Self.deliveryConfig(am)).config)
        let path = try CLI.temporaryFile("o.sqlite", "")
        try FileManager.default.removeItem(atPath: path)
        let outbox = try Outbox(path: path)
        let now = Date().timeIntervalSince1970
        try outbox.enqueue([
            OutboxMessage(
                id: "bad", receiver: "am", channel: .alertmanager, target: am.base + "/api/v2/alerts",
                payload: #"[{"labels":{},"startsAt":"2026-03-01T00:10:00Z","endsAt":"2026-03-01T00:00:00Z"}]"#,
                page: "g",
                nextAttempt: now, created: now, eventTime: now)
        ])
        let summary = try await Dispatcher(config: config, outbox: outbox).run(until: now + 30)
        #expect(summary.dead == 1 && summary.retried == 0)
        #expect(try outbox.list(status: .dead).first?.lastError?.contains("HTTP 400") == true)
    }
}

// MARK: docs/DELIVERY.md

@Suite struct DeliveryDocumentationTests {
    /// Every complete configuration (a `delivery: 1` block) of docs/DELIVERY.md and
    /// docs/SERVER.md checks clean.
    @Test func theDocumentsConfigurationsCheckClean() throws {
        let text = try ["docs/DELIVERY.md", "docs/SERVER.md"].map {
            try String(contentsOf: CLI.repoRoot.appendingPathComponent($0), encoding: .utf8)
        }.joined(separator: "\n")
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```yaml") {
                current = []
            } else if line.hasPrefix("```"), let c = current {
                blocks.append(c.joined(separator: "\n"))
                current = nil
            } else {
                current?.append(line)
            }
        }
        let configs = blocks.filter { $0.hasPrefix("delivery: 1") }
        #expect(configs.count >= 3)
        #expect(configs.contains { $0.contains("alertmanager:") })
        #expect(configs.contains { $0.contains("isRegex") })
        for (i, c) in configs.enumerated() {
            let r = DeliveryLoader.check(bytes: Array(c.utf8), file: "DELIVERY.md#\(i)", environment: [:])
            #expect(r.config != nil && r.diagnostics.isEmpty, "\(r.diagnostics.map(\.headline))")
        }
    }
}

@Suite struct AlertmanagerCheckTests {
    /// `fleetrules check --delivery` reads the receiver and the matchers like the library.
    @Test func checkValidatesTheReceiverAndItsMatchers() throws {
        let good = try CLI.temporaryFile(
            "d.yaml",
            """
            delivery: 1
            receivers:
              - name: am
                alertmanager: { url: "http://127.0.0.1:9093", resend_interval: 30s }
            route: { receiver: am }
            silences:
              - matchers: ['device=~"d-000[1-4][0-9]"', 'rule!="gateway-silent"']
                ends: 2030-01-01T00:00:00Z
            """)
        let ok = try CLI.run(["check", "--delivery", good])
        #expect(ok.status == 0, "\(ok.stdout)")
        #expect(ok.stdout.contains("0 errors, 0 warnings"), "\(ok.stdout)")
        let bad = try CLI.temporaryFile(
            "d.yaml",
            """
            delivery: 1
            receivers:
              - name: am
                alertmanager: { url: "http://127.0.0.1:9093" }
            route: { receiver: am }
            silences:
              - matchers: ['device=~"d-(1"']
                ends: 2030-01-01T00:00:00Z
            """)
        let r = try CLI.run(["check", "--delivery", bad])
        #expect(r.status == 1)
        #expect(
            r.stdout.contains(
                "d.yaml:7:16: error[E0606]: the regular expression 'd-(1' of label 'device' does not compile"),
            "\(r.stdout)")
        #expect(r.stdout.contains("anchored at both ends"), "\(r.stdout)")
    }
}
