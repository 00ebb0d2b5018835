import FleetRules
import FleetRulesMQTT
import Foundation

/// Publishes a notification's JSON (the webhook body) to an MQTT broker. With QoS 1 the
/// broker's PUBACK is the delivery; anything else (refused connection, timeout, a broker that
/// closes) is retried by the outbox like a webhook's 5xx, and a broker that refuses the
/// credentials is refused for good. The outbox message id is the idempotency key in the payload.
public struct MQTTSink: Sendable {
    public init() {}

    /// The outbox message for a notification: its topic resolved from the labels, its payload the webhook body.
    static func message(_ n: AlertNotification, mqtt: DeliveryConfig.MQTT, now: Double) -> OutboxMessage {
        let topic = mqtt.topic { label in
            if let v = n.groupLabels.first(where: { $0.0 == label })?.1 { return v }
            let values = Set(n.alerts.map { $0.labels[label] })
            guard values.count == 1, let only = values.first else { return nil }
            return only
        }
        return OutboxMessage(
            id: n.id, receiver: n.receiver, channel: .mqtt, target: topic,
            payload: n.json().serialized(pretty: false), nextAttempt: now, created: now, eventTime: n.time)
    }

    public func send(_ m: OutboxMessage, mqtt: DeliveryConfig.MQTT) async -> SendOutcome {
        let endpoint: MQTTEndpoint
        do {
            endpoint = try MQTTEndpoint(url: mqtt.url)
        } catch {
            return .refused(reason: "\(error)")
        }
        let publish = MQTTPacket.Publish(
            topic: m.target, payload: Array(m.payload.utf8), qos: mqtt.qos, retain: mqtt.retain)
        do {
            let client = "fleetrules-delivery-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            try await MQTTPublisher.publish([publish], to: endpoint, clientID: client, timeout: mqtt.timeout)
            return .delivered
        } catch let e as MQTTConnectionError where e.refusedForGood {
            return .refused(reason: e.description)
        } catch {
            return .retry(reason: "\(error)", after: nil)
        }
    }
}
