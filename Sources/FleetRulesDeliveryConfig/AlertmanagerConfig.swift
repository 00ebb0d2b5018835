import FleetRules
import Foundation

extension DeliveryConfig {
    /// Hands alerts to a Prometheus Alertmanager (`POST /api/v2/alerts`), which then notifies
    /// through its own receivers, silences and inhibitions.
    public struct Alertmanager: Sendable {
        /// The Alertmanager's base URL (`http://127.0.0.1:9093`, or with its route prefix).
        public var url: String
        public var timeout: Double
        /// A firing alert is sent again at least this often (event time), so that Alertmanager,
        /// which resolves an alert not heard of for its `resolve_timeout` (default 5m), keeps it active.
        public var resendInterval: Double
        /// The base URL of `fleetrules serve`: alerts link to its `/v1/devices/{id}` page.
        public var externalURL: String?

        public init(url: String, timeout: Double = 10, resendInterval: Double = 60, externalURL: String? = nil) {
            self.url = url
            self.timeout = timeout
            self.resendInterval = resendInterval
            self.externalURL = externalURL
        }

        /// Where alerts are posted.
        public var alertsURL: String { (url.hasSuffix("/") ? String(url.dropLast()) : url) + "/api/v2/alerts" }
    }
}

extension ConfigReader {
    mutating func alertmanagerReceiver(_ entry: YAMLEntry, others: [YAMLEntry?], name: String) -> DeliveryConfig
        .Receiver?
    {
        if let other = others.compactMap({ $0 }).first {
            bag.error(
                .invalidValue, "receiver '\(name)' has both `alertmanager` and `\(other.name)`", at: other.key.range,
                hint: "define two receivers and route to both with `continue: true`")
            return nil
        }
        guard
            let f = bag.fields(
                entry.value, in: "alertmanager of '\(name)'",
                known: ["url", "timeout", "resend_interval", "external_url"],
                required: ["url"])
        else { return nil }
        let url = f["url"].flatMap { httpURL($0.value, "alertmanager url") }
        var am = DeliveryConfig.Alertmanager(url: url ?? "")
        if let t = f["timeout"], let d = bag.duration(t.value, "timeout") { am.timeout = d }
        if let r = f["resend_interval"], let d = bag.duration(r.value, "resend_interval") { am.resendInterval = d }
        if let e = f["external_url"] {
            guard let u = httpURL(e.value, "external_url") else { return nil }
            am.externalURL = u
        }
        guard url != nil else { return nil }
        return DeliveryConfig.Receiver(name: name, channel: .alertmanager(am))
    }
}
