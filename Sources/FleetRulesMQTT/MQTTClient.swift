import FleetRulesMQTTCodec
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// A message the broker delivered: its PUBLISH packet, whose fields read as the message's own
/// (`message.topic`, `message.dup`, …), and whether it came over the size limit.
@dynamicMemberLookup
public struct MQTTMessage: Sendable {
    public var publish: MQTTPacket.Publish
    /// Its size in bytes when it was over the limit: the payload was dropped unread.
    public var oversize: Int?

    public init(_ publish: MQTTPacket.Publish, oversize: Int? = nil) {
        self.publish = publish
        self.oversize = oversize
    }

    public subscript<Value>(dynamicMember field: KeyPath<MQTTPacket.Publish, Value>) -> Value {
        publish[keyPath: field]
    }
}

/// One TCP (or TLS) connection to a broker, as an async channel of bytes.
public enum MQTTTransport {
    public typealias Channel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// TLS settings for `mqtts://`: the system's roots unless a CA file is given.
    public struct TLS: Sendable {
        public var caFile: String?
        public init(caFile: String? = nil) { self.caFile = caFile }
    }

    public static func connect(to endpoint: MQTTEndpoint, tls: TLS = TLS(), timeout: Duration = .seconds(10))
        async throws -> Channel
    {
        var sslContext: NIOSSLContext?
        if endpoint.tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let caFile = tls.caFile { configuration.trustRoots = .file(caFile) }
            sslContext = try NIOSSLContext(configuration: configuration)
        }
        let context = sslContext
        let host = endpoint.host
        let millis = Int64(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.milliseconds(max(1, millis)))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        let handler = try NIOSSLClientHandler(context: context, serverHostname: host)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    return try Channel(wrappingChannelSynchronously: channel)
                }
            }
    }
}

/// Why a connection ended.
public struct MQTTConnectionError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// The broker refused the credentials (CONNACK 4 or 5): trying again cannot help.
    public var refusedForGood: Bool
    public init(_ description: String, refusedForGood: Bool = false) {
        self.description = description
        self.refusedForGood = refusedForGood
    }
}

/// A subscriber that stays connected: it connects, subscribes at QoS 1 with a persistent
/// session, hands every batch of messages that arrived together to `deliver`, and acknowledges
/// them (PUBACK) only after `deliver` returned; when `deliver` throws they are not acknowledged
/// and the connection is dropped, so the broker delivers them again. Keep-alive pings go out
/// when the connection is quiet, and a broker silent for 1.5 keep-alive periods is dropped.
/// After any failure it reconnects with capped, jittered exponential backoff, until cancelled.
public struct MQTTSubscriber: Sendable {
    public struct Configuration: Sendable {
        public var endpoint: MQTTEndpoint
        public var tls = MQTTTransport.TLS()
        public var clientID: String
        public var filters: [String]
        /// false: the broker keeps the session and queues messages while the subscriber is away.
        public var cleanSession = false
        public var keepAlive: UInt16 = 30
        /// PUBLISH packets larger than this are acknowledged without being read (`oversize`).
        public var maxPacketSize = 16 << 20
        /// Reconnect delay: doubles from `initialBackoff` up to `maximumBackoff`, half of it random.
        public var initialBackoff = 0.1
        public var maximumBackoff = 30.0
        /// Connecting, and the broker's CONNACK and SUBACK, must come within this.
        public var handshakeTimeout = 10.0

        public init(endpoint: MQTTEndpoint, clientID: String, filters: [String]) {
            self.endpoint = endpoint
            self.clientID = clientID
            self.filters = filters
        }
    }

    public enum Event: Sendable {
        case connecting(attempt: Int)
        /// CONNACK and SUBACK received: messages flow.
        case connected(sessionPresent: Bool)
        case disconnected(reason: String, retryIn: Double)
    }

    public let configuration: Configuration

    public init(configuration: Configuration) { self.configuration = configuration }

    /// Runs until the task is cancelled; then it disconnects cleanly.
    public func run(
        deliver: @escaping @Sendable ([MQTTMessage]) async throws -> Void,
        onEvent: @escaping @Sendable (Event) -> Void = { _ in }
    ) async {
        var failures = 0
        while !Task.isCancelled {
            onEvent(.connecting(attempt: failures + 1))
            var reason = "closed"
            do {
                let channel = try await MQTTTransport.connect(
                    to: configuration.endpoint, tls: configuration.tls,
                    timeout: .milliseconds(Int64(configuration.handshakeTimeout * 1000)))
                let subscribed = try await session(channel, deliver: deliver, onEvent: onEvent)
                if subscribed { failures = 0 }
            } catch is CancellationError {
                break
            } catch {
                reason = "\(error)"
            }
            if Task.isCancelled { break }
            failures += 1
            let step = min(
                configuration.maximumBackoff, configuration.initialBackoff * pow(2, Double(min(failures - 1, 30))))
            let delay = step / 2 + step / 2 * Double.random(in: 0..<1)
            onEvent(.disconnected(reason: reason, retryIn: delay))
            do {
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            } catch {
                break
            }
        }
    }

