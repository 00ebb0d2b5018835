import ArgumentParser
import FleetRulesMQTT
import FleetRulesServer
import Foundation

/// `serve`'s live ingest from an MQTT broker (docs/SERVER.md, "MQTT ingest").
struct MQTTServeOptions: ParsableArguments {
    @Option(
        name: .customLong("mqtt"),
        help: "Subscribe to this broker: mqtt://[USER[:PASSWORD]@]HOST[:PORT] or mqtts://… (TLS).")
    var url: String?

    @Option(
        name: .customLong("mqtt-topic"),
        help: """
            Topic to ingest (repeatable); a {name} level matches any value and fills the reading's \
            field `name` when the payload lacks it, as in 'fleet/{site}/{device}/telemetry'.
            """)
    var topics: [String] = []

    @Option(
        name: .customLong("mqtt-client-id"),
        help: "Client id of the persistent session (default: derived from --state-dir, stable across restarts).")
    var clientID: String?

    @Option(name: .customLong("mqtt-password-file"), help: "File holding the broker password (instead of the URL's).")
    var passwordFile: String?

    @Option(name: .customLong("mqtt-ca-file"), help: "PEM file of the CAs that sign an mqtts:// broker's certificate.")
    var caFile: String?

    @Option(name: .customLong("mqtt-keep-alive"), help: "Keep-alive interval agreed with the broker, in seconds.")
    var keepAlive: Int = 30

    func validate() throws {
        guard let url else {
            if !topics.isEmpty || clientID != nil || passwordFile != nil || caFile != nil {
                throw ValidationError("the --mqtt-… options need --mqtt URL")
            }
            return
        }
        do {
            _ = try MQTTEndpoint(url: url)
        } catch {
            throw ValidationError("--mqtt \(error)")
        }
        if topics.isEmpty { throw ValidationError("--mqtt needs at least one --mqtt-topic") }
        for topic in topics {
            do {
                _ = try TopicTemplate(topic)
            } catch {
                throw ValidationError("--mqtt-topic \(error)")
            }
        }
        guard (0...65535).contains(keepAlive) else {
            throw ValidationError("--mqtt-keep-alive must be 0...65535 seconds")
        }
        if let clientID, clientID.isEmpty || clientID.utf8.count > 65_535 {
            throw ValidationError("--mqtt-client-id must be 1 to 65,535 bytes")
        }
    }

    /// The ingest's settings, nil without --mqtt.
    func settings() -> ServeConfiguration.MQTT? {
        guard let url, let endpoint = try? MQTTEndpoint(url: url) else { return nil }
        var settings = ServeConfiguration.MQTT(endpoint: endpoint, topics: topics.compactMap { try? TopicTemplate($0) })
        settings.clientID = clientID
        settings.passwordFile = passwordFile
        settings.tls = MQTTTransport.TLS(caFile: caFile)
        settings.keepAlive = UInt16(keepAlive)
        return settings
    }
}
