/// MQTT 3.1.1 control packets (OASIS standard, protocol level 4): what the client sends and
/// receives, encoded to and decoded from bytes. No networking here, so the codec is tested (and
/// fuzzed) on its own; `MQTTFrameReader` cuts a byte stream into packets.
public enum MQTTPacket: Sendable, Equatable {
    case connect(Connect)
    case connack(sessionPresent: Bool, returnCode: UInt8)
    case publish(Publish)
    case puback(packetID: UInt16)
    case subscribe(packetID: UInt16, filters: [Subscription])
    case suback(packetID: UInt16, returnCodes: [UInt8])
    case pingreq
    case pingresp
    case disconnect

    public struct Connect: Sendable, Equatable {
        public var clientID: String
        /// false: the broker keeps the session (subscriptions and unacknowledged QoS 1 messages)
        /// while the client is away.
        public var cleanSession: Bool
        /// Seconds; 0 turns keep-alive off.
        public var keepAlive: UInt16
        public var username: String?
        public var password: [UInt8]?

        public init(
            clientID: String, cleanSession: Bool, keepAlive: UInt16, username: String? = nil, password: [UInt8]? = nil
        ) {
            self.clientID = clientID
            self.cleanSession = cleanSession
            self.keepAlive = keepAlive
            self.username = username
            self.password = password
        }
    }

    public struct Publish: Sendable, Equatable {
        public var topic: String
        public var payload: [UInt8]
        public var qos: UInt8
        public var retain: Bool
        /// A redelivery of a message the broker sent before without getting its PUBACK.
        public var dup: Bool
        /// Present for QoS 1 and 2.
        public var packetID: UInt16?

        public init(
            topic: String, payload: [UInt8], qos: UInt8 = 0, retain: Bool = false, dup: Bool = false,
            packetID: UInt16? = nil
        ) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
            self.dup = dup
            self.packetID = packetID
        }
    }

    public struct Subscription: Sendable, Equatable {
        public var filter: String
        public var qos: UInt8
        public init(filter: String, qos: UInt8) {
            self.filter = filter
            self.qos = qos
        }
    }

    /// SUBACK's return code for a refused subscription.
    public static let subscriptionFailure: UInt8 = 0x80

    /// CONNACK return codes 1...5, as the standard names them.
    public static func connackReason(_ code: UInt8) -> String {
        switch code {
        case 0: return "accepted"
        case 1: return "unacceptable protocol version"
        case 2: return "client identifier rejected"
        case 3: return "server unavailable"
        case 4: return "bad user name or password"
        case 5: return "not authorized"
        default: return "unknown return code \(code)"
        }
    }
}

/// A packet that breaks the standard: the connection that sent it cannot be trusted further.
public struct MQTTProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

// MARK: encoding

extension MQTTPacket {
    /// Largest remaining length the four-byte variable integer can express (256 MB).
    public static let maxRemainingLength = 268_435_455

    /// The packet's bytes (fixed header, variable header and payload).
    public func encoded() throws -> [UInt8] {
        var out: [UInt8] = []
        try encode(into: &out)
        return out
    }

