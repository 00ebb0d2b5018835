import FleetRulesMQTTCodec
import Testing

@Suite struct MQTTCodecTests {
    static let packets: [MQTTPacket] = [
        .connect(
            .init(
                clientID: "fleetrules-1", cleanSession: false, keepAlive: 30, username: "u", password: Array("p w".utf8)
            )),
        .connect(.init(clientID: "", cleanSession: true, keepAlive: 0)),
        .connack(sessionPresent: true, returnCode: 0),
        .publish(
            .init(topic: "fleet/a/b", payload: Array("{\"x\":1}".utf8), qos: 1, retain: true, dup: true, packetID: 7)),
        .publish(.init(topic: "t", payload: [], qos: 0)),
        .publish(.init(topic: "big", payload: [UInt8](repeating: 0x41, count: 200_000), qos: 1, packetID: 65535)),
        .puback(packetID: 513),
        .subscribe(packetID: 1, filters: [.init(filter: "fleet/+/telemetry", qos: 1), .init(filter: "#", qos: 0)]),
        .suback(packetID: 1, returnCodes: [1, 0x80]),
        .pingreq, .pingresp, .disconnect,
    ]

    @Test func everyPacketRoundTripsWholeAndByteByByte() throws {
        var stream: [UInt8] = []
        for p in Self.packets { try p.encode(into: &stream) }
        var whole = MQTTFrameReader()
        whole.append(stream)
        var decoded: [MQTTPacket] = []
        while let f = try whole.next() {
            if case .packet(let p) = f { decoded.append(p) }
        }
        #expect(decoded == Self.packets)
        #expect(whole.buffered == 0)

        var trickle = MQTTFrameReader()
        decoded = []
        for b in stream {
            trickle.append([b])
            while let f = try trickle.next() {
                if case .packet(let p) = f { decoded.append(p) }
            }
        }
        #expect(decoded == Self.packets)
    }

    /// The variable-length remaining length at its boundaries (1 to 4 bytes).
    @Test func remainingLengthBoundaries() throws {
        for size in [3, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
            // Topic "t" takes 3 bytes; the payload the rest.
            let payload = [UInt8](repeating: 1, count: size - 3)
            let bytes = try MQTTPacket.publish(.init(topic: "t", payload: payload)).encoded()
            let lengthBytes = size < 128 ? 1 : size < 16_384 ? 2 : size < 2_097_152 ? 3 : 4
            #expect(bytes.count == 1 + lengthBytes + size)
            var r = MQTTFrameReader()
            r.append(bytes)
            #expect(try r.next() == .packet(.publish(.init(topic: "t", payload: payload))))
        }
    }

    @Test func malformedPacketsAreErrorsNotCrashes() {
        let bad: [[UInt8]] = [
            [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],  // remaining length of five bytes
            [0x20, 0x03, 0, 0, 0],  // CONNACK of 3 bytes
            [0x20, 0x02, 0x02, 0],  // CONNACK with reserved flags
            [0x40, 0x01, 0],  // PUBACK of 1 byte
            [0x41, 0x02, 0, 1],  // PUBACK with flags
            [0x36, 0x05, 0, 1, 0x74, 0, 1],  // PUBLISH with QoS 3
            [0x32, 0x05, 0, 1, 0x74, 0, 0],  // PUBLISH with packet id 0
            [0x30, 0x03, 0, 9, 0x74],  // topic longer than the packet
            [0x30, 0x04, 0, 2, 0xC3, 0x28],  // topic not UTF-8
            [0x90, 0x02, 0, 1],  // SUBACK without codes
            [0x90, 0x03, 0, 1, 0x05],  // SUBACK with an unknown code
            [0xF0, 0x00],  // packet type 15
            [0x00, 0x00],  // packet type 0
            [0xD0, 0x01, 0],  // PINGRESP with a body
            [0x10, 0x02, 0, 0],  // CONNECT with an empty protocol name
        ]
        for bytes in bad {
            var r = MQTTFrameReader()
            r.append(bytes)
            #expect(throws: MQTTProtocolError.self, "\(bytes)") { _ = try r.next() }
        }
    }

    /// A PUBLISH over the limit comes out with its topic and packet id, the rest skipped as it
    /// arrives; the packet after it is read as usual.
    @Test func anOversizedPublishIsSkippedAcrossChunks() throws {
        let big = try MQTTPacket.publish(
            .init(topic: "fleet/x", payload: [UInt8](repeating: 0x7B, count: 100_000), qos: 1, packetID: 42)
        ).encoded()
        let next = try MQTTPacket.puback(packetID: 9).encoded()
        let stream = big + next
        var r = MQTTFrameReader(maxPacketSize: 1000)
        var frames: [MQTTFrameReader.Frame] = []
        var i = 0
        while i < stream.count {
            let n = min(4096, stream.count - i)
            r.append(stream[i..<i + n])
            i += n
            while let f = try r.next() { frames.append(f) }
            #expect(r.buffered < 10_000)
        }
        #expect(
            frames == [
                .oversized(topic: "fleet/x", qos: 1, packetID: 42, size: big.count - 4), .packet(.puback(packetID: 9)),
            ])
        // Oversized packets of other kinds are protocol errors.
        var s = MQTTFrameReader(maxPacketSize: 10)
        s.append(try MQTTPacket.suback(packetID: 1, returnCodes: [UInt8](repeating: 1, count: 20)).encoded())
        #expect(throws: MQTTProtocolError.self) { _ = try s.next() }
    }

    @Test func encodingRefusesWhatTheStandardForbids() {
        #expect(throws: MQTTProtocolError.self) {
            try MQTTPacket.publish(.init(topic: "t", payload: [], qos: 1)).encoded()
        }
        #expect(throws: MQTTProtocolError.self) {
            try MQTTPacket.publish(.init(topic: "t", payload: [], qos: 3)).encoded()
        }
        #expect(throws: MQTTProtocolError.self) { try MQTTPacket.subscribe(packetID: 1, filters: []).encoded() }
        #expect(throws: MQTTProtocolError.self) {
            try MQTTPacket.publish(.init(topic: String(repeating: "a", count: 70_000), payload: [])).encoded()
        }
    }

    @Test func brokerURLs() throws {
        let e = try MQTTEndpoint(url: "mqtts://fleet%40ops:s%3Acret@broker.example:8884")
        #expect(
            e == MQTTEndpoint(host: "broker.example", port: 8884, tls: true, username: "fleet@ops", password: "s:cret"))
        #expect(e.description == "mqtts://fleet@ops@broker.example:8884")
        #expect(try MQTTEndpoint(url: "mqtt://127.0.0.1").port == 1883)
        #expect(try MQTTEndpoint(url: "mqtts://h").port == 8883)
        for bad in ["http://h", "mqtt://", "mqtt://h:0", "mqtt://h/topic", "not a url"] {
            #expect(throws: MQTTEndpoint.URLError.self, "\(bad)") { try MQTTEndpoint(url: bad) }
        }
    }

    @Test func topicFilters() {
        #expect(MQTTTopic.matches(filter: "fleet/+/telemetry", topic: "fleet/a/telemetry"))
        #expect(!MQTTTopic.matches(filter: "fleet/+/telemetry", topic: "fleet/a/b/telemetry"))
        #expect(MQTTTopic.matches(filter: "fleet/#", topic: "fleet/a/b"))
        #expect(MQTTTopic.matches(filter: "fleet/#", topic: "fleet"))
        #expect(!MQTTTopic.matches(filter: "#", topic: "$SYS/broker"))
    }
}
