import FleetRules
import Foundation

extension DeliveryConfig {
    /// `mqtt: { url: mqtt://HOST:PORT, topic: "fleet/alerts/{site}/{rule}", qos: 1, retain: false }`:
    /// each notification (the webhook body) is published to the topic, its `{label}` levels
    /// filled from the notification's labels.
    public struct MQTT: Sendable {
        /// `mqtt://[user[:password]@]host[:port]` or `mqtts://…`.
        public var url: String
        public var topic: String
        /// 0 (at most once) or 1 (the broker's PUBACK is the delivery).
        public var qos: UInt8
        public var retain: Bool
        public var timeout: Double
    }
}

extension ConfigReader {
    mutating func mqttReceiver(_ entry: YAMLEntry, other: YAMLEntry?, name: String) -> DeliveryConfig.Receiver? {
        if let other {
            bag.error(
                .invalidValue, "receiver '\(name)' has both `mqtt` and `\(other.name)`",
                at: other.key.range, hint: "define two receivers and route to both with `continue: true`")
            return nil
        }
        return mqtt(entry.value, name: name).map { DeliveryConfig.Receiver(name: name, channel: .mqtt($0)) }
    }

    mutating func mqtt(_ node: YAMLNode, name: String) -> DeliveryConfig.MQTT? {
        guard
            let f = bag.fields(
                node, in: "mqtt of '\(name)'", known: ["url", "topic", "qos", "retain", "timeout"],
                required: ["url", "topic"])
        else { return nil }
        var url: String?
        if let u = f["url"], let s = bag.string(u.value, "mqtt url") {
            if Self.isBrokerURL(s) {
                url = s
            } else {
                bag.error(
                    .invalidURL, "mqtt url '\(s)' is not an mqtt:// or mqtts:// broker URL", at: u.value.range,
                    hint: "e.g. mqtt://127.0.0.1:1883")
            }
        }
        var topic: String?
        if let t = f["topic"], let s = bag.string(t.value, "mqtt topic") {
            if let problem = Self.topicProblem(s) {
                bag.error(
                    .invalidValue, "mqtt topic '\(s)' \(problem)", at: t.value.range,
                    hint: "e.g. fleet/alerts/{site}/{rule}")
            } else {
                topic = s
            }
        }
        var qos: UInt8 = 1
        if let q = f["qos"], let n = bag.integer(q.value, "qos", minimum: 0) {
            if n > 1 {
                bag.error(
                    .invalidValue, "qos must be 0 or 1", at: q.value.range,
                    hint: "1: the broker's PUBACK is the delivery")
            } else {
                qos = UInt8(n)
            }
        }
        var retain = false
        if let r = f["retain"], let b = bag.bool(r.value, "retain") { retain = b }
        var timeout = 10.0
        if let t = f["timeout"], let d = bag.duration(t.value, "timeout") { timeout = d }
        guard let url, let topic else { return nil }
        return DeliveryConfig.MQTT(url: url, topic: topic, qos: qos, retain: retain, timeout: timeout)
    }

    static func isBrokerURL(_ s: String) -> Bool {
        guard let c = URLComponents(string: s), let scheme = c.scheme?.lowercased(),
            scheme == "mqtt" || scheme == "mqtts",
            let host = c.host, !host.isEmpty, c.path.isEmpty || c.path == "/"
        else { return false }
        return c.port.map { (1...65535).contains($0) } ?? true
    }

    /// Why a topic cannot be published to, or nil: wildcards are for subscriptions only, and a
    /// `{label}` must be a whole level.
    static func topicProblem(_ topic: String) -> String? {
        if topic.isEmpty { return "is empty" }
        if topic.utf8.count > 65_535 { return "is over 65,535 bytes" }
        for level in topic.split(separator: "/", omittingEmptySubsequences: false) {
            if level.contains("+") || level.contains("#") { return "has a wildcard (+ or #); publish topics cannot" }
            let isLabel = level.hasPrefix("{") && level.hasSuffix("}") && level.count > 2
            if !isLabel && (level.contains("{") || level.contains("}")) {
                return "has a '{label}' that is not a whole level"
            }
        }
        return nil
    }
}

extension DeliveryConfig.MQTT {
    /// The topic for a notification: each `{label}` level becomes the label's value from
    /// `labels` (the group labels, then the labels all its alerts share), `_` when it has none;
    /// `/`, `+` and `#` in a value become `_`.
    public func topic(labels: (String) -> String?) -> String {
        topic.split(separator: "/", omittingEmptySubsequences: false).map { level -> String in
            guard level.hasPrefix("{") && level.hasSuffix("}") && level.count > 2 else { return String(level) }
            let value = labels(String(level.dropFirst().dropLast())) ?? ""
            let clean = String(value.map { $0 == "/" || $0 == "+" || $0 == "#" ? "_" : $0 })
            return clean.isEmpty ? "_" : clean
        }.joined(separator: "/")
    }
}