    public func encode(into out: inout [UInt8]) throws {
        var body: [UInt8] = []
        let first: UInt8
        switch self {
        case .connect(let c):
            first = 0x10
            try Self.appendString("MQTT", to: &body)
            body.append(4)
            var flags: UInt8 = c.cleanSession ? 0x02 : 0
            if c.username != nil { flags |= 0x80 }
            if c.password != nil { flags |= 0x40 }
            body.append(flags)
            Self.appendUInt16(c.keepAlive, to: &body)
            try Self.appendString(c.clientID, to: &body)
            if let u = c.username { try Self.appendString(u, to: &body) }
            if let p = c.password { try Self.appendBinary(p, to: &body) }
        case .connack(let present, let code):
            first = 0x20
            body = [present ? 1 : 0, code]
        case .publish(let p):
            guard p.qos <= 2 else { throw MQTTProtocolError("QoS \(p.qos) does not exist") }
            first = 0x30 | (p.dup ? 0x08 : 0) | (p.qos << 1) | (p.retain ? 0x01 : 0)
            try Self.appendString(p.topic, to: &body)
            if p.qos > 0 {
                guard let id = p.packetID, id != 0 else {
                    throw MQTTProtocolError("a QoS \(p.qos) PUBLISH needs a packet id")
                }
                Self.appendUInt16(id, to: &body)
            }
            body.append(contentsOf: p.payload)
        case .puback(let id):
            first = 0x40
            Self.appendUInt16(id, to: &body)
        case .subscribe(let id, let filters):
            guard !filters.isEmpty else { throw MQTTProtocolError("SUBSCRIBE needs at least one topic filter") }
            first = 0x82
            Self.appendUInt16(id, to: &body)
            for f in filters {
                try Self.appendString(f.filter, to: &body)
                body.append(f.qos)
            }
        case .suback(let id, let codes):
            first = 0x90
            Self.appendUInt16(id, to: &body)
            body.append(contentsOf: codes)
        case .pingreq: first = 0xC0
        case .pingresp: first = 0xD0
        case .disconnect: first = 0xE0
        }
        guard body.count <= Self.maxRemainingLength else { throw MQTTProtocolError("the packet is over 256 MB") }
        out.append(first)
        var n = body.count
        repeat {
            var byte = UInt8(n & 0x7F)
            n >>= 7
            if n > 0 { byte |= 0x80 }
            out.append(byte)
        } while n > 0
        out.append(contentsOf: body)
    }

    static func appendUInt16(_ v: UInt16, to out: inout [UInt8]) {
        out.append(UInt8(v >> 8))
        out.append(UInt8(v & 0xFF))
    }

    static func appendString(_ s: String, to out: inout [UInt8]) throws {
        try appendBinary(Array(s.utf8), to: &out)
    }

    static func appendBinary(_ b: [UInt8], to out: inout [UInt8]) throws {
        guard b.count <= 65_535 else { throw MQTTProtocolError("a string field is over 65,535 bytes") }
        appendUInt16(UInt16(b.count), to: &out)
        out.append(contentsOf: b)
    }
}

// MARK: decoding

/// Cuts a byte stream into packets. Feed it what arrives (`append`), then take packets with
/// `next()` until it returns nil (more bytes needed). A PUBLISH over `maxPacketSize` is not
/// buffered: its topic and packet id are read, the rest is skipped as it arrives, and it comes
/// out as `.oversized` so the caller can acknowledge and count it.
public struct MQTTFrameReader: Sendable {
    public enum Frame: Sendable, Equatable {
        case packet(MQTTPacket)
        /// A PUBLISH whose packet (`size` bytes after the fixed header) is over the limit.
        case oversized(topic: String, qos: UInt8, packetID: UInt16?, size: Int)
    }

    public let maxPacketSize: Int
    private var buffer: [UInt8] = []
    private var start = 0
    /// Bytes of an oversized PUBLISH still to be dropped.
    private var skipping = 0

    public init(maxPacketSize: Int = MQTTPacket.maxRemainingLength) {
        self.maxPacketSize = min(max(maxPacketSize, 2), MQTTPacket.maxRemainingLength)
    }

