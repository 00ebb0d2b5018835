import FleetRules
import Foundation

/// A `delivery` file: receivers, the routing tree, silences and inhibition rules (docs/DELIVERY.md).
public struct DeliveryConfig: Sendable {
    public var receivers: [Receiver]
    public var route: Route
    public var silences: [Silence]
    public var inhibit: [InhibitRule]
    public var outbox: OutboxSettings

    public func receiver(named name: String) -> Receiver? { receivers.first { $0.name == name } }

    public struct Receiver: Sendable {
        public var name: String
        public var channel: Channel
    }

    public enum Channel: Sendable {
        case webhook(Webhook)
        case sms(SMS)
        case alertmanager(Alertmanager)
        case mqtt(MQTT)
    }

    public struct Webhook: Sendable {
        public var url: String
        public var secret: String
        public var timeout: Double
    }

    public struct SMS: Sendable {
        public var gateway: String
        /// Alerts routed to this receiver within one window become one message per contact.
        public var batchWindow: Double
        /// At most this many messages per contact in any hour; later ones wait.
        public var maxPerHour: Int
        /// On-call order: the first contact is paged, the next after `escalateAfter` without ACK.
        public var contacts: [Contact]
    }

    public struct Contact: Sendable {
        public var name: String
        public var phone: String
        public var escalateAfter: Double?
    }

    /// A node of the routing tree; children inherit what they do not set.
    public struct Route: Sendable {
        public var receiver: String
        public var matchers: [Matcher]
        public var groupBy: [String]
        public var groupWait: Double
        public var groupInterval: Double
        public var repeatInterval: Double
        public var `continue`: Bool
        public var routes: [Route]
        /// Time intervals (the delivery file's `time_intervals:`) during which the route sends
        /// nothing, and outside which it sends nothing when any are given. Not inherited.
        public var muteTimeIntervals: [NamedTimeInterval] = []
        public var activeTimeIntervals: [NamedTimeInterval] = []

        /// Whether the route sends nothing at `t`; when it does not, the instant that may change it.
        public func muting(at t: Double) -> (muted: Bool, until: Double) {
            var mute = TimeIntervalSet(muteTimeIntervals)
            if !muteTimeIntervals.isEmpty {
                let s = mute.stretch(at: t)
                if s.inside { return (true, s.until) }
            }
            var active = TimeIntervalSet(activeTimeIntervals)
            if !activeTimeIntervals.isEmpty {
                let s = active.stretch(at: t)
                if !s.inside { return (true, s.until) }
            }
            return (false, t)
        }
    }

    public struct Silence: Sendable {
        public var matchers: [Matcher]
        public var starts: Double?
        public var ends: Double
        public var comment: String?

        /// Silences compare with the alert's event time, so a replay silences what live would.
        public func silences(_ labels: [String: String], at t: Double) -> Bool {
            if let starts, t < starts { return false }
            return t < ends && matchers.allSatisfy { $0.matches(labels) }
        }
    }

    /// While an alert matching `source` fires, alerts matching `target` with the same values
    /// of the `equal` labels are not notified (a silent gateway hides the devices behind it).
    public struct InhibitRule: Sendable {
        public var source: [Matcher]
        public var target: [Matcher]
        public var equal: [String]
    }

    public struct OutboxSettings: Sendable {
        public var path: String?
        public var maxAttempts: Int = 8
        public var initialBackoff: Double = 1
        public var maxBackoff: Double = 300
    }
}