    /// One connection; returns (or throws) when it ends. The result tells whether it got as far
    /// as a successful SUBACK (which resets the backoff).
    func session(
        _ channel: MQTTTransport.Channel, deliver: @escaping @Sendable ([MQTTMessage]) async throws -> Void,
        onEvent: @escaping @Sendable (Event) -> Void
    ) async throws -> Bool {
        let configuration = self.configuration
        let state = ConnectionClock()
        return try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Bool.self) { group in
                // Keep-alive and the watchdog.
                group.addTask {
                    let keepAlive = Double(configuration.keepAlive)
                    while true {
                        try await Task.sleep(nanoseconds: 200_000_000)
                        let (silent, quiet, subscribed) = state.snapshot()
                        let limit =
                            subscribed ? (keepAlive > 0 ? keepAlive * 1.5 : .infinity) : configuration.handshakeTimeout
                        if silent > limit {
                            throw MQTTConnectionError("the broker sent nothing for \(Int(silent))s")
                        }
                        if subscribed, keepAlive > 0, quiet >= keepAlive / 2 {
                            state.sent()
                            try await outbound.write(ByteBuffer(bytes: try MQTTPacket.pingreq.encoded()))
                        }
                    }
                }
                group.addTask {
                    try await Self.read(
                        inbound, outbound, configuration: configuration, state: state, deliver: deliver,
                        onEvent: onEvent)
                }
                defer { group.cancelAll() }
                return try await group.next() ?? false
            }
        }
    }

    static func read(
        _ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        configuration: Configuration, state: ConnectionClock,
        deliver: @escaping @Sendable ([MQTTMessage]) async throws -> Void, onEvent: @escaping @Sendable (Event) -> Void
    ) async throws -> Bool {
        let connect = MQTTPacket.connect(
            .init(
                clientID: configuration.clientID, cleanSession: configuration.cleanSession,
                keepAlive: configuration.keepAlive, username: configuration.endpoint.username,
                password: configuration.endpoint.password.map { Array($0.utf8) }))
        var hello = try connect.encoded()
        try MQTTPacket.subscribe(packetID: 1, filters: configuration.filters.map { .init(filter: $0, qos: 1) })
            .encode(into: &hello)
        state.sent()
        try await outbound.write(ByteBuffer(bytes: hello))
        var reader = MQTTFrameReader(maxPacketSize: configuration.maxPacketSize)
        var connected = false
        var sessionPresent = false
        var subscribed = false
        var iterator = inbound.makeAsyncIterator()
        while true {
            let next: ByteBuffer?
            do {
                next = try await iterator.next()
            } catch is CancellationError {
                break
            }
            guard let chunk = next else {
                if Task.isCancelled { break }
                throw MQTTConnectionError(
                    connected ? "the broker closed the connection" : "the broker closed the connection before CONNACK")
            }
            state.heard()
            reader.append(chunk.readableBytesView)
            var batch: [MQTTMessage] = []
            while let frame = try reader.next() {
                switch frame {
                case .packet(.connack(let present, let code)):
                    guard !connected else { throw MQTTProtocolError("a second CONNACK") }
                    guard code == 0 else {
                        throw MQTTConnectionError(
                            "the broker refused the connection: \(MQTTPacket.connackReason(code))")
                    }
                    connected = true
                    sessionPresent = present
                case .packet(.suback(_, let codes)):
                    guard connected else { throw MQTTProtocolError("SUBACK before CONNACK") }
                    if let bad = codes.firstIndex(of: MQTTPacket.subscriptionFailure) {
                        throw MQTTConnectionError(
                            "the broker refused the subscription to '\(configuration.filters[min(bad, configuration.filters.count - 1)])'"
                        )
                    }
                    subscribed = true
                    state.subscribed()
                    onEvent(.connected(sessionPresent: sessionPresent))
                case .packet(.publish(let p)):
                    guard connected else { throw MQTTProtocolError("PUBLISH before CONNACK") }
                    guard p.qos <= 1 else { throw MQTTProtocolError("PUBLISH at QoS \(p.qos) on a QoS 1 subscription") }
                    batch.append(
                        MQTTMessage(p))
                case .oversized(let topic, let qos, let id, let size):
                    guard connected else { throw MQTTProtocolError("PUBLISH before CONNACK") }
                    guard qos <= 1 else { throw MQTTProtocolError("PUBLISH at QoS \(qos) on a QoS 1 subscription") }
                    batch.append(
                        MQTTMessage(.init(topic: topic, payload: [], qos: qos, packetID: id), oversize: size))
                case .packet(.pingresp):
                    break
                case .packet(let other):
                    throw MQTTProtocolError("unexpected packet from the broker: \(Self.name(other))")
                }
            }
            guard !batch.isEmpty else { continue }
            try await deliver(batch)
            var acks: [UInt8] = []
            for m in batch where m.qos == 1 {
                if let id = m.packetID { try MQTTPacket.puback(packetID: id).encode(into: &acks) }
            }
            if !acks.isEmpty {
                state.sent()
                try await outbound.write(ByteBuffer(bytes: acks))
            }
        }
        // Cancelled: leave cleanly so the broker keeps the session without a will or an error.
        try? await outbound.write(ByteBuffer(bytes: try MQTTPacket.disconnect.encoded()))
        return subscribed
    }

    static func name(_ p: MQTTPacket) -> String {
        switch p {
        case .connect: "CONNECT"
        case .connack: "CONNACK"
        case .publish: "PUBLISH"
        case .puback: "PUBACK"
        case .subscribe: "SUBSCRIBE"
        case .suback: "SUBACK"
        case .pingreq: "PINGREQ"
        case .pingresp: "PINGRESP"
        case .disconnect: "DISCONNECT"
        }
    }
}