    /// Bytes received but not yet returned as packets.
    public var buffered: Int { buffer.count - start }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        var bytes = bytes[...]
        if skipping > 0 {
            let n = min(skipping, bytes.count)
            skipping -= n
            bytes = bytes.dropFirst(n)
        }
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole packet, or nil when more bytes are needed; throws on a malformed one.
    public mutating func next() throws -> Frame? {
        let available = buffer.count - start
        guard available >= 2 else { return nil }
        // Remaining length: 1 to 4 bytes, 7 bits each, low first.
        var length = 0
        var multiplier = 1
        var i = start + 1
        while true {
            guard i < buffer.count else { return nil }
            let byte = buffer[i]
            length += Int(byte & 0x7F) * multiplier
            i += 1
            if byte & 0x80 == 0 { break }
            guard i - start - 1 < 4 else { throw MQTTProtocolError("the remaining length is longer than 4 bytes") }
            multiplier *= 128
        }
        let first = buffer[start]
        let headerEnd = i
        if length > maxPacketSize {
            guard first >> 4 == 3 else {
                throw MQTTProtocolError(
                    "a packet of type \(first >> 4) is \(length) bytes, over the limit of \(maxPacketSize)")
            }
            // Topic and packet id first (at most 2 + 65,535 + 2 bytes), then skip the rest.
            guard buffer.count - headerEnd >= 2 else { return nil }
            let topicLength = Int(buffer[headerEnd]) << 8 | Int(buffer[headerEnd + 1])
            let qos = (first >> 1) & 0x03
            let need = 2 + topicLength + (qos > 0 ? 2 : 0)
            guard need <= length else { throw MQTTProtocolError("PUBLISH topic runs past the packet") }
            guard buffer.count - headerEnd >= need else { return nil }
            var r = ByteReader(buffer, from: headerEnd, to: headerEnd + need)
            let topic = try r.string()
            let id = qos > 0 ? try r.uint16() : nil
            guard qos <= 2 else { throw MQTTProtocolError("PUBLISH with QoS 3") }
            let have = min(buffer.count - headerEnd, length)
            skipping = length - have
            start = headerEnd + have
            return .oversized(topic: topic, qos: qos, packetID: id, size: length)
        }
        guard buffer.count - headerEnd >= length else { return nil }
        let end = headerEnd + length
        let packet = try Self.decode(first: first, buffer, from: headerEnd, to: end)
        start = end
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        return .packet(packet)
    }

    /// One packet from its first byte and its body `bytes[from..<to]`.
    static func decode(first: UInt8, _ bytes: [UInt8], from: Int, to: Int) throws -> MQTTPacket {
        var r = ByteReader(bytes, from: from, to: to)
        let flags = first & 0x0F
        let length = to - from
        func expect(flags expected: UInt8, length expectedLength: Int?, _ name: String) throws {
            guard flags == expected else { throw MQTTProtocolError("\(name) with reserved flags \(flags)") }
            if let expectedLength, length != expectedLength {
                throw MQTTProtocolError("\(name) of \(length) bytes (expected \(expectedLength))")
            }
        }
        switch first >> 4 {
        case 1:
            try expect(flags: 0, length: nil, "CONNECT")
            guard try r.string() == "MQTT" else { throw MQTTProtocolError("CONNECT for another protocol") }
            let level = try r.byte()
            guard level == 4 else { throw MQTTProtocolError("CONNECT with protocol level \(level)") }
            let connectFlags = try r.byte()
            guard connectFlags & 0x01 == 0, connectFlags & 0x04 == 0 else {
                throw MQTTProtocolError("CONNECT with reserved or will flags")
            }
            let keepAlive = try r.uint16()
            let id = try r.string()
            let user = connectFlags & 0x80 != 0 ? try r.string() : nil
            let password = connectFlags & 0x40 != 0 ? try r.binary() : nil
            try r.end("CONNECT")
            return .connect(
                .init(
                    clientID: id, cleanSession: connectFlags & 0x02 != 0, keepAlive: keepAlive, username: user,
                    password: password))
        case 2:
            try expect(flags: 0, length: 2, "CONNACK")
            let ack = try r.byte()
            guard ack & 0xFE == 0 else { throw MQTTProtocolError("CONNACK with reserved acknowledge flags") }
            return .connack(sessionPresent: ack == 1, returnCode: try r.byte())
        case 3:
            let qos = (flags >> 1) & 0x03
            guard qos <= 2 else { throw MQTTProtocolError("PUBLISH with QoS 3") }
            let topic = try r.string()
            let id = qos > 0 ? try r.uint16() : nil
            if id == 0 { throw MQTTProtocolError("PUBLISH with packet id 0") }
            return .publish(
                .init(
                    topic: topic, payload: r.rest(), qos: qos, retain: flags & 0x01 != 0, dup: flags & 0x08 != 0,
                    packetID: id))
        case 4:
            try expect(flags: 0, length: 2, "PUBACK")
            return .puback(packetID: try r.uint16())
        case 8:
            try expect(flags: 2, length: nil, "SUBSCRIBE")
            let id = try r.uint16()
            var filters: [MQTTPacket.Subscription] = []
            while !r.atEnd {
                let filter = try r.string()
                let qos = try r.byte()
                guard qos <= 2 else { throw MQTTProtocolError("SUBSCRIBE with QoS \(qos)") }
                filters.append(.init(filter: filter, qos: qos))
            }
            guard !filters.isEmpty else { throw MQTTProtocolError("SUBSCRIBE without topic filters") }
            return .subscribe(packetID: id, filters: filters)
        case 9:
            try expect(flags: 0, length: nil, "SUBACK")
            let id = try r.uint16()
            let codes = r.rest()
            guard !codes.isEmpty else { throw MQTTProtocolError("SUBACK without return codes") }
            for c in codes where c > 2 && c != MQTTPacket.subscriptionFailure {
                throw MQTTProtocolError("SUBACK with return code \(c)")
            }
            return .suback(packetID: id, returnCodes: codes)
        case 12:
            try expect(flags: 0, length: 0, "PINGREQ")
            return .pingreq
        case 13:
            try expect(flags: 0, length: 0, "PINGRESP")
            return .pingresp
        case 14:
            try expect(flags: 0, length: 0, "DISCONNECT")
            return .disconnect
        case let type:
            throw MQTTProtocolError("unsupported packet type \(type)")
        }
    }
}