/// The result of checking a delivery file: the config when it has no errors, and every diagnostic.
public struct DeliveryCheck: Sendable {
    public var config: DeliveryConfig?
    public var diagnostics: [Diagnostic]
    public var source: String
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// Reads a delivery file with the same located diagnostics as the policy loader.
public enum DeliveryLoader {
    /// `environment` supplies `secret_env` variables (the process environment by default).
    public static func check(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> DeliveryCheck
    {
        guard let data = FileManager.default.contents(atPath: path) else {
            var bag = DiagnosticBag()
            bag.error(.cannotRead, "cannot read '\(path)'", at: SourceRange(file: path, line: 1, column: 1))
            return DeliveryCheck(config: nil, diagnostics: bag.items, source: "")
        }
        return check(bytes: [UInt8](data), file: path, environment: environment)
    }

    public static func check(
        bytes: [UInt8], file: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> DeliveryCheck {
        var bag = DiagnosticBag()
        let source = YAMLLoader.text(of: bytes)
        guard let root = YAMLLoader().load(bytes, file: file, into: &bag) else {
            if bag.items.isEmpty {
                bag.error(.emptyFile, "the file holds no document", at: SourceRange(file: file, line: 1, column: 1))
            }
            return DeliveryCheck(config: nil, diagnostics: bag.items, source: source)
        }
        var reader = ConfigReader(file: file, environment: environment)
        let config = reader.config(root)
        bag.append(contentsOf: reader.bag.items)
        let ok = !bag.items.contains { $0.severity == .error }
        return DeliveryCheck(config: ok ? config : nil, diagnostics: bag.items, source: source)
    }
}

/// Walks the YAML tree of a delivery file; every problem is a located diagnostic.
struct ConfigReader {
    let file: String
    let environment: [String: String]
    var bag = DiagnosticBag()
    /// The file's `time_intervals:`, for the routes' `mute_time_intervals` and `active_time_intervals`.
    var timeIntervals: [String: NamedTimeInterval] = [:]

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    mutating func config(_ root: YAMLNode) -> DeliveryConfig? {
        guard
            let f = bag.fields(
                root, in: "the delivery file",
                known: ["delivery", "receivers", "route", "silences", "inhibit", "outbox", "time_intervals"],
                required: ["delivery", "receivers", "route"])
        else { return nil }
        if let e = f["time_intervals"] {
            for interval in TimeIntervalReader.read(e.value, into: &bag) { timeIntervals[interval.name] = interval }
        }
        if let v = f["delivery"] {
            if case .scalar("1", .plain) = v.value.kind {
            } else {
                bag.error(
                    .version, "unsupported delivery version", at: v.value.range, hint: "write `delivery: 1`")
            }
        }
        var receivers: [DeliveryConfig.Receiver] = []
        var receiverRanges: [String: SourceRange] = [:]
        if let r = f["receivers"], let items = bag.sequence(r.value, "receivers") {
            for item in items {
                guard let rec = receiver(item) else { continue }
                if let first = receiverRanges[rec.name] {
                    bag.error(
                        .duplicateName, "receiver '\(rec.name)' is defined twice", at: item.range,
                        notes: [Diagnostic.Note(message: "first defined here", range: first)])
                    continue
                }
                receiverRanges[rec.name] = item.range
                receivers.append(rec)
            }
        }
        let defaults = DeliveryConfig.Route(
            receiver: "", matchers: [], groupBy: ["rule", "site"], groupWait: 30, groupInterval: 300,
            repeatInterval: 4 * 3600, continue: false, routes: [])
        // Routes may name a receiver whose body has errors: those are reported there, once.
        var declared = Set(receivers.map(\.name))
        if let r = f["receivers"], case .sequence(let items) = r.value.kind {
            for item in items {
                guard case .mapping(let entries) = item.kind else { continue }
                for e in entries where e.name == "name" {
                    if case .scalar(let n, _) = e.value.kind { declared.insert(n) }
                }
            }
        }
        var used: Set<String> = []
        let root = f["route"].flatMap {
            route($0.value, parent: defaults, isRoot: true, known: declared, used: &used)
        }
        for r in receivers where !used.contains(r.name) {
            if let range = receiverRanges[r.name] {
                bag.warning(
                    .unusedReceiver, "receiver '\(r.name)' is never reached by any route", at: range,
                    hint: "name it in a route's `receiver`, or remove it")
            }
        }
        var silences: [DeliveryConfig.Silence] = []
        if let s = f["silences"], let items = bag.sequence(s.value, "silences") {
            for item in items { if let x = silence(item) { silences.append(x) } }
        }
        var inhibit: [DeliveryConfig.InhibitRule] = []
        if let s = f["inhibit"], let items = bag.sequence(s.value, "inhibit") {
            for item in items { if let x = inhibitRule(item) { inhibit.append(x) } }
        }
        var outbox = DeliveryConfig.OutboxSettings()
        if let o = f["outbox"],
            let of = bag.fields(o.value, in: "outbox", known: ["path", "max_attempts", "backoff"], required: [])
        {
            if let p = of["path"] { outbox.path = bag.string(p.value, "outbox path") }
            if let m = of["max_attempts"], let n = bag.integer(m.value, "max_attempts", minimum: 1) {
                outbox.maxAttempts = n
            }
            if let b = of["backoff"],
                let bf = bag.fields(b.value, in: "backoff", known: ["initial", "max"], required: [])
            {
                if let i = bf["initial"], let d = bag.duration(i.value, "backoff initial") { outbox.initialBackoff = d }
                if let m = bf["max"], let d = bag.duration(m.value, "backoff max") { outbox.maxBackoff = d }
            }
        }
        guard let root else { return nil }
        return DeliveryConfig(receivers: receivers, route: root, silences: silences, inhibit: inhibit, outbox: outbox)
    }

    mutating func receiver(_ node: YAMLNode) -> DeliveryConfig.Receiver? {
        guard
            let f = bag.fields(
                node, in: "a receiver", known: ["name", "webhook", "sms", "alertmanager", "mqtt"], required: ["name"])
        else { return nil }
        guard let name = f["name"].flatMap({ bag.name($0.value, "receiver name") }) else { return nil }
        if let a = f["alertmanager"] {
            return alertmanagerReceiver(a, others: [f["webhook"], f["sms"], f["mqtt"]], name: name)
        }
        if let m = f["mqtt"] { return mqttReceiver(m, other: f["webhook"] ?? f["sms"], name: name) }
        switch (f["webhook"], f["sms"]) {
        case (let w?, nil):
            return webhook(w.value, name: name).map { DeliveryConfig.Receiver(name: name, channel: .webhook($0)) }
        case (nil, let s?):
            return sms(s.value, name: name).map { DeliveryConfig.Receiver(name: name, channel: .sms($0)) }
        case (_?, let s?):
            bag.error(
                .invalidValue, "receiver '\(name)' has both `webhook` and `sms`", at: s.key.range,
                hint: "define two receivers and route to both with `continue: true`")
            return nil
        case (nil, nil):
            bag.error(
                .missingField, "receiver '\(name)' needs `webhook`, `sms`, `alertmanager` or `mqtt`", at: node.range,
                hint: "webhook: { url: http://…, secret: … }")
            return nil
        }
    }

    mutating func webhook(_ node: YAMLNode, name: String) -> DeliveryConfig.Webhook? {
        guard
            let f = bag.fields(
                node, in: "webhook of '\(name)'", known: ["url", "secret", "secret_env", "timeout"], required: ["url"])
        else { return nil }
        let url = f["url"].flatMap { httpURL($0.value, "webhook url") }
        var secret: String?
        switch (f["secret"], f["secret_env"]) {
        case (let s?, nil):
            secret = bag.string(s.value, "webhook secret")
        case (nil, let e?):
            // The secret from the environment, so it need not live in the file.
            if let variable = bag.string(e.value, "secret_env") {
                secret = environment[variable]
                if secret == nil || secret?.isEmpty == true {
                    bag.error(
                        .invalidValue, "environment variable '\(variable)' is not set", at: e.value.range,
                        hint: "export \(variable)=whsec_… before running, or write `secret:`")
                    secret = nil
                }
            }
        case (_?, let e?):
            bag.error(.invalidValue, "webhook of '\(name)' has both `secret` and `secret_env`", at: e.key.range)
        case (nil, nil):
            bag.error(
                .missingField, "webhook of '\(name)' is missing the required key 'secret'", at: node.range,
                hint: "secret: whsec_… (or secret_env: VARIABLE)")
        }
        if let secret, let s = f["secret"] ?? f["secret_env"], WebhookSecret.keyBytes(secret).count < 16 {
            bag.warning(
                .weakSecret, "the signing secret of '\(name)' is \(WebhookSecret.keyBytes(secret).count) bytes",
                at: s.value.range, hint: "use at least 16 random bytes, e.g. whsec_ and 32 base64 characters")
        }
        var timeout = 10.0
        if let t = f["timeout"], let d = bag.duration(t.value, "timeout") { timeout = d }
        guard let url, let secret else { return nil }
        return DeliveryConfig.Webhook(url: url, secret: secret, timeout: timeout)
    }

    mutating func sms(_ node: YAMLNode, name: String) -> DeliveryConfig.SMS? {
        guard
            let f = bag.fields(
                node, in: "sms of '\(name)'", known: ["gateway", "batch_window", "max_per_hour", "contacts"],
                required: ["gateway", "contacts"])
        else { return nil }
        let gateway = f["gateway"].flatMap { httpURL($0.value, "sms gateway") }
        var window = 60.0
        if let w = f["batch_window"], let d = bag.duration(w.value, "batch_window") { window = d }
        var perHour = 20
        if let m = f["max_per_hour"], let n = bag.integer(m.value, "max_per_hour", minimum: 1) { perHour = n }
        var contacts: [DeliveryConfig.Contact] = []
        if let c = f["contacts"], let items = bag.sequence(c.value, "contacts") {
            if items.isEmpty { bag.error(.invalidValue, "contacts must list at least one contact", at: c.value.range) }
            for item in items {
                guard
                    let cf = bag.fields(
                        item, in: "a contact", known: ["name", "phone", "escalate_after"], required: ["name", "phone"])
                else { continue }
                let n = cf["name"].flatMap { bag.string($0.value, "contact name") }
                let p = cf["phone"].flatMap { phone($0.value) }
                let e = cf["escalate_after"].flatMap { bag.duration($0.value, "escalate_after") }
                if let n, let p { contacts.append(DeliveryConfig.Contact(name: n, phone: p, escalateAfter: e)) }
            }
        }
        guard let gateway, !contacts.isEmpty else { return nil }
        return DeliveryConfig.SMS(gateway: gateway, batchWindow: window, maxPerHour: perHour, contacts: contacts)
    }

    mutating func route(
        _ node: YAMLNode, parent: DeliveryConfig.Route, isRoot: Bool, known: Set<String>, used: inout Set<String>
    ) -> DeliveryConfig.Route? {
        let keys = [
            "receiver", "match", "matchers", "group_by", "group_wait", "group_interval", "repeat_interval", "continue",
            "routes", "mute_time_intervals", "active_time_intervals",
        ]
        guard
            let f = bag.fields(
                node, in: isRoot ? "the root route" : "a route", known: keys, required: isRoot ? ["receiver"] : [])
        else { return nil }
        var r = parent
        r.matchers = []
        r.continue = false
        r.routes = []
        r.muteTimeIntervals = []
        r.activeTimeIntervals = []
        for (key, isMute) in [("mute_time_intervals", true), ("active_time_intervals", false)] {
            guard let e = f[key] else { continue }
            let list =
                TimeIntervalReader.resolve(
                    e.value, key, in: timeIntervals, code: .unknownRouteTimeInterval, into: &bag) ?? []
            if isMute { r.muteTimeIntervals = list } else { r.activeTimeIntervals = list }
        }
        if let e = f["receiver"], let name = bag.string(e.value, "receiver") {
            if known.contains(name) {
                r.receiver = name
            } else {
                let closest = Suggestion.closest(to: name, in: Array(known))
                bag.error(
                    .unknownReceiver, "unknown receiver '\(name)'", at: e.value.range,
                    hint: closest.map { "did you mean '\($0)'?" } ?? "define it under `receivers`")
            }
        }
        if !r.receiver.isEmpty { used.insert(r.receiver) }
        if let m = f["match"] {
            if isRoot {
                bag.warning(
                    .ignoredSetting, "the root route matches every alert; `match` has no effect", at: m.key.range)
            } else {
                r.matchers = matchers(m.value, "match")
            }
        }
        if let m = f["matchers"] {
            if isRoot {
                bag.warning(
                    .ignoredSetting, "the root route matches every alert; `matchers` has no effect", at: m.key.range)
            } else {
                r.matchers += alertmanagerMatchers(m.value, "matchers")
            }
        }
        if let g = f["group_by"], let items = bag.sequence(g.value, "group_by") {
            r.groupBy = items.compactMap { bag.string($0, "group_by label") }
        }
        if let g = f["group_wait"], let d = bag.duration(g.value, "group_wait", allowZero: true) { r.groupWait = d }
        if let g = f["group_interval"], let d = bag.duration(g.value, "group_interval") { r.groupInterval = d }
        if let g = f["repeat_interval"], let d = bag.duration(g.value, "repeat_interval") { r.repeatInterval = d }
        if let c = f["continue"], let b = bag.bool(c.value, "continue") { r.continue = b }
        if let c = f["routes"], let items = bag.sequence(c.value, "routes") {
            r.routes = items.compactMap { route($0, parent: r, isRoot: false, known: known, used: &used) }
        }
        return r
    }

    mutating func matchers(_ node: YAMLNode, _ place: String) -> [DeliveryConfig.Matcher] {
        guard case .mapping(let entries) = node.kind else {
            bag.error(
                .wrongType, "\(place) must be a mapping of label: value, found \(node.typeDescription)", at: node.range)
            return []
        }
        var out: [DeliveryConfig.Matcher] = []
        for e in entries {
            switch e.value.kind {
            case .sequence(let items):
                out.append(
                    DeliveryConfig.Matcher(
                        label: e.name, values: items.compactMap { bag.string($0, "\(e.name) value") }))
            default:
                if let v = bag.string(e.value, "\(e.name) value") {
                    out.append(DeliveryConfig.Matcher(label: e.name, values: [v]))
                }
            }
        }
        return out
    }

    mutating func silence(_ node: YAMLNode) -> DeliveryConfig.Silence? {
        guard
            let f = bag.fields(
                node, in: "a silence", known: ["match", "matchers", "starts", "ends", "comment"], required: ["ends"])
        else { return nil }
        var m = f["match"].map { matchers($0.value, "match") } ?? []
        m += f["matchers"].map { alertmanagerMatchers($0.value, "matchers") } ?? []
        if f["match"] == nil && f["matchers"] == nil {
            bag.error(
                .missingField, "a silence needs `matchers` or `match`", at: node.range,
                hint: #"matchers: ['rule="noisy"']"#)
        }
        let starts = f["starts"].flatMap { bag.timestamp($0.value, "starts") }
        let ends = f["ends"].flatMap { bag.timestamp($0.value, "ends") }
        let comment = f["comment"].flatMap { bag.string($0.value, "comment") }
        guard let ends, !m.isEmpty else { return nil }
        return DeliveryConfig.Silence(matchers: m, starts: starts, ends: ends, comment: comment)
    }

    mutating func inhibitRule(_ node: YAMLNode) -> DeliveryConfig.InhibitRule? {
        guard
            let f = bag.fields(
                node, in: "an inhibit rule",
                known: ["source", "target", "source_matchers", "target_matchers", "equal"], required: [])
        else { return nil }
        var s = f["source"].map { matchers($0.value, "source") } ?? []
        s += f["source_matchers"].map { alertmanagerMatchers($0.value, "source_matchers") } ?? []
        var t = f["target"].map { matchers($0.value, "target") } ?? []
        t += f["target_matchers"].map { alertmanagerMatchers($0.value, "target_matchers") } ?? []
        for (a, b) in [("source", "source_matchers"), ("target", "target_matchers")] where f[a] == nil && f[b] == nil {
            bag.error(.missingField, "an inhibit rule is missing the required key '\(a)' (or '\(b)')", at: node.range)
        }
        var equal: [String] = []
        if let e = f["equal"], let items = bag.sequence(e.value, "equal") {
            equal = items.compactMap { bag.string($0, "label") }
        }
        guard !s.isEmpty, !t.isEmpty else { return nil }
        return DeliveryConfig.InhibitRule(source: s, target: t, equal: equal)
    }

    // MARK: scalars

    mutating func httpURL(_ node: YAMLNode, _ place: String) -> String? {
        guard let s = bag.string(node, place) else { return nil }
        guard let u = URL(string: s), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = u.host, !host.isEmpty
        else {
            bag.error(
                .invalidURL, "\(place) '\(s)' is not an absolute http(s) URL", at: node.range,
                hint: "e.g. http://127.0.0.1:8080/hooks")
            return nil
        }
        return s
    }

    mutating func phone(_ node: YAMLNode) -> String? {
        guard let s = bag.string(node, "phone") else { return nil }
        let digits = s.dropFirst()
        guard s.hasPrefix("+"), (8...15).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            bag.error(
                .invalidPhone, "phone '\(s)' is not in E.164 form", at: node.range,
                hint: "a + and the country code, then the number, no spaces: +4915112345678")
            return nil
        }
        return s
    }
}