/// When the connection last heard from the broker and last sent to it.
final class ConnectionClock: Sendable {
    private struct State {
        var heard = ContinuousClock.now
        var sent = ContinuousClock.now
        var subscribed = false
    }
    private let box = NIOLockedValueBox(State())

    func heard() { box.withLockedValue { $0.heard = .now } }
    func sent() { box.withLockedValue { $0.sent = .now } }
    func subscribed() { box.withLockedValue { $0.subscribed = true } }

    /// Seconds since the broker last sent anything, since the client last sent anything, and whether it is subscribed.
    func snapshot() -> (silent: Double, quiet: Double, subscribed: Bool) {
        box.withLockedValue { s in
            let now = ContinuousClock.now
            return (Self.seconds(now - s.heard), Self.seconds(now - s.sent), s.subscribed)
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// Publishes messages over one short connection (clean session) and waits for the broker's
/// PUBACK of every QoS 1 one: what the delivery sink uses, and the benchmark's publisher.
public enum MQTTPublisher {
    public static func publish(
        _ messages: [MQTTPacket.Publish], to endpoint: MQTTEndpoint, clientID: String, tls: MQTTTransport.TLS = .init(),
        timeout: Double = 10
    ) async throws {
        let channel = try await MQTTTransport.connect(
            to: endpoint, tls: tls, timeout: .milliseconds(Int64(max(0.001, timeout) * 1000)))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(max(0.001, timeout) * 1e9))
                throw MQTTConnectionError("no PUBACK from the broker within \(timeout)s")
            }
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    let connect = MQTTPacket.connect(
                        .init(
                            clientID: clientID, cleanSession: true, keepAlive: 0, username: endpoint.username,
                            password: endpoint.password.map { Array($0.utf8) }))
                    try await outbound.write(ByteBuffer(bytes: try connect.encoded()))
                    var reader = MQTTFrameReader(maxPacketSize: 1 << 16)
                    var iterator = inbound.makeAsyncIterator()
                    var pending = Set<UInt16>()
                    var sent = false
                    while !sent || !pending.isEmpty {
                        guard let chunk = try await iterator.next() else {
                            throw MQTTConnectionError("the broker closed the connection")
                        }
                        reader.append(chunk.readableBytesView)
                        while let frame = try reader.next() {
                            switch frame {
                            case .packet(.connack(_, let code)):
                                guard code == 0 else {
                                    throw MQTTConnectionError(
                                        "the broker refused the connection: \(MQTTPacket.connackReason(code))",
                                        refusedForGood: code == 4 || code == 5)
                                }
                                var out: [UInt8] = []
                                var id: UInt16 = 0
                                for var m in messages {
                                    if m.qos > 0 {
                                        id = id == UInt16.max ? 1 : id + 1
                                        guard !pending.contains(id) else {
                                            throw MQTTConnectionError("more than 65,535 messages in flight")
                                        }
                                        m.packetID = id
                                        pending.insert(id)
                                    }
                                    try MQTTPacket.publish(m).encode(into: &out)
                                    if out.count > 1 << 20 {
                                        try await outbound.write(ByteBuffer(bytes: out))
                                        out.removeAll(keepingCapacity: true)
                                    }
                                }
                                if !out.isEmpty { try await outbound.write(ByteBuffer(bytes: out)) }
                                sent = true
                            case .packet(.puback(let id)):
                                pending.remove(id)
                            case .packet(.pingresp):
                                break
                            case .packet(let other):
                                throw MQTTProtocolError(
                                    "unexpected packet from the broker: \(MQTTSubscriber.name(other))")
                            case .oversized:
                                throw MQTTProtocolError("unexpected PUBLISH from the broker")
                            }
                        }
                    }
                    try await outbound.write(ByteBuffer(bytes: try MQTTPacket.disconnect.encoded()))
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }
}