/// Bounds-checked reads inside one packet's body.
struct ByteReader {
    let bytes: [UInt8]
    var index: Int
    let end: Int

    init(_ bytes: [UInt8], from: Int, to: Int) {
        self.bytes = bytes
        index = from
        end = to
    }

    var atEnd: Bool { index >= end }

    mutating func byte() throws -> UInt8 {
        guard index < end else { throw MQTTProtocolError("the packet ends too early") }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func uint16() throws -> UInt16 {
        let hi = try byte()
        let lo = try byte()
        return UInt16(hi) << 8 | UInt16(lo)
    }

    mutating func binary() throws -> [UInt8] {
        let n = Int(try uint16())
        guard end - index >= n else { throw MQTTProtocolError("a string runs past the end of the packet") }
        defer { index += n }
        return Array(bytes[index..<index + n])
    }

    mutating func string() throws -> String {
        let b = try binary()
        guard let s = String(validating: b, as: UTF8.self), !s.utf8.contains(0) else {
            throw MQTTProtocolError("a string is not valid UTF-8")
        }
        return s
    }

    mutating func rest() -> [UInt8] {
        defer { index = end }
        return Array(bytes[index..<end])
    }

    func end(_ name: String) throws {
        guard index == end else { throw MQTTProtocolError("\(name) has \(end - index) bytes too many") }
    }
}

/// Topic names against subscription filters (`+` one level, `#` the rest).
public enum MQTTTopic {
    public static func matches(filter: String, topic: String) -> Bool {
        let f = filter.split(separator: "/", omittingEmptySubsequences: false)
        let t = topic.split(separator: "/", omittingEmptySubsequences: false)
        if topic.hasPrefix("$") && (f.first == "+" || f.first == "#") { return false }
        var i = 0
        while i < f.count {
            if f[i] == "#" { return true }
            guard i < t.count else { return false }
            if f[i] != "+" && f[i] != t[i] { return false }
            i += 1
        }
        return i == t.count
    }
}
